package taskerhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttp"
)

func TestHandlers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		res := e.do("GET", "/tasker/handlers", nil).want(t, http.StatusOK)
		body := res.json(t)
		require.EqualValues(t, 3, body["total_namespaces"])
		ns := map[string]float64{}
		for _, n := range body["namespaces"].([]any) {
			nm := n.(map[string]any)
			ns[nm["name"].(string)] = nm["handler_count"].(float64)
		}
		require.Equal(t, map[string]float64{"default": 3, "ecommerce": 2, "testing": 1}, ns)

		res = e.do("GET", "/tasker/handlers/testing", nil).want(t, http.StatusOK)
		body = res.json(t)
		require.EqualValues(t, 1, body["total_handlers"])
		h := body["handlers"].([]any)[0].(map[string]any)
		require.Equal(t, []any{"1.0.0", "1.2.0"}, h["versions"])
		require.Equal(t, "1.2.0", h["latest_version"])
		e.do("GET", "/tasker/handlers/nowhere", nil).want(t, http.StatusNotFound)

		res = e.do("GET", "/tasker/handlers/ecommerce/diamond", nil).want(t, http.StatusOK)
		hd := res.json(t)["handler"].(map[string]any)
		require.Equal(t, "ecommerce.diamond@2.0.0", hd["full_name"])
		steps := hd["step_templates"].([]any)
		require.Len(t, steps, 4)
		end := steps[3].(map[string]any)
		require.Equal(t, []any{"left", "right"}, end["depends_on"])
		require.Equal(t, "order.fulfilled", end["custom_events"].([]any)[0].(map[string]any)["name"])
		require.EqualValues(t, 5, steps[1].(map[string]any)["retry_limit"])
		g := hd["dependency_graph"].(map[string]any)
		edges := map[string]bool{}
		for _, ed := range g["edges"].([]any) {
			em := ed.(map[string]any)
			edges[em["from"].(string)+"->"+em["to"].(string)] = true
		}
		// Every dependency, including both parents of the join.
		require.Equal(t, map[string]bool{"start->left": true, "start->right": true, "left->end": true, "right->end": true}, edges)
		require.Equal(t, []any{"start", "left", "right", "end"}, g["execution_order"])
		require.Equal(t, []any{"start"}, g["roots"])
		require.Equal(t, []any{"end"}, g["leaves"])
		require.EqualValues(t, 2, g["levels"].(map[string]any)["end"])

		res = e.do("GET", "/tasker/handlers/testing/dummy_task?version=1.0.0", nil).want(t, http.StatusOK)
		require.Equal(t, "1.0.0", res.json(t)["handler"].(map[string]any)["version"])
		res = e.do("GET", "/tasker/handlers/testing/dummy_task", nil)
		require.Equal(t, "1.2.0", res.json(t)["handler"].(map[string]any)["version"])
		e.do("GET", "/tasker/handlers/testing/dummy_task?version=3.0.0", nil).want(t, http.StatusNotFound)
		e.do("GET", "/tasker/handlers/testing/nothing", nil).want(t, http.StatusNotFound)
	})
}

