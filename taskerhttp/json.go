package taskerhttp

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		fmt.Fprintf(&buf, `{"error":{"code":"internal","message":%q}}`+"\n", "encode response: "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decodeFields decodes a JSON object body into a decoder of its members,
// refusing members outside allowed (all of them named in one 400). When
// envelope is not empty, a body {"<envelope>": {...}} is unwrapped first.
func decodeFields(body []byte, envelope string, allowed ...string) (*fieldDecoder, error) {
	m, err := objectMembers(body, "")
	if err != nil {
		return nil, err
	}
	if inner, ok := m[envelope]; ok && envelope != "" {
		if len(m) > 1 {
			return nil, unknownFields(unknownMembers(m, []string{envelope}, ""),
				fmt.Sprintf("a body with %q may hold nothing else; put the fields inside it", envelope))
		}
		if m, err = objectMembers(inner, envelope); err != nil {
			return nil, err
		}
	}
	if unknown := unknownMembers(m, allowed, ""); len(unknown) > 0 {
		return nil, unknownFields(unknown, "allowed fields: "+strings.Join(allowed, ", "))
	}
	return &fieldDecoder{m: m}, nil
}

// unknownMembers returns the names of the members of m that allowed does
// not list, sorted, each after prefix.
func unknownMembers(m map[string]json.RawMessage, allowed []string, prefix string) []string {
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, prefix+k)
		}
	}
	slices.Sort(unknown)
	return unknown
}

func unknownFields(names []string, hint string) *apiError {
	fields := make(map[string]string, len(names))
	for _, n := range names {
		fields[n] = "unknown field"
	}
	return &apiError{Status: http.StatusBadRequest, Code: "unknown_fields",
		Message: fmt.Sprintf("unknown field(s) %s; %s", strings.Join(names, ", "), hint), Fields: fields}
}

func objectMembers(raw []byte, where string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		msg := "the request body is not valid JSON"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: msg}
	}
	if len(raw) == 0 || raw[0] != '{' {
		if where != "" {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json",
				Message: fmt.Sprintf("%q must be a JSON object", where), Fields: map[string]string{where: "must be a JSON object"}}
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "the request body must be a JSON object"}
	}
	if where == "" {
		if key, path := duplicateKey(raw); key != "" {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json",
				Message: fmt.Sprintf("the request body gives the key %q twice in one object%s: give each key once", key, path),
				Fields:  map[string]string{cmp.Or(strings.TrimPrefix(path, " at "), key): "duplicate key " + strconv.Quote(key)}}
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "the request body is not valid JSON: " + err.Error()}
	}
	return m, nil
}

// nothingToUpdate is the 400 of an update body that gives neither of the
// two fields it may change.
func nothingToUpdate(a, b string) error {
	fix := "give " + a + " and/or " + b
	return &apiError{Status: http.StatusBadRequest, Code: "validation_failed",
		Message: "nothing to update: " + fix, Fields: map[string]string{a: fix, b: fix}}
}

// readDecoded reads the required body of r and decodes it with decode.
func readDecoded[T any](s *server, w http.ResponseWriter, r *http.Request, decode func(body []byte) (T, error)) (T, error) {
	body, err := s.readBody(w, r, true)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(body)
}

// readIDDecoded parses the id in the path value name of r, then reads and
// decodes its required body as readDecoded does.
func readIDDecoded[T any](s *server, w http.ResponseWriter, r *http.Request, name string, decode func(body []byte) (T, error)) (int64, T, error) {
	id, err := pathID(r, name)
	if err != nil {
		var zero T
		return 0, zero, err
	}
	v, err := readDecoded(s, w, r, decode)
	return id, v, err
}

// readFields reads the required body of r as a flat object of the allowed
// members.
func (s *server) readFields(w http.ResponseWriter, r *http.Request, allowed ...string) (*fieldDecoder, error) {
	return readDecoded(s, w, r, func(body []byte) (*fieldDecoder, error) { return decodeFields(body, "", allowed...) })
}

// fieldDecoder decodes members of an object, collecting type errors by field.
type fieldDecoder struct {
	m      map[string]json.RawMessage
	fields map[string]string
}

// nested decodes raw, the object at where (such as "error" or
// "events[2]"), with a decoder of its own given to decode; a member outside
// allowed refuses the whole body with hint, and the problems of the others
// are d's, named where.member.
func (d *fieldDecoder) nested(raw json.RawMessage, where string, allowed []string, hint string, decode func(*fieldDecoder)) error {
	m, err := objectMembers(raw, where)
	if err != nil {
		return err
	}
	if unknown := unknownMembers(m, allowed, where+"."); len(unknown) > 0 {
		return unknownFields(unknown, hint)
	}
	nd := &fieldDecoder{m: m}
	decode(nd)
	for k, v := range nd.fields {
		d.problem(where+"."+k, v)
	}
	return nil
}

