package taskerhttp_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerhttp"
)

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// The token routes: create answers the secret once (and it works at once),
// list never shows a secret, revoke makes the token refused at once; bad
// input is a 4xx naming the field.
func TestTokenRoutes(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		admin := bearer(e.token(t, "admin", "*"))

		res := e.do("POST", "/tasker/tokens", `{"name": "ci", "permissions": ["tasker.task:*", "tasker.handler:index"], "expires_in_seconds": 3600}`, admin...).
			want(t, http.StatusCreated)
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		body := res.json(t)
		secret := body["secret"].(string)
		require.Regexp(t, `^tkr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`, secret)
		tok := body["token"].(map[string]any)
		require.Equal(t, "ci", tok["name"])
		require.Equal(t, "active", tok["status"])
		require.Equal(t, "admin", tok["created_by"], "the creator is the calling credential")
		require.Equal(t, []any{"tasker.task:*", "tasker.handler:index"}, tok["permissions"])
		expires, err := time.Parse(time.RFC3339Nano, tok["expires_at"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(time.Hour), expires, time.Minute)
		e.do("GET", "/tasker/tasks", nil, bearer(secret)...).want(t, http.StatusOK)
		e.do("GET", "/tasker/tokens", nil, bearer(secret)...).want(t, http.StatusForbidden)

		res = e.do("GET", "/tasker/tokens", nil, admin...).want(t, http.StatusOK)
		require.NotContains(t, string(res.Body), secret[len(secret)-43:], "no secret in the list")
		require.NotContains(t, string(res.Body), "secret")
		toks := res.json(t)["tokens"].([]any)
		require.Len(t, toks, 2)
		require.Equal(t, "ci", toks[1].(map[string]any)["name"])

		// Bad input: 4xx naming the field.
		res = e.do("POST", "/tasker/tokens", `{"name": "ci", "permissions": ["*"]}`, admin...).want(t, http.StatusConflict)
		require.Equal(t, "conflict", res.errorCode(t))
		res = e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": ["tasker task"]}`, admin...).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "permissions[0]")
		res = e.do("POST", "/tasker/tokens", `{"name": "a b", "permissions": []}`, admin...).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "name")
		require.Contains(t, res.errorFields(t), "permissions")
		for _, bad := range []string{`-1`, `"1h"`, `1e12`, `null1`} {
			res = e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": ["*"], "expires_in_seconds": `+bad+`}`, admin...)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", bad, res.Body)
		}
		res = e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": ["*"], "secret": "mine"}`, admin...).want(t, http.StatusBadRequest)
		require.Equal(t, "unknown_fields", res.errorCode(t))

		// Revoke: refused at once; a second revocation finds nothing.
		res = e.do("DELETE", "/tasker/tokens/ci", nil, admin...).want(t, http.StatusOK)
		require.Equal(t, map[string]any{"revoked": true, "name": "ci"}, res.json(t))
		e.do("GET", "/tasker/tasks", nil, bearer(secret)...).want(t, http.StatusUnauthorized)
		e.do("DELETE", "/tasker/tokens/ci", nil, admin...).want(t, http.StatusNotFound)
		e.do("DELETE", "/tasker/tokens/a%20b", nil, admin...).want(t, http.StatusBadRequest)
		res = e.do("GET", "/tasker/tokens", nil, admin...).want(t, http.StatusOK)
		require.Equal(t, "revoked", res.json(t)["tokens"].([]any)[1].(map[string]any)["status"])
	})
}

// No escalation: a credential may create a token only with permissions it
// holds itself; a tasker.token:create holder without "*" cannot mint "*",
// a wildcard it lacks, or another resource's permission. A refusal stores
// nothing.
func TestTokenCreateNoEscalation(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-test"
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, secret)
		minter := bearer(e.token(t, "minter", "tasker.token:create", "tasker.task:*", "tasker.handler:index"))
		jwtMinter, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(),
			"permissions": []string{"tasker.token:create", "tasker.workflow_step:show"}}).SignedString([]byte(secret))
		require.NoError(t, err)

		for _, perms := range []string{`["*"]`, `["tasker.token:*"]`, `["tasker.task:index", "tasker.workflow_step:show"]`,
			`["tasker.handler:*"]`, `["tasker.token:create", "tasker.token:destroy"]`} {
			res := e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": `+perms+`}`, minter...).want(t, http.StatusForbidden)
			require.Equal(t, "forbidden", res.errorCode(t))
			require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "a token may grant only permissions its creator holds")
		}
		res := e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": ["*"]}`, "Authorization", "Bearer "+jwtMinter).want(t, http.StatusForbidden)
		require.Contains(t, res.errorFields(t), "permissions[0]")
		res = e.do("POST", "/tasker/tokens", `{"name": "x", "permissions": ["tasker.workflow_step:show", "tasker.task:index"]}`, "Authorization", "Bearer "+jwtMinter).
			want(t, http.StatusForbidden)
		require.Contains(t, res.errorFields(t), "permissions[1]")
		toks, err := e.client.Tokens(t.Context())
		require.NoError(t, err)
		require.Len(t, toks, 1, "nothing stored for a refused creation")

		// What it holds, it may give: an action, a wildcard it holds, the
		// right to create tokens itself.
		e.do("POST", "/tasker/tokens", `{"name": "reader", "permissions": ["tasker.task:index", "tasker.handler:index"]}`, minter...).want(t, http.StatusCreated)
		e.do("POST", "/tasker/tokens", `{"name": "tasks", "permissions": ["tasker.task:*", "tasker.token:create"]}`, minter...).want(t, http.StatusCreated)
		res = e.do("POST", "/tasker/tokens", `{"name": "bob", "permissions": ["tasker.workflow_step:show"]}`, "Authorization", "Bearer "+jwtMinter).
			want(t, http.StatusCreated)
		require.Equal(t, "alice", res.json(t)["token"].(map[string]any)["created_by"])
	})
}

