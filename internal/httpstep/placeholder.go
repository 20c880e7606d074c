package httpstep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Placeholders insert run-time values into url, params, headers and body:
//
//	{{context}}                       the whole task context
//	{{context.<path>}}                a value inside the task context
//	{{dependencies.<step>}}           the results of the parent step <step>
//	{{dependencies.<step>.<path>}}    a value inside them
//
// <path> is one or more names separated by dots; a name that is a whole
// number also indexes an array (items.0.sku). Spaces just inside the braces
// are allowed ({{ context.id }}). A literal "{{" is written "{{{{". Names
// may not contain ".", "{", "}" or white space.

const placeholderHint = `write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`

// placeholder is one parsed {{...}}.
type placeholder struct {
	raw  string   // as written, braces included
	root string   // "context" or "dependencies"
	path []string // after the root; for dependencies path[0] is the step
}

// part is a literal (ph == nil) or a placeholder of a text template.
type part struct {
	lit string
	ph  *placeholder
}

// text is a parsed string that may hold placeholders.
type text struct {
	parts []part
}

// parseText parses s. The error says what is wrong and how to fix it; the
// caller prefixes the key.
func parseText(s string) (text, error) {
	var t text
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{{{"):
			lit.WriteString("{{")
			i += 4
		case strings.HasPrefix(s[i:], "{{"):
			end := strings.Index(s[i+2:], "}}")
			if end < 0 {
				return text{}, fmt.Errorf("%q has no closing \"}}\": %s", excerpt(s[i:]), placeholderHint)
			}
			raw := s[i : i+2+end+2]
			ph, err := parsePlaceholder(raw)
			if err != nil {
				return text{}, err
			}
			flush()
			t.parts = append(t.parts, part{ph: ph})
			i += len(raw)
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

func parsePlaceholder(raw string) (*placeholder, error) {
	inner := strings.TrimSpace(raw[2 : len(raw)-2])
	segs := strings.Split(inner, ".")
	for _, seg := range segs {
		if seg == "" || strings.ContainsAny(seg, "{} \t\r\n") {
			return nil, fmt.Errorf("placeholder %q is malformed: %s", excerpt(raw), placeholderHint)
		}
	}
	switch segs[0] {
	case "context":
	case "dependencies":
		if len(segs) < 2 {
			return nil, fmt.Errorf("placeholder %q names no step: write {{dependencies.<step>}} or {{dependencies.<step>.<path>}}", raw)
		}
	default:
		return nil, fmt.Errorf("placeholder %q starts with %q: %s", excerpt(raw), segs[0], placeholderHint)
	}
	return &placeholder{raw: raw, root: segs[0], path: segs[1:]}, nil
}

func excerpt(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// static reports whether t has no placeholder.
func (t text) static() bool {
	for _, p := range t.parts {
		if p.ph != nil {
			return false
		}
	}
	return true
}

// single returns the placeholder when t is exactly one placeholder.
func (t text) single() *placeholder {
	if len(t.parts) == 1 {
		return t.parts[0].ph
	}
	return nil
}

// literal returns t's text when it is static.
func (t text) literal() string {
	var sb strings.Builder
	for _, p := range t.parts {
		sb.WriteString(p.lit)
	}
	return sb.String()
}

// render formats t with values; escape, when not nil, is applied to each
// inserted value.
func (t text) render(v *values, escape func(string) string) (string, error) {
	var sb strings.Builder
	for _, p := range t.parts {
		if p.ph == nil {
			sb.WriteString(p.lit)
			continue
		}
		val, err := v.lookup(p.ph)
		if err != nil {
			return "", err
		}
		s := formatText(val)
		if escape != nil {
			s = escape(s)
		}
		sb.WriteString(s)
	}
	return sb.String(), nil
}

// formatText formats a JSON value as text: a string as is, a number as
// written in the JSON, true/false, null as "", an object or array as
// compact JSON.
func formatText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// values are the run-time sources of placeholders, decoded lazily.
type values struct {
	step    string
	context json.RawMessage
	deps    map[string]json.RawMessage

	ctxDone bool
	ctx     any
	ctxErr  error
	decoded map[string]any
}

// MissingValueError is a placeholder without a value: permanent, since the
// task context and the results of finished parents do not change.
type MissingValueError struct {
	Placeholder string
	Step        string
	Reason      string
}

func (e *MissingValueError) Error() string {
	return fmt.Sprintf("placeholder %s of step %q has no value: %s", e.Placeholder, e.Step, e.Reason)
}

func (v *values) lookup(ph *placeholder) (any, error) {
	missing := func(reason string) error {
		return &MissingValueError{Placeholder: ph.raw, Step: v.step, Reason: reason}
	}
	var (
		cur  any
		path = ph.path
		what string
		has  = "has"
	)
	switch ph.root {
	case "context":
		if !v.ctxDone {
			v.ctxDone = true
			v.ctx, v.ctxErr = decodeJSON(v.context)
		}
		if v.ctxErr != nil {
			return nil, missing("the task context is not JSON: " + v.ctxErr.Error())
		}
		cur, what = v.ctx, "the task context"
	default:
		name := path[0]
		path = path[1:]
		raw, ok := v.deps[name]
		if !ok {
			names := slices.Sorted(maps.Keys(v.deps))
			return nil, missing(fmt.Sprintf("step %q is not a dependency of %q (dependencies: [%s]); add it to depends_on_steps", name, v.step, strings.Join(names, " ")))
		}
		if v.decoded == nil {
			v.decoded = map[string]any{}
		}
		d, ok := v.decoded[name]
		if !ok {
			var err error
			if d, err = decodeJSON(raw); err != nil {
				return nil, missing(fmt.Sprintf("the results of %q are not JSON: %v", name, err))
			}
			v.decoded[name] = d
		}
		cur, what, has = d, fmt.Sprintf("the results of %q", name), "have"
	}
	// parentIs names the value that path[i] was looked up in.
	parentIs := func(i int) string {
		switch {
		case i > 0:
			return strconv.Quote(strings.Join(path[:i], ".")) + " is"
		case has == "have":
			return "they are"
		}
		return "it is"
	}
	for i, seg := range path {
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, missing(fmt.Sprintf("%s %s no %q", what, has, strings.Join(path[:i+1], ".")))
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(x) {
				return nil, missing(fmt.Sprintf("%s %s no %q (%s an array of %d)", what, has, strings.Join(path[:i+1], "."), parentIs(i), len(x)))
			}
			cur = x[n]
		default:
			return nil, missing(fmt.Sprintf("%s %s no %q (%s not an object)", what, has, strings.Join(path[:i+1], "."), parentIs(i)))
		}
	}
	return cur, nil
}

// decodeJSON decodes raw keeping numbers exact (json.Number); empty is an
// empty object.
func decodeJSON(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return out, nil
}

// parseBody parses the strings of a handler_config.body (a JSON-like tree);
// key names the position in errors.
func parseBody(v any, key string) (any, error) {
	return mapTree(v, key, func(v any, key string) (any, error) {
		s, ok := v.(string)
		if !ok {
			return v, nil
		}
		t, err := parseText(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if t.static() {
			return t.literal(), nil
		}
		return t, nil
	})
}

// renderBody replaces the placeholders of a parsed body: a string that is
// exactly one placeholder becomes the value with its JSON type; a longer
// string gets the values formatted as text.
func renderBody(v any, vals *values) (any, error) {
	return mapTree(v, "", func(v any, _ string) (any, error) {
		t, ok := v.(text)
		if !ok {
			return v, nil
		}
		if ph := t.single(); ph != nil {
			return vals.lookup(ph)
		}
		return t.render(vals, nil)
	})
}

// mapTree returns a copy of the JSON-like tree v (mappings and lists) with
// leaf applied to every other value, mappings in key order; the first error
// stops it. key is the position of v, such as "handler_config.body", and
// grows to "handler_config.body.items[0]" for the values below it.
func mapTree(v any, key string, leaf func(v any, key string) (any, error)) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			r, err := mapTree(x[k], key+"."+k, leaf)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := mapTree(e, key+"["+strconv.Itoa(i)+"]", leaf)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return leaf(v, key)
	}
}

// Dependencies lists the parent steps that the placeholders of c name
// ({{dependencies.<step>...}}), sorted, once each.
func (c *Config) Dependencies() []string {
	seen := map[string]bool{}
	addText := func(t text) {
		for _, p := range t.parts {
			if p.ph != nil && p.ph.root == "dependencies" && len(p.ph.path) > 0 {
				seen[p.ph.path[0]] = true
			}
		}
	}
	addText(c.url)
	for _, h := range c.headers {
		addText(h.val)
	}
	for _, p := range c.params {
		addText(p.val)
	}
	_, _ = mapTree(c.body, "", func(v any, _ string) (any, error) {
		if t, ok := v.(text); ok {
			addText(t)
		}
		return v, nil
	})
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
