package taskerauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tasker-go/tasker/taskerauth"
)

// A Go program chains authenticators: here an authenticating reverse proxy
// (an OIDC proxy) in front of the server names the user in a header
// (NewTrustedProxy, what tasker serve --auth-proxy-* configures).
// The header is trusted only from the proxy's address; everyone else must
// bring a JWT. The chain tries the proxy header first.
func Example_trustedProxyHeader() {
	trusted, err := taskerauth.ParsePrefixes([]string{"10.0.0.5"}) // the proxy
	if err != nil {
		fmt.Println(err)
		return
	}
	proxy, err := taskerauth.NewTrustedProxy(taskerauth.TrustedProxyConfig{
		Header:      "X-Forwarded-User",
		Trusted:     trusted,
		Permissions: []string{"tasker.task:index", "tasker.task:show"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	jwtAuth, err := taskerauth.NewJWT(taskerauth.JWTConfig{Secret: []byte("an example secret of at least 32 bytes")})
	if err != nil {
		fmt.Println(err)
		return
	}
	authn := taskerauth.Chain(proxy, jwtAuth)
	authz := taskerauth.PermissionAuthorizer{}

	try := func(remote, user, permission string) {
		r := httptest.NewRequest(http.MethodGet, "/tasker/tasks", nil)
		r.RemoteAddr = remote
		if user != "" {
			r.Header.Set("X-Forwarded-User", user)
		}
		p, err := authn.Authenticate(r)
		switch {
		case errors.Is(err, taskerauth.ErrNoCredential), errors.Is(err, taskerauth.ErrInvalidCredential):
			fmt.Println("401:", err)
			return
		case err != nil:
			fmt.Println("500")
			return
		}
		if err := authz.Authorize(r.Context(), p, permission); err != nil {
			fmt.Println("403:", err)
			return
		}
		fmt.Printf("ok: %s (%s) may %s\n", p.Subject, p.Method, permission)
	}
	try("10.0.0.5:41000", "alice@example.com", "tasker.task:index")
	try("10.0.0.5:41000", "alice@example.com", "tasker.task:destroy")
	try("192.0.2.7:52000", "mallory", "tasker.task:index")
	try("192.0.2.7:52000", "", "tasker.task:index")
	// Output:
	// ok: alice@example.com (proxy) may tasker.task:index
	// 403: forbidden: the permission "tasker.task:destroy" is required
	// 401: the X-Forwarded-User header is accepted only from the trusted proxy; send requests through it, or authenticate with a bearer token
	// 401: no credential
}
