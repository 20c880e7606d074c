package taskerhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// heavyFields are the members list views leave out unless ?include= names
// them: a task's context, a step's inputs and results.
var heavyFields = []string{"context", "inputs", "results"}

// includeParam parses ?include= (a comma list of heavyFields; each route
// uses those its items have) into a set.
func includeParam(r *http.Request) (map[string]bool, error) {
	out := map[string]bool{}
	v := r.URL.Query().Get("include")
	if v == "" {
		return out, nil
	}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, h := range heavyFields {
			known = known || f == h
		}
		if !known {
			return nil, badParam("include", "%q is not a field that can be included; allowed: %s", f, strings.Join(heavyFields, ", "))
		}
		out[f] = true
	}
	return out, nil
}

// responseTooLarge is the 422 of an item whose JSON alone is over the
// byte limit of one answer.
func responseTooLarge(what string, size int, limit int64, fix string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "response_too_large",
		Message: fmt.Sprintf("%s is %d bytes as JSON, over the %d bytes one answer may hold; %s", what, size, limit, fix)}
}

// boundedItems encodes the items of a list answer one at a time (item(i)
// returns the i-th of n views, read only when needed) and keeps them while
// their total stays within limit bytes. It returns the encoded items and
// whether it stopped early. When the first item alone is over the limit, it
// returns over(i, size) instead.
func boundedItems(n int, limit int64, item func(i int) (any, error), over func(i, size int) error) ([]json.RawMessage, bool, error) {
	var out []json.RawMessage
	var total int64
	for i := range n {
		v, err := item(i)
		if err != nil {
			return nil, false, err
		}
		b, err := encodeCompact(v)
		if err != nil {
			return nil, false, err
		}
		if total+int64(len(b))+1 > limit {
			if i == 0 {
				return nil, false, over(i, len(b))
			}
			return out, true, nil
		}
		total += int64(len(b)) + 1
		out = append(out, b)
	}
	return out, false, nil
}

// encodeCompact encodes v as writeJSON does, without the final newline.
func encodeCompact(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeList writes {"<before>": head, "<key>": [items...]} (or the list
// first when key sorts before the other member, as writeJSON orders a
// map's keys), writing the items one by one instead of building the answer
// in memory again.
func writeList(w http.ResponseWriter, key string, items []json.RawMessage, other string, head any) error {
	h, err := encodeCompact(head)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	writeItems := func() {
		_, _ = fmt.Fprintf(w, "%q:[", key)
		for i, b := range items {
			if i > 0 {
				_, _ = w.Write([]byte{','})
			}
			_, _ = w.Write(b)
		}
		_, _ = w.Write([]byte{']'})
	}
	_, _ = w.Write([]byte{'{'})
	switch {
	case other == "":
		writeItems()
	case key < other:
		writeItems()
		_, _ = fmt.Fprintf(w, ",%q:%s", other, h)
	default:
		_, _ = fmt.Fprintf(w, "%q:%s,", other, h)
		writeItems()
	}
	_, _ = w.Write([]byte("}\n"))
	return nil
}
