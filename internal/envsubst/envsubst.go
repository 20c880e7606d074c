package envsubst

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tasker-go/tasker/internal/jsontree"
	"github.com/tasker-go/tasker/internal/names"
)

// Problem is a reference Expand could not resolve.
type Problem struct {
	// Ref is the reference as written ("${API_KEY}"), cut to 40 bytes when
	// malformed.
	Ref string
	// Name is the variable's name; empty when the reference is malformed.
	Name string
}

// Malformed reports whether the reference is not ${NAME} or
// ${NAME:-default}; otherwise the variable is unset and has no default.
func (p Problem) Malformed() bool { return p.Name == "" }

// Problem texts and fixes, shared by every caller so that the load-time and
// run-time messages say the same.
const (
	MalformedFix = `write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`
)

// Describe returns the problem's text and its fix. It never holds a value.
func (p Problem) Describe() (problem, fix string) {
	if p.Malformed() {
		return fmt.Sprintf("malformed variable reference %q", p.Ref), MalformedFix
	}
	return fmt.Sprintf("environment variable %s is not set", p.Name),
		fmt.Sprintf("set %s or write ${%s:-default}", p.Name, p.Name)
}

// Has reports whether s holds a reference or an escaped "$${".
func Has(s string) bool { return strings.Contains(s, "${") }

// Expand replaces the references in s with values from lookup. An unset
// variable without a default expands to "" and is reported; a malformed
// reference is kept as written and reported (everything after an
// unterminated "${" is kept). changed tells whether s had anything to
// replace.
func Expand(s string, lookup func(string) (string, bool)) (out string, changed bool, problems []Problem) {
	if !Has(s) {
		return s, false, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			sb.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, Problem{Ref: short(s[i:])})
				sb.WriteString(s[i:])
				return sb.String(), true, problems
			}
			ref := s[i : i+2+end+1]
			name, def, hasDefault := strings.Cut(s[i+2:i+2+end], ":-")
			i += len(ref)
			if !names.EnvVar(name) {
				problems = append(problems, Problem{Ref: short(ref)})
				sb.WriteString(ref)
				continue
			}
			val, ok := lookup(name)
			switch {
			case hasDefault && val == "":
				val = def
			case !ok:
				problems = append(problems, Problem{Ref: ref, Name: name})
			}
			sb.WriteString(val)
		default:
			sb.WriteByte(s[i])
			i++
		}
	}
	return sb.String(), true, problems
}

// Value expands the strings of a decoded JSON or YAML value (maps, lists,
// strings; keys are left alone) and returns a copy: v itself is not
// modified. Problems are those of every string, in no particular order.
func Value(v any, lookup func(string) (string, bool)) (any, []Problem) {
	var problems []Problem
	out := jsontree.Map(v, func(v any) any {
		s, ok := v.(string)
		if !ok {
			return v
		}
		out, changed, ps := Expand(s, lookup)
		problems = append(problems, ps...)
		if !changed {
			return s
		}
		return out
	})
	return out, problems
}

// Map is Value for a mapping (a handler_config); nil stays nil.
func Map(m map[string]any, lookup func(string) (string, bool)) (map[string]any, []Problem) {
	if m == nil {
		return nil, nil
	}
	v, problems := Value(m, lookup)
	return v.(map[string]any), problems
}

// Contains reports whether any string of v holds a reference.
func Contains(v any) bool {
	switch x := v.(type) {
	case string:
		return Has(x)
	case map[string]any:
		for _, e := range x {
			if Contains(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if Contains(e) {
				return true
			}
		}
	}
	return false
}

func short(ref string) string {
	if len(ref) > 40 {
		return ref[:40] + "..."
	}
	return ref
}

// MinRedacted is the length under which a variable's value is not hidden
// by Redactor: replacing a short value ("3", "true") would garble unrelated
// text, and such a value is no secret.
const MinRedacted = 6

// Redactor returns a function that replaces, in a text, the value of every
// variable that v's strings refer to (as lookup gives it, when at least
// MinRedacted bytes long) by its reference "${NAME}": the form the stored
// handler_config shows. It returns nil when there is nothing to replace.
// Longer values are replaced first, so that a value holding another is
// replaced whole.
func Redactor(v any, lookup func(string) (string, bool)) func(string) string {
	seen := map[string]bool{}
	var pairs [][2]string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, name := range refNames(x) {
				if seen[name] {
					continue
				}
				seen[name] = true
				if val, ok := lookup(name); ok && len(val) >= MinRedacted {
					for _, form := range valueForms(val) { // as written, and inside JSON text
						pairs = append(pairs, [2]string{form, "${" + name + "}"})
					}
				}
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if len(pairs) == 0 {
		return nil
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	var args []string
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	r := strings.NewReplacer(args...)
	return r.Replace
}

// valueForms returns val and the forms it takes inside a JSON string (an
// error's details are JSON): escaped as encoding/json writes it, with and
// without HTML escaping.
func valueForms(val string) []string {
	forms := []string{val}
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(val) != nil {
			continue
		}
		quoted := strings.TrimSuffix(b.String(), "\n")
		if f := quoted[1 : len(quoted)-1]; !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// refNames returns the names of the well-formed references in s.
func refNames(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return out
			}
			name, _, _ := strings.Cut(s[i+2:i+2+end], ":-")
			if names.EnvVar(name) {
				out = append(out, name)
			}
			i += 2 + end + 1
		default:
			i++
		}
	}
	return out
}
