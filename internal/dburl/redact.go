package dburl

import (
	"net/url"
	"strings"
)

// mask replaces a password in a printed URL.
const mask = "xxxxx"

// Redact returns url fit to print: a password in its user info
// (postgres://user:secret@host) or in a query parameter (password=,
// sslpassword=) is replaced by "xxxxx". A URL that does not parse is
// returned as its scheme and "://xxxxx" when it may hold a password, since
// the point is never to print one.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if !strings.Contains(s, "@") && !strings.Contains(strings.ToLower(s), "password") {
			return s
		}
		scheme, _, ok := strings.Cut(s, "://")
		if !ok {
			return mask
		}
		return scheme + "://" + mask
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), mask)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q[k] = []string{mask}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
