package taskerhttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A create retried with the same Idempotency-Key answers 200 with the task
// the first create made (the default identity strategy would make a new
// one); the same key with another request is a 422; another key creates.
func TestIdempotencyKeyMakesCreateSafeToRetry(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		body := `{"name": "dummy_task", "context": {"dummy": true}}`
		first := e.do(http.MethodPost, "/tasker/tasks", body, "Idempotency-Key", "order-42").want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		for range 2 {
			again := e.do(http.MethodPost, "/tasker/tasks", body, "Idempotency-Key", "order-42").want(t, http.StatusOK).json(t)["task"].(map[string]any)
			require.Equal(t, first["task_id"], again["task_id"])
			require.Len(t, again["workflow_steps"], 4, "the repeat answers the whole task, as the first did")
		}
		res := e.do(http.MethodPost, "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": false}}`, "Idempotency-Key", "order-42").want(t, http.StatusUnprocessableEntity)
		require.Equal(t, "idempotency_key_reused", res.errorCode(t))
		other := e.do(http.MethodPost, "/tasker/tasks", body, "Idempotency-Key", "order-43").want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		require.NotEqual(t, first["task_id"], other["task_id"])
		e.do(http.MethodPost, "/tasker/tasks", body).want(t, http.StatusCreated)
		res = e.do(http.MethodPost, "/tasker/tasks", body, "Idempotency-Key", strings.Repeat("k", 256)).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "idempotency_key")
		list := e.do(http.MethodGet, "/tasker/tasks", nil).want(t, http.StatusOK).json(t)
		require.EqualValues(t, 3, list["pagination"].(map[string]any)["total"], "%s", list["pagination"])
	})
}
