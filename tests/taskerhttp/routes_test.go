package taskerhttp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttp"
)

var operationRE = regexp.MustCompile(`^tasker\.[a-z_]+:[a-z_]+$`)

func TestRoutesTable(t *testing.T) {
	routes := taskerhttp.Routes()
	require.NotEmpty(t, routes)
	seen, names := map[string]bool{}, map[string]bool{}
	var open []string
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		require.False(t, seen[key], "route %s listed twice", key)
		seen[key] = true
		require.Regexp(t, operationRE, string(rt.Operation), "%s: every route has an operation resource:action", key)
		require.Equal(t, string(rt.Operation), rt.Operation.Resource()+":"+rt.Operation.Action())
		require.NotEmpty(t, rt.Name, "%s: every route has an OpenAPI operationId", key)
		require.False(t, names[rt.Name], "operationId %s used twice", rt.Name)
		names[rt.Name] = true
		if rt.Open {
			open = append(open, key)
		}
	}
	// The only open routes are the probes.
	require.Equal(t, []string{"GET /tasker/health/live", "GET /tasker/health/ready"}, open)

	// Routes returns a copy.
	routes[0].Operation = "changed"
	require.NotEqual(t, taskerhttp.Operation("changed"), taskerhttp.Routes()[0].Operation)
}

// TestRoutesPermissions pins the permission of each route (the original
// engine's resource:action names; issue 11).
func TestRoutesPermissions(t *testing.T) {
	got := map[string]taskerhttp.Operation{}
	for _, rt := range taskerhttp.Routes() {
		got[rt.Method+" "+rt.Pattern] = rt.Operation
	}
	require.Equal(t, map[string]taskerhttp.Operation{
		"GET /tasker/tasks":                                             "tasker.task:index",
		"POST /tasker/tasks":                                            "tasker.task:create",
		"GET /tasker/tasks/{task_id}":                                   "tasker.task:show",
		"PATCH /tasker/tasks/{task_id}":                                 "tasker.task:update",
		"PUT /tasker/tasks/{task_id}":                                   "tasker.task:update",
		"DELETE /tasker/tasks/{task_id}":                                "tasker.task:destroy",
		"POST /tasker/tasks/{task_id}/retry":                            "tasker.task:retry",
		"GET /tasker/tasks/{task_id}/diagram":                           "tasker.task:show",
		"GET /tasker/tasks/{task_id}/transitions":                       "tasker.task:show",
		"POST /tasker/tasks/{task_id}/annotations":                      "tasker.task:update",
		"GET /tasker/tasks/{task_id}/workflow_steps":                    "tasker.workflow_step:index",
		"GET /tasker/tasks/{task_id}/workflow_steps/{step_id}":          "tasker.workflow_step:show",
		"PATCH /tasker/tasks/{task_id}/workflow_steps/{step_id}":        "tasker.workflow_step:update",
		"PUT /tasker/tasks/{task_id}/workflow_steps/{step_id}":          "tasker.workflow_step:update",
		"DELETE /tasker/tasks/{task_id}/workflow_steps/{step_id}":       "tasker.workflow_step:destroy",
		"POST /tasker/tasks/{task_id}/workflow_steps/{step_id}/resolve": "tasker.workflow_step:resolve",
		"GET /tasker/schedules":                                         "tasker.schedule:index",
		"POST /tasker/schedules":                                        "tasker.schedule:create",
		"GET /tasker/schedules/{name}":                                  "tasker.schedule:index",
		"DELETE /tasker/schedules/{name}":                               "tasker.schedule:destroy",
		"POST /tasker/schedules/{name}/pause":                           "tasker.schedule:update",
		"POST /tasker/schedules/{name}/resume":                          "tasker.schedule:update",
		"POST /tasker/schedules/{name}/trigger":                         "tasker.schedule:trigger",
		"GET /tasker/handlers":                                          "tasker.handler:index",
		"GET /tasker/handlers/{namespace}":                              "tasker.handler:index",
		"GET /tasker/handlers/{namespace}/{name}":                       "tasker.handler:show",
		"GET /tasker/health/live":                                       "tasker.health:live",
		"GET /tasker/health/ready":                                      "tasker.health:ready",
		"GET /tasker/health/status":                                     "tasker.health_status:index",
		"GET /tasker/metrics":                                           "tasker.metrics:index",
		"GET /tasker/analytics/performance":                             "tasker.analytics:index",
		"GET /tasker/analytics/bottlenecks":                             "tasker.analytics:index",
		"GET /tasker/analytics/series":                                  "tasker.analytics:index",
		"GET /tasker/events":                                            "tasker.event:index",
		"GET /tasker/dead_letters":                                      "tasker.dead_letter:index",
		"POST /tasker/dead_letters/replay":                              "tasker.dead_letter:replay",
		"GET /tasker/openapi.json":                                      "tasker.openapi:show",
		"GET /tasker/tokens":                                            "tasker.token:index",
		"POST /tasker/tokens":                                           "tasker.token:create",
		"DELETE /tasker/tokens/{name}":                                  "tasker.token:destroy",
		"GET /tasker/workers":                                           "tasker.worker:index",
		"POST /tasker/workers/claim":                                    "tasker.worker:work",
		"POST /tasker/workers/heartbeat":                                "tasker.worker:work",
		"POST /tasker/workers/steps/{step_id}/result":                   "tasker.worker:work",
		"POST /tasker/workers/steps/{step_id}/release":                  "tasker.worker:work",
	}, got)
}

