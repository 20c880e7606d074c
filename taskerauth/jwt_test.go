package taskerauth_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerauth"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-only")

func newHSAuth(t *testing.T, clk *testdb.Clock, mod func(*taskerauth.JWTConfig)) *taskerauth.JWT {
	t.Helper()
	return newAuth(t, taskerauth.JWTConfig{Secret: testSecret, Now: clk.Now}, mod)
}

// newAuth returns the JWT authenticator of cfg changed by mod (if any).
func newAuth(t *testing.T, cfg taskerauth.JWTConfig, mod func(*taskerauth.JWTConfig)) *taskerauth.JWT {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	a, err := taskerauth.NewJWT(cfg)
	require.NoError(t, err)
	return a
}

// requireInvalid checks that token is refused as an invalid credential
// with a message containing want and not the token.
func requireInvalid(t *testing.T, a taskerauth.Authenticator, token, want string) {
	t.Helper()
	p, err := a.Authenticate(bearerRequest(token))
	require.Nil(t, p)
	require.ErrorIs(t, err, taskerauth.ErrInvalidCredential)
	require.NotErrorIs(t, err, taskerauth.ErrNoCredential)
	require.Contains(t, err.Error(), want)
	for _, part := range strings.Split(token, ".") {
		if len(part) > 4 {
			require.NotContains(t, err.Error(), part, "the message must not echo the token")
		}
	}
}

func TestJWTConfigErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cfg  taskerauth.JWTConfig
		want string
	}{
		"neither":          {taskerauth.JWTConfig{}, "set Secret"},
		"both":             {taskerauth.JWTConfig{Secret: testSecret, JWKSURL: "https://idp.example/jwks"}, "not both"},
		"short secret":     {taskerauth.JWTConfig{Secret: []byte("too-short-secret")}, "JWTConfig.Secret: the secret is 16 bytes; use at least 32"},
		"not a URL":        {taskerauth.JWTConfig{JWKSURL: "idp.example/jwks"}, "JWTConfig.JWKSURL"},
		"ftp":              {taskerauth.JWTConfig{JWKSURL: "ftp://idp.example/jwks"}, "not an http(s) URL"},
		"plain http":       {taskerauth.JWTConfig{JWKSURL: "http://idp.example/jwks"}, "use https"},
		"negative refresh": {taskerauth.JWTConfig{JWKSURL: "https://idp.example/jwks", JWKSRefresh: -time.Second}, "must not be negative"},
		"huge leeway":      {taskerauth.JWTConfig{Secret: testSecret, Leeway: time.Hour}, "JWTConfig.Leeway"},
		"bad role":         {taskerauth.JWTConfig{Secret: testSecret, Roles: map[string][]string{"ops": {"admin"}}}, `JWTConfig.Roles["ops"]: permission "admin" has no colon`},
		"empty role":       {taskerauth.JWTConfig{Secret: testSecret, Roles: map[string][]string{"": {"*"}}}, "role name is empty"},
	}
	for name, c := range cases {
		_, err := taskerauth.NewJWT(c.cfg)
		require.ErrorContains(t, err, c.want, name)
	}
	// Loopback http and explicitly insecure http are allowed.
	for _, cfg := range []taskerauth.JWTConfig{
		{JWKSURL: "http://127.0.0.1:8080/jwks"},
		{JWKSURL: "http://localhost/jwks"},
		{JWKSURL: "http://[::1]/jwks"},
		{JWKSURL: "http://keycloak:8080/jwks", InsecureJWKS: true},
	} {
		_, err := taskerauth.NewJWT(cfg)
		require.NoError(t, err, cfg.JWKSURL)
	}
}

func TestJWTHS256Accepts(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newHSAuth(t, clk, func(c *taskerauth.JWTConfig) {
		c.Roles = map[string][]string{
			"operator": {"tasker.task:*", "tasker.workflow_step:resolve"},
			"viewer":   {"tasker.task:index"},
		}
	})
	tok := sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(clk.Now(), jwt.MapClaims{
		"permissions": []string{"tasker.handler:index", "tasker.task:index"},
		"roles":       []string{"operator", "viewer", "unknown-role"},
	}))
	p, err := a.Authenticate(bearerRequest(tok))
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
	require.Equal(t, taskerauth.MethodJWT, p.Method)
	require.Equal(t, []string{"tasker.handler:index", "tasker.task:*", "tasker.task:index", "tasker.workflow_step:resolve"}, p.Permissions)
	require.True(t, p.Can("tasker.task:retry"))
	require.True(t, p.Can("tasker.workflow_step:resolve"))
	require.False(t, p.Can("tasker.workflow_step:destroy"))

	// Without permissions or roles: authenticated, allowed nothing.
	tok = sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(clk.Now(), nil))
	p, err = a.Authenticate(bearerRequest(tok))
	require.NoError(t, err)
	require.Empty(t, p.Permissions)
	require.ErrorIs(t, taskerauth.PermissionAuthorizer{}.Authorize(context.Background(), p, "tasker.task:index"), taskerauth.ErrForbidden)
}

