package httpstep

import (
	"net/http"
	"slices"
	"strings"
)

// Redacted replaces a credential in the error details and messages stored
// on a step.
const Redacted = "[REDACTED]"

// minRedacted is the shortest value redacted: shorter ones would blank
// unrelated text of an answer, and are no credential anyway.
const minRedacted = 4

// CredentialHeader reports whether a header carries a credential, so that
// its value is never stored: Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, and names ending in -Key, -Token, -Secret or -Password
// (X-Api-Key, X-Auth-Token, ...), in any case.
func CredentialHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "apikey", "api_key":
		return true
	}
	for _, suffix := range []string{"-key", "-token", "-secret", "-password", "_key", "_token", "_secret", "_password"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// credentials returns the values of the credential headers of h, longest
// first: each whole value, the credential after an authorization scheme
// ("Bearer <token>") and each cookie's value, since an answer may echo any
// of them.
func credentials(h http.Header) []string {
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); len(v) >= minRedacted && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for name, vals := range h {
		if !CredentialHeader(name) {
			continue
		}
		lower := strings.ToLower(name)
		for _, v := range vals {
			add(v)
			switch lower {
			case "authorization", "proxy-authorization":
				if _, cred, ok := strings.Cut(v, " "); ok {
					add(cred)
				}
			case "cookie":
				for c := range strings.SplitSeq(v, ";") {
					if _, val, ok := strings.Cut(c, "="); ok {
						add(val)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// redact replaces every credential in s.
func redact(s string, creds []string) string {
	for _, c := range creds {
		s = strings.ReplaceAll(s, c, Redacted)
	}
	return s
}
