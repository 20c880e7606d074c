package taskerhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerhttp"
)

// Options.PublicOperations opens the listed read-only operations (a
// scraper needs no token) and nothing else; a credential is still needed
// everywhere else, and an operation that reads task data or changes
// something cannot be opened.
func TestPublicOperations(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnvFor(t, func(c *tasker.Client) *taskerhttp.Options {
			return &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil),
				PublicOperations: []taskerhttp.Operation{taskerhttp.OpHealthStatusIndex, taskerhttp.OpAnalyticsIndex}}
		})
		e.token(t, "someone", "tasker.task:index") // authentication is on
		e.do("GET", "/tasker/health/status", nil).want(t, http.StatusOK)
		e.do("GET", "/tasker/analytics/performance", nil).want(t, http.StatusOK)
		e.do("GET", "/tasker/analytics/bottlenecks", nil).want(t, http.StatusOK)
		e.do("GET", "/tasker/openapi.json", nil).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/handlers", nil).want(t, http.StatusUnauthorized)
	})
	for _, op := range taskerhttp.PublicOperationsAllowed {
		require.NoError(t, taskerhttp.ValidPublicOperation(op))
	}
	for _, rt := range taskerhttp.Routes() {
		if rt.Method != http.MethodGet {
			require.Error(t, taskerhttp.ValidPublicOperation(rt.Operation), "%s %s changes something", rt.Method, rt.Pattern)
		}
	}
	err := taskerhttp.ValidPublicOperation(taskerhttp.OpTaskIndex)
	require.ErrorContains(t, err, `"tasker.task:index" cannot be public: only tasker.health_status:index, tasker.metrics:index, tasker.analytics:index, tasker.openapi:show can`)
	require.PanicsWithValue(t, "taskerhttp: Options.PublicOperations: "+err.Error(), func() {
		taskerhttp.NewHandler(nil, &taskerhttp.Options{PublicOperations: []taskerhttp.Operation{taskerhttp.OpTaskIndex}})
	})
}

// headerAuthenticator trusts a proxy's X-User header (what a Go program
// behind an authenticating proxy would plug in).
type headerAuthenticator struct{}

func (headerAuthenticator) Authenticate(r *http.Request) (*taskerauth.Principal, error) {
	user := r.Header.Get("X-User")
	if user == "" {
		return nil, fmt.Errorf("%w: no X-User header", taskerauth.ErrNoCredential)
	}
	return &taskerauth.Principal{Subject: user, Method: "proxy"}, nil
}

// readOnlyAuthorizer lets anyone authenticated read, and only "admin"
// change anything.
type readOnlyAuthorizer struct{}

func (readOnlyAuthorizer) Authorize(_ context.Context, p *taskerauth.Principal, op string) error {
	if p.Subject == "admin" || op == string(taskerhttp.OpTaskIndex) || op == string(taskerhttp.OpTaskShow) {
		return nil
	}
	return fmt.Errorf("%w: %s may not %s", taskerauth.ErrForbidden, p.Subject, op)
}

// A program's own Authenticator and Authorizer replace the defaults through
// NewHandler: their principal is the actor of what it does.
func TestCustomAuthenticatorAndAuthorizer(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnvFor(t, func(*tasker.Client) *taskerhttp.Options {
			return &taskerhttp.Options{Authenticator: headerAuthenticator{}, Authorizer: readOnlyAuthorizer{},
				PublicOperations: []taskerhttp.Operation{taskerhttp.OpOpenAPIShow}}
		})
		res := e.do("GET", "/tasker/tasks", nil).want(t, http.StatusUnauthorized)
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "this request needs a credential")
		e.do("GET", "/tasker/tasks", nil, "X-User", "bob").want(t, http.StatusOK)
		body := map[string]any{"name": "dummy_task", "context": map[string]any{"dummy": true}}
		res = e.do("POST", "/tasker/tasks", body, "X-User", "bob").want(t, http.StatusForbidden)
		require.Equal(t, "forbidden: bob may not tasker.task:create", errorMessage(t, res))
		res = e.do("POST", "/tasker/tasks", body, "X-User", "admin").want(t, http.StatusCreated)
		task := res.json(t)["task"].(map[string]any)
		require.Equal(t, "admin", task["initiator"], "the principal is the actor")
		id := int64(task["task_id"].(float64))
		e.do("DELETE", fmt.Sprint("/tasker/tasks/", id), nil, "X-User", "bob").want(t, http.StatusForbidden)
		e.do("DELETE", fmt.Sprint("/tasker/tasks/", id), nil, "X-User", "admin").want(t, http.StatusOK)
		trail, err := e.client.TaskTransitions(t.Context(), id)
		require.NoError(t, err)
		last := trail[len(trail)-1]
		require.Equal(t, tasker.StateCancelled, last.ToState)
		require.JSONEq(t, `{"reason": "cancelled", "actor": "admin"}`, string(last.Metadata))
	})
}

// errorMessage is the message of an error answer.
func errorMessage(t *testing.T, res *response) string {
	t.Helper()
	m, ok := res.json(t)["error"].(map[string]any)
	require.True(t, ok, "an error answer: %s", res.Body)
	s, _ := m["message"].(string)
	return s
}

// Headers over Options.MaxHeaderBytes (a huge credential among them) get a
// JSON 431 naming the limit, on every route, before any authentication.
func TestOversizedHeaders(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		for _, h := range [][2]string{{"Authorization", "Bearer " + strings.Repeat("A", 70<<10)}, {"X-Junk", strings.Repeat("j", 70<<10)}} {
			for _, path := range []string{"/tasker/tasks", "/tasker/health/live", "/nowhere"} {
				req, err := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+path, nil)
				require.NoError(t, err)
				req.Header.Set(h[0], h[1])
				res, err := e.srv.Client().Do(req)
				require.NoError(t, err)
				var body struct {
					Error struct{ Code, Message string }
				}
				require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
				_ = res.Body.Close()
				require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode, "%s with a large %s", path, h[0])
				require.Equal(t, "header_too_large", body.Error.Code)
				require.Contains(t, body.Error.Message, "more than the 65536 this server accepts")
			}
		}
		e.do("GET", "/tasker/health/live", nil, "X-Fine", strings.Repeat("f", 60<<10)).want(t, http.StatusOK)
	})
}