func TestJWTHS256Rejects(t *testing.T) {
	t.Parallel()
	clk := newClock()
	now := clk.Now()
	a := newHSAuth(t, clk, func(c *taskerauth.JWTConfig) {
		c.Issuer = "https://idp.example"
		c.Audience = "tasker"
	})
	good := jwt.MapClaims{"iss": "https://idp.example", "aud": []string{"other", "tasker"}}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		c := claimsAt(now, good)
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, "", testSecret, c) }

	// The control: this one passes.
	_, err := a.Authenticate(bearerRequest(hs(with(nil))))
	require.NoError(t, err)

	otherSecret := []byte("another-secret-another-secret-another-secret")
	requireInvalid(t, a, sign(t, jwt.SigningMethodHS256, "", otherSecret, with(nil)), "signature is invalid")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})), "has expired")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), "not valid yet")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"exp": nil})), "lacks a required claim")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"sub": nil})), `no subject (claim "sub")`)
	requireInvalid(t, a, hs(with(jwt.MapClaims{"sub": strings.Repeat("x", 300)})), "at most 255 bytes")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"sub": "ali\nce"})), "printable")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"iss": "https://evil.example"})), `issuer (claim "iss") is not "https://idp.example"`)
	requireInvalid(t, a, hs(with(jwt.MapClaims{"iss": nil})), "lacks a required claim")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"aud": "someone-else"})), `audience (claim "aud") does not include "tasker"`)
	requireInvalid(t, a, hs(with(jwt.MapClaims{"aud": nil})), "lacks a required claim")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"permissions": "tasker.task:index"})), "malformed")
	requireInvalid(t, a, hs(with(jwt.MapClaims{"roles": map[string]any{"a": 1}})), "malformed")

	// Only HS256 is accepted with a secret.
	requireInvalid(t, a, sign(t, jwt.SigningMethodHS512, "", testSecret, with(nil)), "algorithm is not accepted (accepted: HS256)")
	requireInvalid(t, a, sign(t, jwt.SigningMethodRS256, "", newRSAKey(t), with(nil)), "algorithm is not accepted")
	// alg "none", with and without a trailing signature part.
	none := sign(t, jwt.SigningMethodNone, "", jwt.UnsafeAllowNoneSignatureType, with(nil))
	requireInvalid(t, a, none, "algorithm is not accepted")
	requireInvalid(t, a, none+"c2ln", "algorithm is not accepted")
	// A header naming an algorithm nobody knows.
	requireInvalid(t, a, b64([]byte(`{"alg":"XS999","typ":"JWT"}`))+"."+b64([]byte(`{"sub":"a"}`))+".c2ln", "algorithm is not accepted")
	// JWT-shaped garbage.
	requireInvalid(t, a, "aaaa.bbbb.cccc", "malformed")
	requireInvalid(t, a, b64([]byte(`{"alg":"HS256"}`))+".bm90LWpzb24.c2ln", "malformed")
}

func TestJWTLeeway(t *testing.T) {
	t.Parallel()
	clk := newClock()
	now := clk.Now()
	expiredRecently := sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(now, jwt.MapClaims{"exp": now.Add(-20 * time.Second).Unix()}))
	startsSoon := sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(now, jwt.MapClaims{"nbf": now.Add(20 * time.Second).Unix()}))

	// The default leeway (30 s) tolerates 20 s of skew.
	a := newHSAuth(t, clk, nil)
	for _, tok := range []string{expiredRecently, startsSoon} {
		_, err := a.Authenticate(bearerRequest(tok))
		require.NoError(t, err)
	}
	// A negative leeway means none.
	strict := newHSAuth(t, clk, func(c *taskerauth.JWTConfig) { c.Leeway = -1 })
	requireInvalid(t, strict, expiredRecently, "expired")
	requireInvalid(t, strict, startsSoon, "not valid yet")
	// 31 s later the default leeway is exhausted as well.
	clk.Advance(11 * time.Second)
	requireInvalid(t, a, expiredRecently, "expired")
}

