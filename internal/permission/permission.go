package permission

import (
	"fmt"
	"strings"
)

// Wildcard is the grant of every permission; as an action ("resource:*"),
// of every action of the resource.
const Wildcard = "*"

// MaxLen bounds a permission's length in bytes; the original's longest name
// is about 30.
const MaxLen = 128

// Form is how a permission is written, for the messages that name the fix.
const Form = `write "resource:action" (such as "tasker.task:index"), "resource:*" (such as "tasker.task:*") or "*" (everything)`

// Problem says what is wrong with s as a permission or grant, or "" when it
// is well formed: "*", or "resource:action" where the resource is one or
// more of the letters, digits and "._-", and the action is "*" or one or
// more of the letters, digits and "_-". The message starts with a verb
// ("is empty: ...", "has no colon: ...") so that a caller can put the
// permission or its field before it, and ends with the fix.
func Problem(s string) string {
	if s == Wildcard {
		return ""
	}
	switch {
	case s == "":
		return "is empty: " + Form
	case len(s) > MaxLen:
		return fmt.Sprintf("is longer than %d bytes: %s", MaxLen, Form)
	}
	resource, action, ok := strings.Cut(s, ":")
	if !ok {
		return "has no colon, so it is not resource:action: " + Form
	}
	if resource == "" || !wordOf(resource, true) {
		return fmt.Sprintf("has an invalid resource %q (one or more of the letters, digits and . _ -; no wildcard): %s", resource, Form)
	}
	if action != Wildcard && (action == "" || !wordOf(action, false)) {
		return fmt.Sprintf("has an invalid action %q (one or more of the letters, digits, _ and -, or \"*\" alone): %s", action, Form)
	}
	return ""
}

// Valid reports whether s is a well-formed permission or grant (Problem is
// "").
func Valid(s string) bool { return Problem(s) == "" }

// Split returns the resource and the action of a well-formed permission
// other than "*"; ok is false for "*" and for a malformed one.
func Split(s string) (resource, action string, ok bool) {
	if s == Wildcard || !Valid(s) {
		return "", "", false
	}
	return strings.Cut(s, ":")
}

// wordOf reports whether every byte of s is a letter, a digit, '_' or '-',
// or '.' when dot is true.
func wordOf(s string, dot bool) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && dot:
		default:
			return false
		}
	}
	return true
}
