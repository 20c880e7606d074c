package taskerhttp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerhttp"
)

// newAuthEnv serves the API with the default authenticator (API tokens of
// the env's database, and a JWT secret when jwtSecret is not empty).
func newAuthEnv(t *testing.T, jwtSecret string) *env {
	t.Helper()
	return newEnvFor(t, func(c *tasker.Client) *taskerhttp.Options {
		var j *taskerauth.JWT
		if jwtSecret != "" {
			var err error
			j, err = taskerauth.NewJWT(taskerauth.JWTConfig{Secret: []byte(jwtSecret)})
			require.NoError(t, err)
		}
		return &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, j)}
	})
}

func (e *env) token(t *testing.T, name string, perms ...string) string {
	t.Helper()
	secret, _, err := e.client.CreateToken(t.Context(), tasker.TokenParams{Name: name, Permissions: perms})
	require.NoError(t, err)
	return secret
}

// operations lists every distinct operation of the route table that needs
// a permission.
func operations() []string {
	var ops []string
	for _, rt := range taskerhttp.Routes() {
		if !rt.Open && !slices.Contains(ops, string(rt.Operation)) {
			ops = append(ops, string(rt.Operation))
		}
	}
	return ops
}

// For every route of the table (so a new route without a permission fails
// here): no credential → 401 with a Bearer challenge; a token holding every
// permission but exactly the route's → 403 naming it; a token holding it →
// the route's own answer (not 401/403). The open routes need nothing.
func TestEveryRouteNeedsItsPermission(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		_, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "dummy_task", Context: json.RawMessage(`{"dummy": true}`)})
		require.NoError(t, err)
		all := e.token(t, "all", operations()...)
		lacking := map[string]string{}
		for i, op := range operations() {
			lacking[op] = e.token(t, "lacking-"+strings.NewReplacer(":", "-").Replace(op)+"-"+strconv.Itoa(i),
				slices.DeleteFunc(operations(), func(o string) bool { return o == op })...)
		}
		for _, rt := range taskerhttp.Routes() {
			path, body := requestFor(rt)
			if rt.Open {
				require.Equal(t, http.StatusOK, e.do(rt.Method, path, body).Status, "%s %s is open", rt.Method, path)
				continue
			}
			res := e.do(rt.Method, path, body)
			require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s without a credential: %s", rt.Method, path, res.Body)
			require.Equal(t, "unauthorized", res.errorCode(t))
			require.Equal(t, "Bearer", res.Header.Get("WWW-Authenticate"))

			res = e.do(rt.Method, path, body, "Authorization", "Bearer "+lacking[string(rt.Operation)])
			require.Equal(t, http.StatusForbidden, res.Status, "%s %s lacking %s: %s", rt.Method, path, rt.Operation, res.Body)
			require.Equal(t, "forbidden", res.errorCode(t))
			require.Contains(t, res.json(t)["error"].(map[string]any)["message"], string(rt.Operation))

			res = e.do(rt.Method, path, body, "Authorization", "Bearer "+all)
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Status, "%s %s with %s: %s", rt.Method, path, rt.Operation, res.Body)
			require.Less(t, res.Status, 500, "%s %s with %s: %s", rt.Method, path, rt.Operation, res.Body)
		}
	})
}

// Before any token exists (and without a JWT configuration) the API is
// open, but a credential that is sent is still checked; the first token
// turns authentication on at once, and revoking it does not turn it off.
func TestAuthTurnsOnWithTheFirstToken(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusOK)
		res := e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer tkr_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").want(t, http.StatusUnauthorized)
		require.Equal(t, `Bearer error="invalid_token"`, res.Header.Get("WWW-Authenticate"))
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer something-else").want(t, http.StatusUnauthorized)

		tok := e.token(t, "reader", "tasker.task:index")
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer "+tok).want(t, http.StatusOK)
		e.do("GET", "/tasker/handlers", nil, "Authorization", "Bearer "+tok).want(t, http.StatusForbidden)
		require.NoError(t, e.client.RevokeToken(t.Context(), "reader"))
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer "+tok).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusUnauthorized)
		e.do("GET", "/tasker/health/live", nil).want(t, http.StatusOK)
	})
}

