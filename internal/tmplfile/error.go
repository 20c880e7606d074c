package tmplfile

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/internal/names"
)

// Error is one problem found in a template file.
type Error struct {
	// File is the path of the file ("" when parsed from memory).
	File string `json:"file,omitempty"`
	// Line is the 1-based line of the problem (0 when it has none).
	Line int `json:"line,omitempty"`
	// Step names the step at fault, if any.
	Step string `json:"step,omitempty"`
	// Field is the key at fault, if any, such as "version" or
	// "backoff.jitter".
	Field string `json:"field,omitempty"`
	// Problem says what is wrong.
	Problem string `json:"problem"`
	// Fix says how to put it right ("" when obvious).
	Fix string `json:"fix,omitempty"`
}

// Error formats the problem as
//
//	file:line: step "name": problem; fix
//
// The file is "<input>" when empty; the line, step and fix are left out
// when absent.
func (e *Error) Error() string {
	var sb strings.Builder
	if e.File != "" {
		sb.WriteString(e.File)
	} else {
		sb.WriteString("<input>")
	}
	if e.Line > 0 {
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(e.Line))
	}
	sb.WriteString(": ")
	if e.Step != "" {
		sb.WriteString("step ")
		sb.WriteString(strconv.Quote(e.Step))
		sb.WriteString(": ")
	}
	sb.WriteString(e.Problem)
	if e.Fix != "" {
		sb.WriteString("; ")
		sb.WriteString(e.Fix)
	}
	return sb.String()
}

// Errors returns the *Error values in err, which Parse and LoadDir return
// either alone or joined with errors.Join. Other errors are left out.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range joined.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	var te *Error
	if errors.As(err, &te) {
		return []*Error{te}
	}
	return nil
}

// suggest returns a fix for an unknown key: the closest valid key if one is
// close, otherwise the list of valid keys.
func suggest(key string, valid []string) string {
	if best := closest(key, valid); best != "" {
		return "did you mean " + strconv.Quote(best) + "?"
	}
	return "valid keys are: " + strings.Join(valid, ", ")
}

// closest returns the candidate nearest to word, or "" if none is close. A
// candidate is close when it is within a few edits (a third of the word's
// length, at least 2), when one of the two is a prefix of the other
// ("depends_on" for "depends_on_step"), or when they share a prefix of at
// least 4 bytes covering half the word ("steps" for "step_templates"). The
// fewest edits win, then the longest shared prefix. Case and "-" versus "_"
// are ignored.
func closest(word string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	w := norm(word)
	best, bestDist, bestPrefix := "", -1, 0
	for _, c := range candidates {
		n := norm(c)
		d := names.Distance(w, n, max(len(w), len(n))+1)
		cp := commonPrefix(w, n)
		near := d <= max(2, len(w)/3) ||
			(len(w) >= 3 && (cp == len(w) || cp == len(n))) ||
			(cp >= 4 && 2*cp >= len(w))
		if !near {
			continue
		}
		if bestDist < 0 || d < bestDist || (d == bestDist && cp > bestPrefix) {
			best, bestDist, bestPrefix = c, d, cp
		}
	}
	return best
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
