package taskerhttp

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
)

// TokenAuthenticator authenticates the API tokens of c's database
// (tasker token create, Client.CreateToken): a bearer value with the tkr_
// prefix is checked by Client.AuthenticateToken, at once for every process
// on the database (no cache). Other bearer values are left to the other
// authenticators of a chain (ErrNoCredential).
func TokenAuthenticator(c *tasker.Client) taskerauth.Authenticator {
	return taskerauth.AuthenticatorFunc(func(r *http.Request) (*taskerauth.Principal, error) {
		raw, err := taskerauth.BearerToken(r)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(raw, "tkr_") {
			return nil, taskerauth.ErrNoCredential
		}
		tok, err := c.AuthenticateToken(r.Context(), raw)
		if errors.Is(err, tasker.ErrTokenInvalid) {
			return nil, taskerauth.InvalidCredential(err.Error())
		}
		if err != nil {
			return nil, err
		}
		return &taskerauth.Principal{Subject: tok.Name, Method: taskerauth.MethodToken, Permissions: tok.Permissions}, nil
	})
}

// NewAuthenticator is the default Authenticator of tasker serve: a JWT (when
// jwt is not nil) or an API token of c's database. Authentication is
// required as soon as a JWT configuration is given or an API token exists
// in the database (revoked or expired ones count: revoking every token does
// not open the server again). Before that, a request without a credential
// is the anonymous principal with every permission, so that the
// two-command start works on a loopback address (serve refuses other
// addresses then, unless told --insecure-no-auth); a credential that is
// sent is still checked.
func NewAuthenticator(c *tasker.Client, jwt *taskerauth.JWT) taskerauth.Authenticator {
	return NewAuthenticatorWith(c, AuthenticatorOptions{JWT: jwt})
}

// AuthenticatorOptions are the credentials NewAuthenticatorWith accepts
// beside the API tokens of the database.
type AuthenticatorOptions struct {
	// JWT, when set, verifies bearer JWTs.
	JWT *taskerauth.JWT
	// Proxy, when set, believes the user named by a trusted proxy's header
	// (single sign-on in front of the dashboard and the API); requests
	// that come without it need a bearer credential.
	Proxy *taskerauth.TrustedProxy
}

// NewAuthenticatorWith is NewAuthenticator with more kinds of credential:
// a trusted proxy's user header first, then a JWT, then an API token.
// Authentication is required as soon as any of them is configured (or an
// API token exists).
func NewAuthenticatorWith(c *tasker.Client, opts AuthenticatorOptions) taskerauth.Authenticator {
	tokens := TokenAuthenticator(c)
	var chain []taskerauth.Authenticator
	if opts.Proxy != nil {
		chain = append(chain, opts.Proxy)
	}
	if opts.JWT != nil {
		chain = append(chain, opts.JWT)
	}
	if len(chain) > 0 {
		return taskerauth.Chain(append(chain, tokens)...)
	}
	return taskerauth.AuthenticatorFunc(func(r *http.Request) (*taskerauth.Principal, error) {
		p, err := tokens.Authenticate(r)
		if !errors.Is(err, taskerauth.ErrNoCredential) {
			return p, err
		}
		if _, berr := taskerauth.BearerToken(r); !errors.Is(berr, taskerauth.ErrNoCredential) {
			// A credential this server has no authenticator for.
			return nil, taskerauth.InvalidCredential("the bearer credential is not an API token of this server (tkr_...), and no JWT configuration is given")
		}
		exist, terr := c.TokensExist(r.Context())
		if terr != nil {
			return nil, terr
		}
		if exist {
			return nil, taskerauth.ErrNoCredential
		}
		return &taskerauth.Principal{Subject: "anonymous", Method: taskerauth.MethodAnonymous, Permissions: []string{taskerauth.Wildcard}}, nil
	})
}