// Bearer values that are not JWT-shaped are left to the next authenticator.
func TestJWTLeavesOtherCredentials(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newHSAuth(t, clk, nil)
	for _, v := range []string{"tkr_0123456789abcdef", "a.b", "a.b.c.d.e", ".b.c", "a..c", "a.b!.c"} {
		_, err := a.Authenticate(bearerRequest(v))
		require.ErrorIs(t, err, taskerauth.ErrNoCredential, v)
	}
	_, err := a.Authenticate(bearerRequest(""))
	require.ErrorIs(t, err, taskerauth.ErrNoCredential)

	// Chained with an API-token authenticator, each gets its own kind.
	tokens := taskerauth.AuthenticatorFunc(func(r *http.Request) (*taskerauth.Principal, error) {
		v, err := taskerauth.BearerToken(r)
		if err != nil {
			return nil, err
		}
		if v != "tkr_good" {
			return nil, taskerauth.InvalidCredential("unknown API token")
		}
		return &taskerauth.Principal{Subject: "ci", Method: taskerauth.MethodToken}, nil
	})
	chain := taskerauth.Chain(a, tokens)
	p, err := chain.Authenticate(bearerRequest("tkr_good"))
	require.NoError(t, err)
	require.Equal(t, taskerauth.MethodToken, p.Method)
	p, err = chain.Authenticate(bearerRequest(sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(clk.Now(), nil))))
	require.NoError(t, err)
	require.Equal(t, taskerauth.MethodJWT, p.Method)
	requireInvalid(t, chain, "tkr_bad", "unknown API token")
	// A bad JWT is refused by the JWT authenticator, not offered to the next.
	requireInvalid(t, chain, sign(t, jwt.SigningMethodHS256, "", []byte("another-secret-another-secret-another-secret"), claimsAt(clk.Now(), nil)), "signature")
}

func newJWKSAuth(t *testing.T, clk *testdb.Clock, url string, mod func(*taskerauth.JWTConfig)) *taskerauth.JWT {
	t.Helper()
	return newAuth(t, taskerauth.JWTConfig{JWKSURL: url, Now: clk.Now}, mod)
}

func TestJWKSAcceptsRSAAndEC(t *testing.T) {
	t.Parallel()
	clk := newClock()
	rsaKey, ecKey := newRSAKey(t), newECKey(t)
	srv := newJWKSServer(t,
		map[string]any{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},                        // ignored: symmetric
		map[string]any{"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}, // ignored: encryption
		rsaJWK("rsa-1", &rsaKey.PublicKey),
		ecJWK(t, "ec-1", &ecKey.PublicKey),
	)
	a := newJWKSAuth(t, clk, srv.URL, func(c *taskerauth.JWTConfig) { c.Issuer = "https://idp.example" })
	claims := claimsAt(clk.Now(), jwt.MapClaims{"iss": "https://idp.example", "permissions": []string{"*"}})

	for _, tok := range []string{
		sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims),
		sign(t, jwt.SigningMethodPS256, "rsa-1", rsaKey, claims),
		sign(t, jwt.SigningMethodRS512, "rsa-1", rsaKey, claims),
		sign(t, jwt.SigningMethodES256, "ec-1", ecKey, claims),
	} {
		p, err := a.Authenticate(bearerRequest(tok))
		require.NoError(t, err)
		require.Equal(t, "alice", p.Subject)
		require.True(t, p.Can("tasker.worker:work"))
	}
	require.Equal(t, 1, srv.count(), "the key set is fetched once and cached")

	// Each key accepts only the algorithms of its type.
	requireInvalid(t, a, sign(t, jwt.SigningMethodES256, "rsa-1", ecKey, claims), "algorithm is not accepted")
	requireInvalid(t, a, sign(t, jwt.SigningMethodRS256, "ec-1", rsaKey, claims), "algorithm is not accepted")
	// The classic confusion: an HS256 token whose "secret" is the public key.
	pub, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	requireInvalid(t, a, sign(t, jwt.SigningMethodHS256, "rsa-1", pub, claims), "algorithm is not accepted (accepted: RS256")
	requireInvalid(t, a, sign(t, jwt.SigningMethodHS256, "", testSecret, claims), "algorithm is not accepted")
	requireInvalid(t, a, sign(t, jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, claims), "algorithm is not accepted")
	// Signed by another key under a known kid.
	requireInvalid(t, a, sign(t, jwt.SigningMethodRS256, "rsa-1", newRSAKey(t), claims), "signature is invalid")
	// Issuer checked with JWKS too.
	requireInvalid(t, a, sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(clk.Now(), jwt.MapClaims{"iss": "x"})), "issuer")
	// Without kid: ambiguous when two keys could verify... here only the
	// EC key accepts ES256, so it is found.
	_, err = a.Authenticate(bearerRequest(sign(t, jwt.SigningMethodES256, "", ecKey, claims)))
	require.NoError(t, err)
}