// TestRoutesMatchOpenAPI checks that the table and the OpenAPI document
// list the same routes, with the table's operationId, permission and
// openness on each operation.
func TestRoutesMatchOpenAPI(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "..", "taskerhttp", "openapi.json"))
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context))
	inDoc := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			inDoc[method+" "+path] = op
		}
	}
	inTable := map[string]bool{}
	for _, rt := range taskerhttp.Routes() {
		key := rt.Method + " " + rt.Pattern
		inTable[key] = true
		op, ok := inDoc[key]
		require.True(t, ok, "route %s is not in openapi.json", key)
		require.Equal(t, rt.Name, op.OperationID, key)
		require.Equal(t, string(rt.Operation), op.Extensions["x-tasker-permission"], "%s: x-tasker-permission", key)
		if rt.Open {
			require.Equal(t, true, op.Extensions["x-tasker-open"], "%s: x-tasker-open", key)
			require.NotContains(t, op.Responses.Map(), "403", key)
		} else {
			require.NotContains(t, op.Extensions, "x-tasker-open", key)
			require.Contains(t, op.Responses.Map(), "401", "%s: an authorized route declares 401", key)
			require.Contains(t, op.Responses.Map(), "403", "%s: an authorized route declares 403", key)
		}
	}
	for key := range inDoc {
		require.True(t, inTable[key], "openapi.json has %s, the route table does not", key)
	}
}

// requestFor returns a request path for a route pattern (ids 1, known
// template names) and a body for the methods that take one.
func requestFor(rt taskerhttp.Route) (string, any) {
	path := strings.NewReplacer("{task_id}", "1", "{step_id}", "1", "{namespace}", "default", "{name}", "dummy_task").Replace(rt.Pattern)
	switch rt.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut:
		return path, `{}`
	}
	return path, nil
}

// TestAuthorizeDeniesEveryRoute sends a real request to every route of the
// table through a handler whose Authorize denies everything: every route
// but the open ones is refused with 403 before its handler runs, and
// Authorize sees each route's own operation and path values.
func TestAuthorizeDeniesEveryRoute(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		e := newEnvOpts(t, &taskerhttp.Options{WorkerToken: "secret", Authorize: func(r *http.Request, op taskerhttp.Operation) error {
			mu.Lock()
			calls = append(calls, r.Method+" "+r.Pattern+" "+string(op)+" task_id="+r.PathValue("task_id"))
			mu.Unlock()
			return fmt.Errorf("%w: this request needs the permission %s", taskerhttp.ErrForbidden, op)
		}})
		_, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "dummy_task", Context: json.RawMessage(`{"dummy": true}`)})
		require.NoError(t, err)
		var want []string
		for _, rt := range taskerhttp.Routes() {
			path, body := requestFor(rt)
			res := e.do(rt.Method, path, body, "Authorization", "Bearer secret")
			if rt.Open {
				require.Equal(t, http.StatusOK, res.Status, "%s %s is open: %s", rt.Method, path, res.Body)
				continue
			}
			want = append(want, rt.Method+" "+rt.Method+" "+rt.Pattern+" "+string(rt.Operation)+" task_id="+taskID(rt))
			require.Equal(t, http.StatusForbidden, res.Status, "%s %s: %s", rt.Method, path, res.Body)
			require.Equal(t, "forbidden", res.errorCode(t))
			require.Contains(t, res.json(t)["error"].(map[string]any)["message"], string(rt.Operation))
		}
		require.Equal(t, want, calls)
		// Nothing ran: the task is still the only one, untouched.
		task, err := e.client.GetTask(t.Context(), 1)
		require.NoError(t, err)
		require.Equal(t, "pending", string(task.State))
	})
}

