package taskerauth

import (
	"net/http"
	"strings"
)

// MaxCredentialBytes bounds the Authorization header BearerToken accepts.
// Real JWTs are a few KiB at most; API tokens far less.
const MaxCredentialBytes = 8 << 10

// SessionCookie is the name of the dashboard's session cookie, which holds
// the credential a user signed in with (HttpOnly, SameSite=Strict).
const SessionCookie = "tasker_session"

// BearerToken returns the credential of the request's
// "Authorization: Bearer <credential>" header, or, when the request has no
// Authorization header, of its SessionCookie (the dashboard's requests).
// The scheme is matched without regard to case and surrounding blanks are
// trimmed.
//
// It returns ErrNoCredential when there is neither, when the header
// uses another scheme (so that an authenticator for that scheme may handle
// it), and an error wrapping ErrInvalidCredential when the header is
// repeated, longer than MaxCredentialBytes, has an empty credential, or
// holds anything but visible ASCII (no control bytes, no spaces inside
// the credential, no non-ASCII or non-UTF-8 bytes).
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			return parseBearer("Bearer " + c.Value)
		}
		return "", ErrNoCredential
	case 1:
	default:
		return "", InvalidCredential("the request has more than one Authorization header")
	}
	return parseBearer(values[0])
}

func parseBearer(h string) (string, error) {
	if len(h) > MaxCredentialBytes {
		return "", InvalidCredential("the Authorization header is too long")
	}
	h = strings.Trim(h, " \t")
	if h == "" {
		return "", ErrNoCredential
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Check the scheme name too: an API must not hand a malformed
		// header to a custom authenticator as "another scheme".
		for i := 0; i < len(scheme); i++ {
			if scheme[i] <= ' ' || scheme[i] >= 0x7f {
				return "", InvalidCredential("the Authorization header contains invalid characters")
			}
		}
		return "", ErrNoCredential
	}
	token := strings.Trim(rest, " \t")
	if token == "" {
		return "", InvalidCredential("the bearer credential is empty")
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "", InvalidCredential("the bearer credential contains invalid characters (only visible ASCII is allowed)")
		}
	}
	return token, nil
}