func TestJWKSKeyAlgPinned(t *testing.T) {
	t.Parallel()
	clk := newClock()
	rsaKey := newRSAKey(t)
	jwk := rsaJWK("rsa-1", &rsaKey.PublicKey)
	jwk["alg"] = "RS256"
	srv := newJWKSServer(t, jwk)
	a := newJWKSAuth(t, clk, srv.URL, nil)
	claims := claimsAt(clk.Now(), nil)
	_, err := a.Authenticate(bearerRequest(sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims)))
	require.NoError(t, err)
	requireInvalid(t, a, sign(t, jwt.SigningMethodPS256, "rsa-1", rsaKey, claims), "algorithm is not accepted")
}

// rotation is a JWKS provider about to rotate from key k1 (served) to k2,
// and an authenticator on it.
type rotation struct {
	clk    *testdb.Clock
	k1, k2 *rsa.PrivateKey
	srv    *jwksServer
	a      *taskerauth.JWT
}

func newRotation(t *testing.T) *rotation {
	t.Helper()
	r := &rotation{clk: newClock(), k1: newRSAKey(t), k2: newRSAKey(t)}
	r.srv = newJWKSServer(t, rsaJWK("k1", &r.k1.PublicKey))
	r.a = newJWKSAuth(t, r.clk, r.srv.URL, nil)
	return r
}

// token returns a token valid now signed with k1 or k2 (kid "k1" or "k2").
func (r *rotation) token(t *testing.T, kid string) string {
	key := r.k1
	if kid == "k2" {
		key = r.k2
	}
	return sign(t, jwt.SigningMethodRS256, kid, key, claimsAt(r.clk.Now(), nil))
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	clk, srv, a, oldKey, newKey := r.clk, r.srv, r.a, r.k1, r.k2
	oldTok := func() string { return r.token(t, "k1") }
	newTok := func() string { return r.token(t, "k2") }

	require.NoError(t, a.Refresh(context.Background()))
	_, err := a.Authenticate(bearerRequest(oldTok()))
	require.NoError(t, err)
	require.Equal(t, 1, srv.count())

	// The provider rotates: k2 is published, k1 withdrawn.
	srv.setKeys(t, rsaJWK("k2", &newKey.PublicKey))
	// An unknown kid fetches the set again, but not sooner than
	// JWKSMinRefresh after the last fetch.
	requireInvalid(t, a, newTok(), `signing key (header "kid") is not in the key set`)
	require.Equal(t, 1, srv.count(), "rate-limited: no fetch within 30 s")
	clk.Advance(30 * time.Second)
	p, err := a.Authenticate(bearerRequest(newTok()))
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
	require.Equal(t, 2, srv.count())
	requireInvalid(t, a, oldTok(), "not in the key set")
	require.Equal(t, 2, srv.count(), "a flood of unknown kids does not flood the provider")

	// Periodic refresh: after JWKSRefresh the set is fetched again even
	// for a known kid, so a withdrawn key stops working.
	srv.setKeys(t, rsaJWK("k1", &oldKey.PublicKey))
	clk.Advance(4 * time.Minute)
	_, err = a.Authenticate(bearerRequest(newTok()))
	require.NoError(t, err, "within 5 minutes the cached key is used")
	require.Equal(t, 2, srv.count())
	clk.Advance(time.Minute)
	requireInvalid(t, a, newTok(), "not in the key set")
	require.Equal(t, 3, srv.count(), "the known kid k2 triggered the periodic fetch that withdrew it")
	_, err = a.Authenticate(bearerRequest(oldTok()))
	require.NoError(t, err)
	require.Equal(t, 3, srv.count())
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	clk := newClock()
	key := newRSAKey(t)
	tok := func() string { return sign(t, jwt.SigningMethodRS256, "k1", key, claimsAt(clk.Now(), nil)) }

	// Down from the start: refused, not a panic nor a server error.
	srv := newJWKSServer(t, rsaJWK("k1", &key.PublicKey))
	srv.setStatus(http.StatusInternalServerError)
	a := newJWKSAuth(t, clk, srv.URL, nil)
	requireInvalid(t, a, tok(), "signing keys are unavailable")
	require.ErrorContains(t, a.Refresh(context.Background()), "status 500")
	// Back up: after the rate limit the keys are fetched.
	srv.setStatus(http.StatusOK)
	requireInvalid(t, a, tok(), "unavailable")
	clk.Advance(30 * time.Second)
	_, err := a.Authenticate(bearerRequest(tok()))
	require.NoError(t, err)

	// Down later: the keys fetched before stay in use.
	srv.setStatus(http.StatusServiceUnavailable)
	clk.Advance(10 * time.Minute)
	_, err = a.Authenticate(bearerRequest(tok()))
	require.NoError(t, err)

	// An address where nobody listens.
	srv.Close()
	b := newJWKSAuth(t, clk, srv.URL, nil)
	requireInvalid(t, b, tok(), "signing keys are unavailable")
}

