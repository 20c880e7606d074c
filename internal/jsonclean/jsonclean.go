// Package jsonclean makes JSON and text storable in every database: the NUL
// character (U+0000) is valid JSON ("\u0000") and valid Go text, but
// PostgreSQL refuses it in jsonb and text columns (SQLSTATE 22P05 / 22021).
// A handler's result or error that held one would make the whole recording
// transaction fail again and again.
package jsonclean

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Replacement stands in for a NUL character.
const Replacement = "\uFFFD"

// String replaces NUL characters in s.
func String(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", Replacement)
}

// HasNUL reports whether a JSON document holds a NUL character in a string
// or an object key.
func HasNUL(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return false // the fast path: a NUL can only be written \u0000 in JSON
	}
	v, ok := decode(raw)
	return ok && hasNUL(v)
}

// JSON returns raw with NUL characters in strings and keys replaced. Raw
// that is not valid JSON, or has no NUL, is returned unchanged.
func JSON(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	v, ok := decode(raw)
	if !ok || !hasNUL(v) {
		return raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(clean(v)); err != nil {
		return raw
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func decode(raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func clean(v any) any {
	switch x := v.(type) {
	case string:
		return String(x)
	case []any:
		for i, e := range x {
			x[i] = clean(e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[String(k)] = clean(e)
		}
		return out
	}
	return v
}
