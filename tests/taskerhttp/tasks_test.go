package taskerhttp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerhttp"
)

func TestCreateTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		// Scenario 21: envelope body, defaults.
		res := e.do("POST", "/tasker/tasks", `{"task": {"name": "dummy_task", "context": {"dummy": true}, "tags": ["a"]}}`).want(t, http.StatusCreated)
		task := res.json(t)["task"].(map[string]any)
		require.Equal(t, "default", task["namespace"])
		require.Equal(t, "0.1.0", task["version"])
		require.Equal(t, "default.dummy_task@0.1.0", task["full_name"])
		require.Equal(t, "pending", task["status"])
		require.Len(t, task["workflow_steps"], 4)
		require.Equal(t, fmt.Sprintf("/tasker/tasks/%d", idOf(task, "task_id")), res.Header.Get("Location"))
		require.True(t, strings.HasSuffix(task["created_at"].(string), "Z"), "UTC timestamp: %v", task["created_at"])

		// Flat body, namespace and version.
		task = e.createTask(map[string]any{"name": "dummy_task", "namespace": "testing", "version": "1.0.0", "initiator": "ada", "source_system": "shop", "reason": "test"})
		require.Equal(t, "testing.dummy_task@1.0.0", task["full_name"])
		require.Equal(t, "ada", task["initiator"])
		// Latest version by default.
		task = e.createTask(`{"name": "dummy_task", "namespace": "testing"}`)
		require.Equal(t, "1.2.0", task["version"])

		// Failures.
		res = e.do("POST", "/tasker/tasks", `{"task": {"name": "dummy_task", "context": {"bad_param": true, "dummy": 99}}}`).want(t, http.StatusBadRequest)
		require.Equal(t, "validation_failed", res.errorCode(t))
		require.Contains(t, res.errorFields(t), "context/dummy")

		res = e.do("POST", "/tasker/tasks", `{"name": "order", "namespace": "ecommerce", "context": {"order_id": "x"}}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "context/order_id")
		res = e.do("POST", "/tasker/tasks", `{"name": "order", "namespace": "ecommerce", "context": {}}`).want(t, http.StatusBadRequest)
		require.NotEmpty(t, res.errorFields(t))

		res = e.do("POST", "/tasker/tasks", `{"task": {"context": {"dummy": true}}}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "name")

		res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "namespace": "nonexistent", "version": "1.0.0"}`).want(t, http.StatusNotFound)
		require.Equal(t, "not_found", res.errorCode(t))
		e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "namespace": "testing", "version": "9.9.9"}`).want(t, http.StatusNotFound)

		res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "colour": "red", "size": 1}`).want(t, http.StatusBadRequest)
		require.Equal(t, "unknown_fields", res.errorCode(t))
		require.Contains(t, res.errorFields(t), "colour")
		require.Contains(t, res.errorFields(t), "size")
		res = e.do("POST", "/tasker/tasks", `{"task": {"name": "dummy_task"}, "extra": 1}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "extra")

		res = e.do("POST", "/tasker/tasks", `{"name": 12, "tags": "x", "context": [1]}`).want(t, http.StatusBadRequest)
		for _, f := range []string{"name", "tags", "context"} {
			require.Contains(t, res.errorFields(t), f)
		}

		res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task",`).want(t, http.StatusBadRequest)
		require.Equal(t, "invalid_json", res.errorCode(t))
		res = e.do("POST", "/tasker/tasks", `[1, 2]`).want(t, http.StatusBadRequest)
		require.Equal(t, "invalid_json", res.errorCode(t))

		res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task"}`, "Content-Type", "text/plain").want(t, http.StatusUnsupportedMediaType)
		require.Equal(t, "unsupported_media_type", res.errorCode(t))
	})
}