func TestJWKSBadDocuments(t *testing.T) {
	t.Parallel()
	clk := newClock()
	key := newRSAKey(t)
	srv := newJWKSServer(t)
	a := newJWKSAuth(t, clk, srv.URL, nil)
	weak, err := rsaGenerate(1024)
	require.NoError(t, err)
	good := rsaJWK("k1", &key.PublicKey)
	cases := map[string]string{
		`not json`:                   "not a JSON Web Key Set",
		`{"keys": []}`:               "no RSA or EC signing key",
		`{"keys": [{"kty": "OKP"}]}`: "no RSA or EC signing key",
		`{"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}`:                                                                    `"n" is not base64url`,
		`{"keys": [{"kty": "RSA", "n": "AQAB"}]}`:                                                                               `"e" is missing`,
		`{"keys": [{"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"}]}`:                                                   "must be 32 bytes",
		`{"keys": [{"kty": "EC", "crv": "P-256", "x": "` + b64(make([]byte, 32)) + `", "y": "` + b64(make([]byte, 32)) + `"}]}`: "EC point is invalid",
		`{"keys": [` + mustJSON(t, rsaJWK("weak", &weak.PublicKey)) + `]}`:                                                      "1024 bits",
		`{"keys": [` + strings.Repeat(mustJSON(t, good)+",", 100) + mustJSON(t, good) + `]}`:                                    "more than 100",
		`{"keys": "` + strings.Repeat("a", 1<<20) + `"}`:                                                                        "larger than",
	}
	for doc, want := range cases {
		srv.setDoc([]byte(doc))
		require.ErrorContains(t, a.Refresh(context.Background()), want, doc[:min(len(doc), 80)])
	}
	// One bad key does not stop the good ones.
	srv.setDoc([]byte(`{"keys": [{"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"}, ` + mustJSON(t, good) + `]}`))
	require.NoError(t, a.Refresh(context.Background()))
	_, err = a.Authenticate(bearerRequest(sign(t, jwt.SigningMethodRS256, "k1", key, claimsAt(clk.Now(), nil))))
	require.NoError(t, err)
	// Two keys under one kid are ambiguous.
	srv.setKeys(t, good, rsaJWK("k1", &newRSAKey(t).PublicKey))
	require.NoError(t, a.Refresh(context.Background()))
	requireInvalid(t, a, sign(t, jwt.SigningMethodRS256, "k1", key, claimsAt(clk.Now(), nil)), "not in the key set")
}

func TestInvalidCredentialUnwraps(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newHSAuth(t, clk, nil)
	now := clk.Now()
	tok := sign(t, jwt.SigningMethodHS256, "", testSecret, claimsAt(now, jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}))
	_, err := a.Authenticate(bearerRequest(tok))
	require.ErrorIs(t, err, taskerauth.ErrInvalidCredential)
	require.True(t, errors.Is(err, jwt.ErrTokenExpired), "the cause stays reachable for logs")
	require.Equal(t, "the token has expired", err.Error())
}

// Many requests at once while the key set rotates: every answer is an
// acceptance or an invalid credential, and the race detector stays quiet.
func TestJWKSConcurrentRotation(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	clk, srv, a, k1, k2 := r.clk, r.srv, r.a, r.k1, r.k2
	t1, t2 := r.token(t, "k1"), r.token(t, "k2")

	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if g == 0 && i == 25 {
					srv.setKeys(t, rsaJWK("k1", &k1.PublicKey), rsaJWK("k2", &k2.PublicKey))
					clk.Advance(time.Minute)
				}
				tok := t1
				if i%2 == 1 {
					tok = t2
				}
				if _, err := a.Authenticate(bearerRequest(tok)); err != nil && !errors.Is(err, taskerauth.ErrInvalidCredential) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// After the rotation both keys verify.
	for _, tok := range []string{t1, t2} {
		_, err := a.Authenticate(bearerRequest(tok))
		require.NoError(t, err)
	}
	require.LessOrEqual(t, srv.count(), 3, "fetches are rate-limited")
}
