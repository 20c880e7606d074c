package taskerauth

import (
	"fmt"
	"strings"
)

// Wildcard is the permission that grants every permission.
const Wildcard = "*"

// Allows reports whether the granted permission covers the needed one.
// Permissions are "resource:action" strings (the original engine's names,
// such as "tasker.task:index"). A grant covers a need when it is
//   - "*" (everything),
//   - "resource:*" (every action of that resource), or
//   - exactly the needed permission.
//
// Nothing else matches: no prefix or partial-resource wildcards
// ("tasker.*" covers nothing), and a malformed grant or need (see
// ValidatePermission) never matches, nor does a need that is itself a
// wildcard. This is the only place where permissions are compared.
func Allows(granted, needed string) bool {
	if ValidatePermission(needed) != nil || needed == Wildcard || strings.HasSuffix(needed, ":"+Wildcard) {
		return false // a need names one action
	}
	if granted == Wildcard {
		return true
	}
	if ValidatePermission(granted) != nil {
		return false
	}
	if granted == needed {
		return true
	}
	resource, action, _ := strings.Cut(granted, ":")
	if action != Wildcard {
		return false
	}
	needRes, _, _ := strings.Cut(needed, ":")
	return needRes == resource
}

// AllowsAny reports whether one of granted covers needed.
func AllowsAny(granted []string, needed string) bool {
	for _, g := range granted {
		if Allows(g, needed) {
			return true
		}
	}
	return false
}

// maxPermissionLen bounds a permission's length; the original's longest
// name is about 30 bytes.
const maxPermissionLen = 200

// ValidatePermission reports whether s is a well-formed permission or grant:
// "*", or "resource:action" where resource and action are non-empty,
// contain only letters, digits and "._-", and action may be "*". The error
// names the fix. Use it for every grant a person types (token creation,
// role maps); Allows treats a malformed grant as granting nothing.
func ValidatePermission(s string) error {
	if s == Wildcard {
		return nil
	}
	const form = `use "resource:action" (for example "tasker.task:index"), "resource:*" or "*"`
	if s == "" {
		return fmt.Errorf("permission is empty: %s", form)
	}
	if len(s) > maxPermissionLen {
		return fmt.Errorf("permission is longer than %d bytes: %s", maxPermissionLen, form)
	}
	resource, action, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("permission %q has no colon: %s", s, form)
	}
	if resource == "" || !isNameWord(resource) {
		return fmt.Errorf("permission %q has an invalid resource %q (letters, digits and ._- only): %s", s, resource, form)
	}
	if action != Wildcard && (action == "" || !isNameWord(action)) {
		return fmt.Errorf("permission %q has an invalid action %q (letters, digits and ._-, or *): %s", s, action, form)
	}
	return nil
}

func isNameWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