// Before any credential exists, the loopback server is open: the anonymous
// caller holds everything and may create the first token, which turns
// authentication on. A server with Options.Authorize but no Authenticator
// cannot tell what the caller holds and makes no token.
func TestTokenCreateWithoutAuthenticator(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		res := e.do("POST", "/tasker/tokens", `{"name": "admin", "permissions": ["*"]}`).want(t, http.StatusCreated)
		admin := res.json(t)["secret"].(string)
		e.do("GET", "/tasker/tokens", nil).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/tokens", nil, bearer(admin)...).want(t, http.StatusOK)

		e = newEnvOpts(t, &taskerhttp.Options{Authorize: func(*http.Request, taskerhttp.Operation) error { return nil }})
		res = e.do("POST", "/tasker/tokens", `{"name": "admin", "permissions": ["*"]}`).want(t, http.StatusForbidden)
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "Options.Authenticator")
	})
}

// tokenFuzzSeeds are bodies of POST /tasker/tokens.
var tokenFuzzSeeds = []string{
	`{"name": "ci", "permissions": ["tasker.task:index"]}`,
	`{"name": "ci", "permissions": ["*"], "expires_in_seconds": 60}`,
	`{"name": "ci", "permissions": ["tasker.token:*"]}`,
	`{"name": "", "permissions": []}`, `{"name": 1, "permissions": "x"}`, `{"name": "a\u0000b", "permissions": ["\u00ff:\u00fe"]}`,
	`{"name": "x", "permissions": ["tasker.task:index"], "expires_in_seconds": 1e400}`,
	`{"name": "x", "permissions": [` + strings.Repeat(`"a:b",`, 70) + `"a:b"]}`, `{`, `[]`, `null`, ``,
}

// FuzzTokenRoutes sends arbitrary bodies to POST /tasker/tokens and names
// to DELETE /tasker/tokens/{name}, on SQLite and (when it is available)
// PostgreSQL: the answer is JSON, never a 5xx, and a token it creates never
// grants more than the caller (tasker.token:create and tasker.task:*) holds.
func FuzzTokenRoutes(f *testing.F) {
	for _, s := range tokenFuzzSeeds {
		f.Add(s, "ci")
	}
	f.Add(`{}`, "a%2Fb")
	f.Add(`{}`, "%ff%fe")
	f.Add(`{}`, strings.Repeat("n", 300))
	type target struct {
		h      http.Handler
		c      *tasker.Client
		caller string
	}
	var targets []target
	for _, c := range fuzzClients(f) {
		caller, _, err := c.CreateToken(f.Context(), tasker.TokenParams{Name: "caller", Permissions: []string{"tasker.token:*", "tasker.task:*"}})
		require.NoError(f, err)
		targets = append(targets, target{taskerhttp.NewHandler(c, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil)}), c, caller})
	}
	f.Fuzz(func(t *testing.T, body, name string) {
		for i, tg := range targets {
			for _, req := range []*http.Request{
				newFuzzRequest(t, "POST", "/tasker/tokens", body, tg.caller),
				newFuzzRequest(t, "DELETE", "/tasker/tokens/"+name, "", tg.caller),
			} {
				if req == nil || req.Method == "DELETE" && strings.Contains(req.URL.Path, "caller") {
					// A revoked caller would only be refused from then on.
					continue
				}
				code, answer := serveFuzz(tg.h, req)
				if code >= 500 || !strings.HasPrefix(answer.Get("Content-Type"), "application/json") {
					t.Fatalf("target %d: %s %s with %q: %d %s", i, req.Method, req.URL.Path, body, code, answer.Get("Content-Type"))
				}
			}
			toks, err := tg.c.Tokens(t.Context())
			require.NoError(t, err)
			for _, tok := range toks {
				for _, p := range tok.Permissions {
					require.True(t, taskerauth.Covers([]string{"tasker.token:*", "tasker.task:*"}, p), "token %s grants %s", tok.Name, p)
				}
			}
		}
	})
}

// newFuzzRequest is a request with a JSON body and the bearer credential,
// or nil when the path is not a valid request target.
func newFuzzRequest(t *testing.T, method, path, body, credential string) *http.Request {
	req, err := http.NewRequestWithContext(t.Context(), method, "http://test"+path, strings.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", fmt.Sprintf("Bearer %s", credential))
	return req
}
