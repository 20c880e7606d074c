package taskerhttp_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// stepPath returns the API path of the named step of a task JSON.
func stepPath(t testing.TB, task map[string]any, name string) string {
	t.Helper()
	return fmt.Sprintf("/tasker/tasks/%d/workflow_steps/%d", idOf(task, "task_id"), idOf(stepByName(t, task, name), "workflow_step_id"))
}

func TestListAndGetSteps(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		id := idOf(task, "task_id")
		other := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		e.runUntilIdle()

		res := e.do("GET", fmt.Sprintf("/tasker/tasks/%d/workflow_steps", id), nil).want(t, http.StatusOK)
		steps := res.json(t)["steps"].([]any)
		require.Len(t, steps, 4)
		three := steps[2].(map[string]any)
		require.Equal(t, "step-three", three["name"])
		require.Len(t, three["parents_ids"], 1)
		require.Len(t, three["children_ids"], 1)

		stepID := idOf(three, "workflow_step_id")
		res = e.do("GET", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/%d", id, stepID), nil).want(t, http.StatusOK)
		step := res.json(t)["step"].(map[string]any)
		require.Equal(t, "complete", step["status"])
		require.EqualValues(t, 1, step["attempts"])
		require.Equal(t, map[string]any{"step": "step-three"}, step["results"])
		trs := step["transitions"].([]any)
		require.NotEmpty(t, trs)
		require.Equal(t, "complete", trs[len(trs)-1].(map[string]any)["to_state"])

		// A step of another task.
		otherStep := idOf(stepByName(t, other, "step-one"), "workflow_step_id")
		e.do("GET", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/%d", id, otherStep), nil).want(t, http.StatusNotFound)
		e.do("GET", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/99999", id), nil).want(t, http.StatusNotFound)
		e.do("GET", "/tasker/tasks/99999/workflow_steps", nil).want(t, http.StatusNotFound)
		res = e.do("GET", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/abc", id), nil).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "step_id")
		e.do("GET", "/tasker/tasks/x/workflow_steps", nil).want(t, http.StatusBadRequest)
	})
}

func TestUpdateStep(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		id := idOf(task, "task_id")
		path := stepPath(t, task, "step-four")
		// Scenario 24.
		res := e.do("PATCH", path, `{"retry_limit": 10}`).want(t, http.StatusOK)
		require.EqualValues(t, 10, res.json(t)["step"].(map[string]any)["retry_limit"])
		require.Len(t, res.json(t)["step"].(map[string]any)["parents_ids"], 1, "parents are kept in the answer")
		res = e.do("PUT", path, `{"workflow_step": {"inputs": {"k": "v"}}}`).want(t, http.StatusOK)
		step := res.json(t)["step"].(map[string]any)
		require.Equal(t, map[string]any{"k": "v"}, step["inputs"])
		require.EqualValues(t, 10, step["retry_limit"])

		res = e.do("PATCH", path, `{"retry_limit": 0}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "retry_limit")
		res = e.do("PATCH", path, `{"retry_limit": "ten"}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "retry_limit")
		res = e.do("PATCH", path, `{"inputs": [1]}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "inputs")
		res = e.do("PATCH", path, `{"status": "complete"}`).want(t, http.StatusBadRequest)
		require.Equal(t, "unknown_fields", res.errorCode(t))
		e.do("PATCH", path, `not json`).want(t, http.StatusBadRequest)
		e.do("PATCH", path, `{"retry_limit": 2}`, "Content-Type", "text/plain").want(t, http.StatusUnsupportedMediaType)
		e.do("PATCH", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/99999", id), `{"retry_limit": 2}`).want(t, http.StatusNotFound)
	})
}

func TestCancelStep(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		id := idOf(task, "task_id")
		path := stepPath(t, task, "step-four")
		res := e.do("DELETE", path, nil).want(t, http.StatusOK)
		body := res.json(t)
		require.Equal(t, true, body["cancelled"])
		require.Equal(t, "cancelled", body["step"].(map[string]any)["status"])
		res = e.do("DELETE", path, nil).want(t, http.StatusConflict)
		require.Equal(t, "conflict", res.errorCode(t))
		e.do("DELETE", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/424242", id), nil).want(t, http.StatusNotFound)
	})
}

func TestResolveStep(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "fragile"}`)
		id := idOf(task, "task_id")
		e.runUntilIdle()
		pay, prepare := stepPath(t, task, "pay"), stepPath(t, task, "prepare")

		res := e.do("POST", prepare+"/resolve", nil)
		require.Equal(t, http.StatusConflict, res.Status, "a complete step cannot be resolved")
		e.do("POST", pay+"/resolve", `{"results": {"paid": "by hand"}, "bogus": 1}`).want(t, http.StatusBadRequest)
		e.do("POST", pay+"/resolve", `{"results": 1}`, "Content-Type", "text/plain").want(t, http.StatusUnsupportedMediaType)

		res = e.do("POST", pay+"/resolve", `{"results": {"paid": "by hand"}, "reason": "paid at the till"}`).want(t, http.StatusOK)
		step := res.json(t)["step"].(map[string]any)
		require.Equal(t, "resolved_manually", step["status"])
		require.Equal(t, map[string]any{"paid": "by hand"}, step["results"])
		e.runUntilIdle()
		got := e.do("GET", fmt.Sprintf("/tasker/tasks/%d", id), nil).json(t)["task"].(map[string]any)
		require.Contains(t, []any{"complete", "resolved_manually"}, got["status"])
		require.Equal(t, "complete", stepByName(t, got, "ship")["status"])

		// An empty body is allowed.
		task2 := e.createTask(`{"name": "fragile"}`)
		e.do("POST", stepPath(t, task2, "ship")+"/resolve", nil).want(t, http.StatusOK)
		e.do("POST", fmt.Sprintf("/tasker/tasks/%d/workflow_steps/55555/resolve", id), nil).want(t, http.StatusNotFound)
	})
}