func taskID(rt taskerhttp.Route) string {
	if strings.Contains(rt.Pattern, "{task_id}") {
		return "1"
	}
	return ""
}

func TestAuthorizeAnswers(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		var deny error
		e := newEnvOpts(t, &taskerhttp.Options{WorkerToken: "secret", Authorize: func(_ *http.Request, op taskerhttp.Operation) error {
			if op == taskerhttp.OpTaskIndex {
				return nil
			}
			return deny
		}})
		// ErrUnauthenticated → 401 with a Bearer challenge.
		deny = fmt.Errorf("%w: give a credential", taskerhttp.ErrUnauthenticated)
		res := e.do("GET", "/tasker/handlers", nil).want(t, http.StatusUnauthorized)
		require.Equal(t, "unauthorized", res.errorCode(t))
		require.Equal(t, "Bearer", res.Header.Get("WWW-Authenticate"))
		// Any other error → 403.
		deny = errors.New("not for you")
		res = e.do("GET", "/tasker/handlers", nil).want(t, http.StatusForbidden)
		require.Equal(t, "forbidden", res.errorCode(t))
		require.Equal(t, "not for you", res.json(t)["error"].(map[string]any)["message"])
		require.Empty(t, res.Header.Get("WWW-Authenticate"))
		// An allowed operation runs its handler.
		e.do("GET", "/tasker/tasks", nil).want(t, http.StatusOK)
		// Open routes never ask.
		require.Equal(t, http.StatusOK, e.do("GET", "/tasker/health/live", nil).Status)

		// An Authorize that allows everything keeps the worker token guard.
		deny = nil
		res = e.do("POST", "/tasker/workers/claim", `{"worker_id": "w", "queues": ["q"]}`).want(t, http.StatusUnauthorized)
		require.Equal(t, `Bearer realm="tasker workers"`, res.Header.Get("WWW-Authenticate"))
		e.do("POST", "/tasker/workers/claim", `{"worker_id": "w", "queues": ["q"]}`, "Authorization", "Bearer secret").want(t, http.StatusOK)
	})
}

// TestDefaultAuthorization: without Authorize every route is allowed but
// the worker routes, which need the worker token (403 without one set).
func TestDefaultAuthorization(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, rt := range taskerhttp.Routes() {
			path, body := requestFor(rt)
			res := e.do(rt.Method, path, body)
			if rt.Operation == taskerhttp.OpWorkerWork {
				require.Equal(t, http.StatusForbidden, res.Status, "%s %s", rt.Method, path)
				require.Equal(t, "workers_disabled", res.errorCode(t))
				continue
			}
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Status, "%s %s: %s", rt.Method, path, res.Body)
		}
	})
}

// TestRESTDocListsRoutes checks the route → permission section of
// docs/rest.md against the table; run with -update to rewrite it.
func TestRESTDocListsRoutes(t *testing.T) {
	const begin, end = "<!-- routes:begin (generated from taskerhttp.Routes by TestRESTDocListsRoutes) -->\n", "<!-- routes:end -->\n"
	var b strings.Builder
	b.WriteString(begin)
	b.WriteString("\n| method | path | permission | operationId |\n|---|---|---|---|\n")
	for _, rt := range taskerhttp.Routes() {
		perm := "`" + string(rt.Operation) + "`"
		if rt.Open {
			perm += " (open: never authorized)"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | `%s` |\n", rt.Method, rt.Pattern, perm, rt.Name)
	}
	b.WriteString("\n" + end)
	path := filepath.Join("..", "..", "docs", "rest.md")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	require.True(t, i >= 0 && j > i, "docs/rest.md has no routes section between %q and %q", begin, end)
	got := doc[i : j+len(end)]
	if *update && got != b.String() {
		require.NoError(t, os.WriteFile(path, []byte(doc[:i]+b.String()+doc[j+len(end):]), 0o644))
		return
	}
	require.Equal(t, b.String(), got, "docs/rest.md is out of date: run (cd tests && go test ./taskerhttp -run TestRESTDocListsRoutes -update)")
}
