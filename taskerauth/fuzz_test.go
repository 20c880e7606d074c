package taskerauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tasker-go/tasker/taskerauth"
)

// Whatever the Authorization header holds, the authenticators answer a
// principal, "no credential" or "invalid credential": never a panic, never
// another error, never the credential in the message.
func FuzzAuthenticate(f *testing.F) {
	clk := newClock()
	now := clk.Now()
	hsAuth, err := taskerauth.NewJWT(taskerauth.JWTConfig{Secret: testSecret, Now: clk.Now,
		Roles: map[string][]string{"ops": {"tasker.task:*"}}})
	if err != nil {
		f.Fatal(err)
	}
	rsaKey := newRSAKey(f)
	ecKey := newECKey(f)
	doc := mustJSON(f, map[string]any{"keys": []any{
		rsaJWK("rsa", &rsaKey.PublicKey), ecJWK(f, "ec", &ecKey.PublicKey),
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(doc))
	}))
	defer srv.Close()
	jwksAuth, err := taskerauth.NewJWT(taskerauth.JWTConfig{JWKSURL: srv.URL, Now: clk.Now, JWKSRefresh: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	if err := jwksAuth.Refresh(f.Context()); err != nil {
		f.Fatal(err)
	}
	// Checked after the first fetch: the clock never moves, so no other
	// fetch happens while fuzzing.
	auths := []taskerauth.Authenticator{hsAuth, jwksAuth, taskerauth.Chain(jwksAuth, hsAuth)}

	signed := func(m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	claims := claimsAt(now, jwt.MapClaims{"permissions": []string{"*"}, "roles": []string{"ops"}})
	for _, seed := range []string{
		"",
		"Bearer",
		"Bearer " + signed(jwt.SigningMethodHS256, "", testSecret, claims),
		"Bearer " + signed(jwt.SigningMethodRS256, "rsa", rsaKey, claims),
		"Bearer " + signed(jwt.SigningMethodES256, "ec", ecKey, claims),
		"Bearer " + signed(jwt.SigningMethodNone, "", jwt.UnsafeAllowNoneSignatureType, claims),
		"bearer a.b.c",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
		"Basic dXNlcjpwYXNz",
		"Bearer tkr_abc",
		"Bearer \xff\xfe.\x00.x",
		"Bearer " + strings.Repeat("A", 9000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		if _, err := taskerauth.BearerToken(r); err != nil && !errors.Is(err, taskerauth.ErrNoCredential) && !errors.Is(err, taskerauth.ErrInvalidCredential) {
			t.Fatalf("BearerToken(%q): unexpected error class %v", header, err)
		}
		for _, a := range auths {
			p, err := a.Authenticate(r)
			switch {
			case err == nil:
				if p == nil || p.Subject == "" || p.Method != taskerauth.MethodJWT {
					t.Fatalf("accepted %q with principal %+v", header, p)
				}
			case errors.Is(err, taskerauth.ErrNoCredential):
			case errors.Is(err, taskerauth.ErrInvalidCredential):
				if _, cred, ok := strings.Cut(header, " "); ok && len(cred) >= 16 && strings.Contains(err.Error(), cred) {
					t.Fatalf("the message %q echoes the credential", err)
				}
			default:
				t.Fatalf("Authenticate(%q): unexpected error class %v", header, err)
			}
		}
	})
}