func TestDiagram(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "fragile"}`)
		id := idOf(task, "task_id")
		e.runUntilIdle()
		path := fmt.Sprintf("/tasker/tasks/%d/diagram", id)

		res := e.do("GET", path, nil).want(t, http.StatusOK)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json")
		body := res.json(t)
		nodes := body["nodes"].([]any)
		require.Len(t, nodes, 3)
		pay := nodes[1].(map[string]any)
		require.Equal(t, "pay", pay["name"])
		require.Equal(t, "error", pay["status"])
		require.EqualValues(t, 1, pay["attempts"])
		require.Contains(t, pay["error"], "boom")
		require.Len(t, body["edges"], 2)

		res = e.do("GET", path+"?format=mermaid", nil).want(t, http.StatusOK)
		mm := string(res.Body)
		require.True(t, strings.HasPrefix(mm, "graph TD\n"), mm)
		require.Contains(t, mm, `pay["pay<br/>error<br/>attempts: 1"]:::error`)
		require.Contains(t, mm, "prepare --> pay")
		require.Contains(t, mm, "classDef error")

		for accept, ct := range map[string]string{
			"text/vnd.mermaid": "text/vnd.mermaid", "text/plain": "text/vnd.mermaid", "application/json": "application/json",
			"image/svg+xml": "image/svg+xml", "text/html": "text/html", "*/*": "application/json",
			"text/html;q=0.5, image/svg+xml": "image/svg+xml",
		} {
			res := e.do("GET", path, nil, "Accept", accept).want(t, http.StatusOK, accept)
			require.Contains(t, res.Header.Get("Content-Type"), ct, accept)
		}

		res = e.do("GET", path+"?format=svg", nil).want(t, http.StatusOK)
		svg := string(res.Body)
		require.True(t, strings.HasPrefix(svg, "<svg "), svg)
		require.Equal(t, 3, strings.Count(svg, "<rect x=")-1, "3 step boxes + background")
		require.Equal(t, 2, strings.Count(svg, `<line class="edge"`))
		require.Contains(t, svg, "#f8d7da", "error colour")
		require.Contains(t, svg, "the &lt;payment&gt; failed", "escaped error text")
		require.NotContains(t, svg, "<script")
		require.NotContains(t, svg, "href=")

		res = e.do("GET", path+"?format=html", nil).want(t, http.StatusOK)
		page := string(res.Body)
		require.Contains(t, page, "<svg ")
		require.Contains(t, page, "<pre class=\"mermaid\">graph TD")
		require.NotContains(t, page, "<script")

		res = e.do("GET", path+"?format=png", nil).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "format")
		e.do("GET", "/tasker/tasks/31337/diagram", nil).want(t, http.StatusNotFound)
		e.do("GET", "/tasker/tasks/zz/diagram?format=svg", nil).want(t, http.StatusBadRequest)
	})
}

func TestHealth(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		// Scenario 30.
		res := e.do("GET", "/tasker/health/live", nil).want(t, http.StatusOK)
		require.Equal(t, "tasker", res.json(t)["service"])
		require.Contains(t, res.Header.Get("Cache-Control"), "no-store")

		res = e.do("GET", "/tasker/health/ready", nil).want(t, http.StatusOK)
		body := res.json(t)
		require.Equal(t, true, body["ready"])
		require.Equal(t, "healthy", body["checks"].(map[string]any)["database"].(map[string]any)["status"])
		require.Contains(t, res.Header.Get("Cache-Control"), "no-store")

		res = e.do("GET", "/tasker/health/status", nil).want(t, http.StatusOK)
		require.Equal(t, true, res.json(t)["healthy"])
		require.Contains(t, res.Header.Get("Cache-Control"), "no-store")

		// The only task is in error: more than 50 % of the tasks → 503.
		e.createTask(`{"name": "fragile"}`)
		e.runUntilIdle()
		res = e.do("GET", "/tasker/health/status", nil).want(t, http.StatusServiceUnavailable)
		body = res.json(t)
		require.Equal(t, "unhealthy", body["status"])
		require.EqualValues(t, 1, body["tasks"].(map[string]any)["error"])
		require.NotEmpty(t, body["reasons"])
	})
}

func TestHealthReadyDatabaseDown(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		d := openTestDriver(t)
		c, err := tasker.NewClient(context.Background(), d, &tasker.Config{Registry: testRegistry(t)})
		require.NoError(t, err)
		e := newEnv(t)
		srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{ReadinessTimeout: time.Second}))
		defer srv.Close()
		e.srv = srv
		require.NoError(t, d.Close())
		res := e.do("GET", "/tasker/health/ready", nil).want(t, http.StatusServiceUnavailable)
		body := res.json(t)
		require.Equal(t, false, body["ready"])
		require.Equal(t, "unhealthy", body["checks"].(map[string]any)["database"].(map[string]any)["status"])
		e.do("GET", "/tasker/health/status", nil).want(t, http.StatusServiceUnavailable)
		require.Equal(t, true, e.do("GET", "/tasker/health/live", nil).json(t)["alive"])
	})
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/tasker/openapi.json", nil).want(t, http.StatusOK)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &doc))
	require.Equal(t, "3.0.3", doc.OpenAPI)
	want := map[string][]string{
		"/tasker/tasks":                                            {"get", "post"},
		"/tasker/tasks/{task_id}":                                  {"get", "patch", "put", "delete"},
		"/tasker/tasks/{task_id}/retry":                            {"post"},
		"/tasker/tasks/{task_id}/diagram":                          {"get"},
		"/tasker/tasks/{task_id}/workflow_steps":                   {"get"},
		"/tasker/tasks/{task_id}/workflow_steps/{step_id}":         {"get", "patch", "put", "delete"},
		"/tasker/tasks/{task_id}/workflow_steps/{step_id}/resolve": {"post"},
		"/tasker/handlers":                                         {"get"},
		"/tasker/handlers/{namespace}":                             {"get"},
		"/tasker/handlers/{namespace}/{name}":                      {"get"},
		"/tasker/health/live":                                      {"get"},
		"/tasker/health/ready":                                     {"get"},
		"/tasker/health/status":                                    {"get"},
		"/tasker/analytics/performance":                            {"get"},
		"/tasker/analytics/bottlenecks":                            {"get"},
		"/tasker/analytics/series":                                 {"get"},
		"/tasker/openapi.json":                                     {"get"},
		"/tasker/events":                                           {"get"},
		"/tasker/dead_letters":                                     {"get"},
		"/tasker/dead_letters/replay":                              {"post"},
		"/tasker/metrics":                                          {"get"},
		"/tasker/tasks/{task_id}/transitions":                      {"get"},
		"/tasker/tasks/{task_id}/annotations":                      {"post"},
		"/tasker/tokens":                                           {"get", "post"},
		"/tasker/tokens/{name}":                                    {"delete"},
		"/tasker/schedules":                                        {"get", "post"},
		"/tasker/schedules/{name}":                                 {"get", "delete"},
		"/tasker/schedules/{name}/pause":                           {"post"},
		"/tasker/schedules/{name}/resume":                          {"post"},
		"/tasker/schedules/{name}/trigger":                         {"post"},
		"/tasker/workers":                                          {"get"},
		"/tasker/workers/claim":                                    {"post"},
		"/tasker/workers/heartbeat":                                {"post"},
		"/tasker/workers/steps/{step_id}/result":                   {"post"},
		"/tasker/workers/steps/{step_id}/release":                  {"post"},
	}
	require.Len(t, doc.Paths, len(want))
	for p, methods := range want {
		require.Contains(t, doc.Paths, p)
		for _, m := range methods {
			require.Contains(t, doc.Paths[p], m, "%s %s", m, p)
		}
	}
}

func TestPanicBecomes500JSON(t *testing.T) {
	h := taskerhttp.NewHandler(nil, nil) // a nil client panics on first use
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/tasker/tasks"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var body map[string]map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "internal", body["error"]["code"])
	require.NotEmpty(t, rec.Header().Get("X-Request-Id"))
}