// array calls each with every element of the member name, when it is
// there: an array of objects, each named name[i]; anything else is the
// problem must.
func (d *fieldDecoder) array(name, must string, each func(where string, raw json.RawMessage) error) error {
	if !d.has(name) {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(d.m[name], &list); err != nil {
		d.problem(name, must)
	}
	for i, raw := range list {
		if err := each(fmt.Sprintf("%s[%d]", name, i), raw); err != nil {
			return err
		}
	}
	return nil
}

func (d *fieldDecoder) has(name string) bool {
	raw, ok := d.m[name]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

func (d *fieldDecoder) problem(name, msg string) {
	if d.fields == nil {
		d.fields = map[string]string{}
	}
	d.fields[name] = msg
}

func (d *fieldDecoder) str(name string) string {
	if !d.has(name) {
		return ""
	}
	var s string
	if err := json.Unmarshal(d.m[name], &s); err != nil {
		d.problem(name, "must be a string")
	}
	return s
}

func (d *fieldDecoder) strPtr(name string) *string {
	if !d.has(name) {
		return nil
	}
	s := d.str(name)
	return &s
}

func (d *fieldDecoder) strings(name string) ([]string, bool) {
	if !d.has(name) {
		_, present := d.m[name]
		if present {
			return []string{}, true
		}
		return nil, false
	}
	var s []string
	if err := json.Unmarshal(d.m[name], &s); err != nil {
		d.problem(name, "must be an array of strings")
		return nil, false
	}
	return nonNil(s), true
}

func (d *fieldDecoder) intPtr(name string) *int {
	return optional[int](d, name, "must be an integer")
}

func (d *fieldDecoder) boolPtr(name string) *bool {
	return optional[bool](d, name, "must be true or false")
}

// nonNil is s, or an empty slice for nil: a list answers [] in JSON, never
// null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// optional decodes the member name as a T (nil when absent or null); a
// value of another type is the problem must, and nil.
func optional[T any](d *fieldDecoder, name, must string) *T {
	if !d.has(name) {
		return nil
	}
	var v T
	if err := json.Unmarshal(d.m[name], &v); err != nil {
		d.problem(name, must)
		return nil
	}
	return &v
}

// object returns a member that must be a JSON object (nil when absent or null).
func (d *fieldDecoder) object(name string) json.RawMessage {
	if !d.has(name) {
		return nil
	}
	raw := bytes.TrimSpace(d.m[name])
	if raw[0] != '{' {
		d.problem(name, "must be a JSON object")
		return nil
	}
	return json.RawMessage(raw)
}

// raw returns a member as any JSON value (nil when absent or null).
func (d *fieldDecoder) raw(name string) json.RawMessage {
	if !d.has(name) {
		return nil
	}
	return json.RawMessage(bytes.TrimSpace(d.m[name]))
}

func (d *fieldDecoder) err() error {
	if len(d.fields) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(d.fields))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + d.fields[k]
	}
	return &apiError{Status: http.StatusBadRequest, Code: "validation_failed",
		Message: "invalid request body: " + strings.Join(parts, "; "), Fields: d.fields}
}

// pathID parses a positive integer path value.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam(name, "must be a positive integer, not %q", v)
	}
	return id, nil
}

// newTaskView and newStepView are the shared views (package apiview) of a
// task and of a step.
func newTaskView(t *tasker.Task, steps []*tasker.Step) *apiview.Task {
	return apiview.NewTask(t, steps)
}

func newStepView(s *tasker.Step, transitions []*tasker.Transition) *apiview.Step {
	return apiview.NewStep(s, transitions)
}

// duplicateKey returns the first key that an object of the valid JSON raw
// gives twice, with where that object is (" at task.context.a"; "" at the
// top), or "" when every key is given once. encoding/json would keep the
// last one silently, so a client could not tell which value was used.
func duplicateKey(raw []byte) (key, where string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		keys   map[string]bool // nil for an array
		path   string
		expect bool // an object expects a key next
	}
	var stack []*frame
	var path string // the path of the value being read
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					if top.path != "" {
						return k, " at " + top.path
					}
					return k, ""
				}
				top.keys[k] = true
				top.expect = false
				path = strings.TrimPrefix(top.path+"."+k, ".")
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, path: path, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return "", ""
		}
		if top := stack[len(stack)-1]; top.keys != nil {
			top.expect = true // a member's value ended
		} else {
			path = top.path
		}
	}
}
