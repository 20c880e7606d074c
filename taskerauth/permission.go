package taskerauth

import (
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/internal/permission"
)

// Wildcard is the permission that grants every permission.
const Wildcard = permission.Wildcard

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
// wildcard. Allows and Covers are the only comparisons of permissions.
func Allows(granted, needed string) bool {
	if !permission.Valid(needed) || needed == Wildcard || strings.HasSuffix(needed, ":"+Wildcard) {
		return false // a need names one action
	}
	if granted == Wildcard {
		return true
	}
	if !permission.Valid(granted) {
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

// Covers reports whether the permissions granted include everything grant
// grants, so that a holder of granted may hand grant on (an API token made
// through the API grants no more than its creator holds):
//   - "*" is covered by "*" only;
//   - "resource:*" by "*" or "resource:*";
//   - "resource:action" by whatever Allows it.
//
// A malformed grant is covered by nothing.
func Covers(granted []string, grant string) bool {
	if !permission.Valid(grant) {
		return false
	}
	if grant != Wildcard && !strings.HasSuffix(grant, ":"+Wildcard) {
		return AllowsAny(granted, grant)
	}
	for _, g := range granted {
		if g == Wildcard || g == grant {
			return true
		}
	}
	return false
}

// ValidatePermission reports whether s is a well-formed permission or grant:
// "*", or "resource:action" where the resource is letters, digits and
// "._-", and the action is "*" or letters, digits and "_-" (the one rule of
// internal/permission, which the API tokens of the root package follow
// too). The error names the fix. Use it for every grant a person types
// (token creation, role maps); Allows treats a malformed grant as granting
// nothing.
func ValidatePermission(s string) error {
	if msg := permission.Problem(s); msg != "" {
		return fmt.Errorf("permission %q %s", s, msg)
	}
	return nil
}