func TestCreateTaskBodyTooLarge(t *testing.T) {
	e := newEnvOpts(t, &taskerhttp.Options{MaxBodyBytes: 64})
	res := e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true, "padding": "`+strings.Repeat("x", 100)+`"}}`).want(t, http.StatusRequestEntityTooLarge)
	require.Equal(t, "payload_too_large", res.errorCode(t))
}

func TestCreateTaskHashIdentityConcurrent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const n = 20
		var wg sync.WaitGroup
		statuses := make([]int, n)
		ids := make([]int64, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.do("POST", "/tasker/tasks", `{"name": "unique", "context": {"k": 1}, "initiator": "ada"}`)
				statuses[i] = res.Status
				if res.Status < 300 {
					ids[i] = idOf(res.json(t)["task"].(map[string]any), "task_id")
				}
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			require.Contains(t, []int{http.StatusCreated, http.StatusOK}, statuses[i])
			if statuses[i] == http.StatusCreated {
				created++
			}
			require.Equal(t, ids[0], ids[i])
		}
		require.Equal(t, 1, created, "exactly one creation")
		list := e.do("GET", "/tasker/tasks?name=unique", nil).json(t)
		require.EqualValues(t, 1, list["pagination"].(map[string]any)["total"])
		// The duplicate answer carries the steps too.
		res := e.do("POST", "/tasker/tasks", `{"name": "unique", "context": {"k": 1}, "initiator": "ada"}`).want(t, http.StatusOK)
		require.Len(t, res.json(t)["task"].(map[string]any)["workflow_steps"], 1)
	})
}

func TestListTasks(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		before := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		for i := range 5 {
			e.createTask(map[string]any{"name": "dummy_task", "context": map[string]any{"dummy": true}, "tags": []string{"batch", fmt.Sprintf("n%d", i)}, "initiator": "ada"})
		}
		e.createTask(`{"name": "fragile", "source_system": "erp"}`)
		e.createTask(`{"name": "diamond", "namespace": "ecommerce"}`)
		e.runUntilIdle()

		res := e.do("GET", "/tasker/tasks", nil).want(t, http.StatusOK)
		body := res.json(t)
		pg := body["pagination"].(map[string]any)
		require.EqualValues(t, 7, pg["total"])
		require.EqualValues(t, 20, pg["limit"])
		require.Equal(t, false, pg["has_more"])
		tasks := body["tasks"].([]any)
		require.Len(t, tasks, 7)
		require.Greater(t, idOf(tasks[0].(map[string]any), "task_id"), idOf(tasks[6].(map[string]any), "task_id"), "newest first")

		count := func(q string) int {
			t.Helper()
			res := e.do("GET", "/tasker/tasks?"+q, nil)
			require.Equal(t, http.StatusOK, res.Status, "%s: %s", q, res.Body)
			return len(res.json(t)["tasks"].([]any))
		}
		require.Equal(t, 1, count("status=error"))
		require.Equal(t, 7, count("status=error,complete"))
		require.Equal(t, 1, count("namespace=ecommerce"))
		require.Equal(t, 5, count("name=dummy_task&version=0.1.0"))
		require.Equal(t, 5, count("initiator=ada"))
		require.Equal(t, 1, count("source_system=erp"))
		require.Equal(t, 5, count("tags=batch"))
		require.Equal(t, 1, count("tags=batch,n3"))
		require.Equal(t, 0, count("tags=batch,nope"))
		require.Equal(t, 7, count("created_since="+url.QueryEscape(before)))
		require.Equal(t, 0, count("created_until="+url.QueryEscape(before)))
		res = e.do("GET", "/tasker/tasks?limit=2&offset=1&sort_by=task_id&sort_order=asc", nil)
		body = res.json(t)
		require.Equal(t, true, body["pagination"].(map[string]any)["has_more"])
		tasks = body["tasks"].([]any)
		require.Len(t, tasks, 2)
		require.Less(t, idOf(tasks[0].(map[string]any), "task_id"), idOf(tasks[1].(map[string]any), "task_id"))
		for _, col := range []string{"created_at", "requested_at", "name", "status", "namespace", "updated_at"} {
			require.Equal(t, 7, count("sort_by="+col+"&sort_order=desc"))
		}

		for q, param := range map[string]string{
			"sort_by=password":         "sort_by",
			"sort_order=sideways":      "sort_order",
			"limit=0":                  "limit",
			"limit=1001":               "limit",
			"limit=ten":                "limit",
			"offset=-1":                "offset",
			"status=done":              "status",
			"created_since=yesterday":  "created_since",
			"created_until=2025-13-01": "created_until",
		} {
			res := e.do("GET", "/tasker/tasks?"+q, nil).want(t, http.StatusBadRequest, q)
			require.Equal(t, "invalid_parameter", res.errorCode(t))
			require.Contains(t, res.errorFields(t), param, q)
		}
		res = e.do("GET", "/tasker/tasks?sort_by=password", nil)
		require.Contains(t, string(res.Body), "task_id, created_at, requested_at, name, status, namespace, updated_at")
	})
}

func TestGetTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		id := idOf(task, "task_id")
		path := fmt.Sprintf("/tasker/tasks/%d", id)

		res := e.do("GET", path, nil).want(t, http.StatusOK)
		got := res.json(t)["task"].(map[string]any)
		require.Len(t, got["workflow_steps"], 4)
		require.NotContains(t, got, "dependency_analysis")

		// Scenario 1: initial readiness.
		res = e.do("GET", path+"?include_dependencies=true", nil).want(t, http.StatusOK)
		da := res.json(t)["task"].(map[string]any)["dependency_analysis"].(map[string]any)
		require.Equal(t, "has_ready_steps", da["execution_status"])
		require.Equal(t, "execute_ready_steps", da["recommended_action"])
		require.Equal(t, "healthy", da["health_status"])
		require.EqualValues(t, 0, da["completion_percentage"])
		require.EqualValues(t, 2, da["ready_steps"])
		require.Equal(t, "template", da["graph_source"])
		require.Equal(t, []any{"step-one", "step-two"}, da["roots"])
		require.Equal(t, []any{"step-one", "step-four"}, da["leaves"])
		require.EqualValues(t, 2, da["levels"].(map[string]any)["step-four"])
		ready := map[string]bool{}
		for _, s := range da["steps"].([]any) {
			sm := s.(map[string]any)
			ready[sm["name"].(string)] = sm["ready_for_execution"].(bool)
		}
		require.Equal(t, map[string]bool{"step-one": true, "step-two": true, "step-three": false, "step-four": false}, ready)

		e.runUntilIdle()
		res = e.do("GET", path+"?include_dependencies=1", nil)
		got = res.json(t)["task"].(map[string]any)
		require.Equal(t, "complete", got["status"])
		require.Equal(t, true, got["complete"])
		require.EqualValues(t, 100, got["dependency_analysis"].(map[string]any)["completion_percentage"])
		for _, s := range got["workflow_steps"].([]any) {
			require.Equal(t, true, s.(map[string]any)["processed"])
		}

		res = e.do("GET", path+"?include_dependencies=maybe", nil).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "include_dependencies")
		res = e.do("GET", "/tasker/tasks/999999", nil).want(t, http.StatusNotFound)
		require.Equal(t, "not_found", res.errorCode(t))
		for _, bad := range []string{"abc", "0", "-3", "1.5", "99999999999999999999"} {
			res = e.do("GET", "/tasker/tasks/"+bad, nil).want(t, http.StatusBadRequest, bad)
			require.Contains(t, res.errorFields(t), "task_id")
		}
	})
}

func TestUpdateTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := idOf(e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`), "task_id")
		path := fmt.Sprintf("/tasker/tasks/%d", id)
		res := e.do("PATCH", path, `{"reason": "audit", "tags": ["x", "y"]}`).want(t, http.StatusOK)
		task := res.json(t)["task"].(map[string]any)
		require.Equal(t, "audit", task["reason"])
		require.Equal(t, []any{"x", "y"}, task["tags"])
		res = e.do("PUT", path, `{"task": {"tags": []}}`).want(t, http.StatusOK)
		task = res.json(t)["task"].(map[string]any)
		require.Equal(t, "audit", task["reason"])
		require.Equal(t, []any{}, task["tags"])

		res = e.do("PATCH", path, `{"status": "complete"}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "status")
		e.do("PATCH", path, `{}`).want(t, http.StatusBadRequest)
		res = e.do("PATCH", path, `{"reason": 5}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "reason")
		e.do("PATCH", path, `{"reason": "x"}`, "Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusUnsupportedMediaType)
		e.do("PATCH", "/tasker/tasks/424242", `{"reason": "x"}`).want(t, http.StatusNotFound)
		e.do("PUT", "/tasker/tasks/x", `{"reason": "x"}`).want(t, http.StatusBadRequest)
	})
}

func TestCancelTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := idOf(e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`), "task_id")
		path := fmt.Sprintf("/tasker/tasks/%d", id)
		// Scenario 24.
		res := e.do("DELETE", path+"?reason=operator", nil).want(t, http.StatusOK)
		body := res.json(t)
		require.Equal(t, true, body["cancelled"])
		require.Equal(t, "cancelled", body["task"].(map[string]any)["status"])
		res = e.do("DELETE", path, nil).want(t, http.StatusConflict)
		require.Equal(t, "conflict", res.errorCode(t))

		done := idOf(e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`), "task_id")
		e.runUntilIdle()
		e.do("DELETE", fmt.Sprintf("/tasker/tasks/%d", done), nil).want(t, http.StatusConflict)
		e.do("DELETE", "/tasker/tasks/777777", nil).want(t, http.StatusNotFound)
	})
}

func TestRetryTask(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := idOf(e.createTask(`{"name": "fragile"}`), "task_id")
		path := fmt.Sprintf("/tasker/tasks/%d", id)
		e.do("POST", path+"/retry", nil).want(t, http.StatusConflict, "a pending task cannot be retried")
		e.runUntilIdle()
		task := e.do("GET", path, nil).json(t)["task"].(map[string]any)
		require.Equal(t, "error", task["status"])
		res := e.do("POST", path+"/retry", nil).want(t, http.StatusOK)
		require.Equal(t, "pending", res.json(t)["task"].(map[string]any)["status"])
		e.do("POST", "/tasker/tasks/888888/retry", nil).want(t, http.StatusNotFound)
		res = e.do("GET", path+"/retry", nil).want(t, http.StatusMethodNotAllowed)
		require.Equal(t, "method_not_allowed", res.errorCode(t))
		require.Contains(t, res.Header.Get("Allow"), "POST")
	})
}

func TestUnknownRouteAndRequestID(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/tasker/nothing/here", nil).want(t, http.StatusNotFound)
	require.Equal(t, "not_found", res.errorCode(t))
	e.do("GET", "/elsewhere", nil).want(t, http.StatusNotFound)
	e.do("PATCH", "/tasker/tasks", `{}`).want(t, http.StatusMethodNotAllowed)
	res = e.do("GET", "/tasker/health/live", nil, "X-Request-Id", "abc-123")
	require.Equal(t, "abc-123", res.Header.Get("X-Request-Id"))
	res = e.do("GET", "/tasker/health/live", nil, "X-Request-Id", strings.Repeat("x", 300))
	require.Len(t, res.Header.Get("X-Request-Id"), 32)
}