// With a JWT configuration authentication is on from the start; JWTs and
// API tokens are both accepted; the legacy worker token still serves the
// worker routes only.
func TestJWTAndTokensTogether(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-test"
	sign := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		require.NoError(t, err)
		return s
	}
	eachDriver(t, func(t *testing.T) {
		e := newEnvFor(t, func(c *tasker.Client) *taskerhttp.Options {
			j, err := taskerauth.NewJWT(taskerauth.JWTConfig{Secret: []byte(secret)})
			require.NoError(t, err)
			return &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, j), WorkerToken: "legacy-worker-token"}
		})
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusUnauthorized)
		exp := time.Now().Add(time.Hour).Unix()
		reader := sign(jwt.MapClaims{"sub": "alice", "exp": exp, "permissions": []string{"tasker.task:*"}})
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer "+reader).want(t, http.StatusOK)
		res := e.do("GET", "/tasker/handlers", nil, "Authorization", "Bearer "+reader).want(t, http.StatusForbidden)
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "tasker.handler:index")
		expired := sign(jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix(), "permissions": []string{"*"}})
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer "+expired).want(t, http.StatusUnauthorized)
		none := strings.Join([]string{"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", strings.Split(reader, ".")[1], ""}, ".")
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer "+none).want(t, http.StatusUnauthorized)

		tok := e.token(t, "ci", "tasker.handler:index")
		e.do("GET", "/tasker/handlers", nil, "Authorization", "Bearer "+tok).want(t, http.StatusOK)

		claim := `{"worker_id": "w", "queues": ["q"]}`
		e.do("POST", "/tasker/workers/claim", claim, "Authorization", "Bearer legacy-worker-token").want(t, http.StatusOK)
		e.do("GET", "/tasker/tasks", nil, "Authorization", "Bearer legacy-worker-token").want(t, http.StatusUnauthorized)
		e.do("POST", "/tasker/workers/claim", claim, "Authorization", "Bearer "+reader).want(t, http.StatusForbidden)
		worker := sign(jwt.MapClaims{"sub": "py-worker", "exp": exp, "permissions": []string{"tasker.worker:work"}})
		e.do("POST", "/tasker/workers/claim", claim, "Authorization", "Bearer "+worker).want(t, http.StatusOK)
	})
}

// Bad input on every auth path is a 4xx JSON error, never a 5xx, and never
// lets the request through once a token exists: on SQLite and, when it is
// available (TASKER_TEST_DATABASE_URL), PostgreSQL, with API tokens alone and
// with a JWT configuration (and a role map) in front of them.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "bearer x", "Basic dXNlcjpwYXNz", "Bearer tkr_", "Bearer tkr_zz_zz",
		"Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer \xff\xfe", "Bearer \x00", "Bearer " + strings.Repeat("a", 9000),
		"Bearer tkr_0123456789abcdef_" + strings.Repeat("A", 43), "Bearer tkr_0123456789abcdef_" + strings.Repeat("\xff", 43),
		"Bearer legacy-worker-token", "Bearer legacy-worker-token\x00"} {
		f.Add(s)
	}
	j, err := taskerauth.NewJWT(taskerauth.JWTConfig{Secret: []byte("0123456789abcdef0123456789abcdef-fuzz"),
		Roles: map[string][]string{"ops": {"*"}}})
	require.NoError(f, err)
	var handlers []http.Handler
	for _, c := range fuzzClients(f) {
		_, _, err = c.CreateToken(f.Context(), tasker.TokenParams{Name: "exists", Permissions: []string{"*"}})
		require.NoError(f, err)
		handlers = append(handlers,
			taskerhttp.NewHandler(c, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil), WorkerToken: "legacy-worker-token"}),
			taskerhttp.NewHandler(c, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, j), WorkerToken: "legacy-worker-token"}))
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, h := range handlers {
			for _, path := range []string{"/tasker/tasks", "/tasker/workers/heartbeat", "/tasker/tokens"} {
				method := map[bool]string{true: "POST", false: "GET"}[strings.HasSuffix(path, "heartbeat")]
				req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(`{"worker_id": "w", "step_ids": [1]}`))
				req.Host = "localhost"
				req.Header.Set("Content-Type", "application/json")
				req.Header["Authorization"] = []string{header}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if header == "Bearer legacy-worker-token" && method == "POST" {
					continue
				}
				require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, rec.Code, "%q on %s: %s", header, path, rec.Body)
				var body map[string]map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				require.NotEmpty(t, body["error"]["code"])
				require.NotContains(t, rec.Body.String(), "legacy-worker-token")
			}
		}
	})
}

// The authenticated actor becomes a task's initiator when the request names
// none, and is recorded in the transitions its calls cause, readable at
// GET /tasker/tasks/{id}/transitions.
func TestActorInAuditTrail(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		tok := e.token(t, "ops-bot", "tasker.task:*")
		auth := []string{"Authorization", "Bearer " + tok}
		res := e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}}`, auth...).want(t, http.StatusCreated)
		task := res.json(t)["task"].(map[string]any)
		require.Equal(t, "ops-bot", task["initiator"])
		id := strings.TrimSuffix(strings.TrimPrefix(string(mustJSON(t, task["task_id"])), `"`), `"`)
		res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": false}, "initiator": "cron"}`, auth...).want(t, http.StatusCreated)
		require.Equal(t, "cron", res.json(t)["task"].(map[string]any)["initiator"], "a named initiator is kept")

		e.do("DELETE", "/tasker/tasks/"+id+"?reason=duplicate", nil, auth...).want(t, http.StatusOK)
		res = e.do("GET", "/tasker/tasks/"+id+"/transitions", nil, auth...).want(t, http.StatusOK)
		var body struct {
			Transitions []struct {
				ToState  string         `json:"to_state"`
				Metadata map[string]any `json:"metadata"`
			} `json:"transitions"`
		}
		require.NoError(t, json.Unmarshal(res.Body, &body))
		require.NotEmpty(t, body.Transitions)
		last := body.Transitions[len(body.Transitions)-1]
		require.Equal(t, "cancelled", last.ToState)
		require.Equal(t, "ops-bot", last.Metadata["actor"])
		require.Equal(t, "duplicate", last.Metadata["note"])
		e.do("GET", "/tasker/tasks/999/transitions", nil, auth...).want(t, http.StatusNotFound)
	})
}

// TestActorOnEveryChange: every change an authenticated caller makes is in
// the audit trail with its actor: the creation, updates of a task and of a
// step (which change no state), a retry, a resolution and a step's cancel.
func TestActorOnEveryChange(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t, "")
		auth := []string{"Authorization", "Bearer " + e.token(t, "ops-bot", "tasker.task:*", "tasker.workflow_step:*")}
		type transition struct {
			FromState string         `json:"from_state"`
			ToState   string         `json:"to_state"`
			Metadata  map[string]any `json:"metadata"`
		}
		taskTrail := func(path string) []transition {
			var body struct{ Transitions []transition }
			require.NoError(t, json.Unmarshal(e.do("GET", path+"/transitions", nil, auth...).want(t, http.StatusOK).Body, &body))
			return body.Transitions
		}
		stepTrail := func(path string) []transition {
			var body struct {
				Step struct{ Transitions []transition } `json:"step"`
			}
			require.NoError(t, json.Unmarshal(e.do("GET", path, nil, auth...).want(t, http.StatusOK).Body, &body))
			return body.Step.Transitions
		}
		last := func(trs []transition) transition { require.NotEmpty(t, trs); return trs[len(trs)-1] }

		task := e.do("POST", "/tasker/tasks", `{"name": "fragile"}`, auth...).want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		path := "/tasker/tasks/" + itoa(idOf(task, "task_id"))
		first := taskTrail(path)[0]
		require.Equal(t, "pending", first.ToState)
		require.Equal(t, map[string]any{"initialized_by": "task_create", "actor": "ops-bot"}, first.Metadata)

		e.do("PATCH", path, `{"reason": "triage"}`, auth...).want(t, http.StatusOK)
		tr := last(taskTrail(path))
		require.Equal(t, tr.FromState, tr.ToState, "an update changes no state")
		require.Equal(t, map[string]any{"reason": "updated", "fields": []any{"reason"}, "actor": "ops-bot"}, tr.Metadata)
		e.do("PUT", path, `{"tags": ["a"], "reason": "again"}`, auth...).want(t, http.StatusOK)
		require.Equal(t, []any{"reason", "tags"}, last(taskTrail(path)).Metadata["fields"])

		e.runUntilIdle() // pay fails
		pay := stepPath(t, task, "pay")
		e.do("PATCH", pay, `{"retry_limit": 7}`, auth...).want(t, http.StatusOK)
		tr = last(stepTrail(pay))
		require.Equal(t, "error", tr.ToState)
		require.Equal(t, tr.FromState, tr.ToState)
		require.Equal(t, map[string]any{"reason": "updated", "fields": []any{"retry_limit"}, "actor": "ops-bot"}, tr.Metadata)

		e.do("POST", path+"/retry", nil, auth...).want(t, http.StatusOK)
		tr = last(taskTrail(path))
		require.Equal(t, "pending", tr.ToState)
		require.Equal(t, "ops-bot", tr.Metadata["actor"])
		require.Equal(t, "task_retry", tr.Metadata["reason"])

		e.runUntilIdle() // pay fails again
		e.do("POST", pay+"/resolve", `{"results": {"paid": "by hand"}}`, auth...).want(t, http.StatusOK)
		tr = last(stepTrail(pay))
		require.Equal(t, "resolved_manually", tr.ToState)
		require.Equal(t, "ops-bot", tr.Metadata["actor"])

		other := e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}}`, auth...).want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		one := stepPath(t, other, "step-one")
		e.do("DELETE", one, nil, auth...).want(t, http.StatusOK)
		tr = last(stepTrail(one))
		require.Equal(t, "cancelled", tr.ToState)
		require.Equal(t, "ops-bot", tr.Metadata["actor"])
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
