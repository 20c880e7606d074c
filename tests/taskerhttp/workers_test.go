package taskerhttp_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttp"
)

const workerToken = "s3cret-token"

func newWorkerEnv(t *testing.T) *env {
	t.Helper()
	e := newEnvOpts(t, &taskerhttp.Options{WorkerToken: workerToken})
	require.NoError(t, e.client.Registry().RegisterTemplate(&tasker.TaskTemplate{Name: "remote_flow", Steps: []tasker.StepTemplate{
		{Name: "prepare", Handler: "ok"},
		{Name: "charge", Handler: "remote", DependsOn: []string{"prepare"}, RetryLimit: 2, HandlerConfig: map[string]any{"queue": "billing"}},
	}}, tasker.RegisterOptions{}))
	return e
}

var auth = []string{"Authorization", "Bearer " + workerToken}

// The worker routes over HTTP: claim with the input document, heartbeat,
// a failure with retry_after_seconds, a success that completes the task,
// and a late result refused with 409 lease_lost.
func TestWorkerRoutes(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newWorkerEnv(t)
		res := e.do("POST", "/tasker/tasks", `{"name":"remote_flow","context":{"order":1}}`).want(t, http.StatusCreated)
		taskID := int64(res.json(t)["task"].(map[string]any)["task_id"].(float64))
		require.NoError(t, e.client.RunUntilIdle(t.Context()))

		res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"py-1","queues":["billing"],"lease_seconds":60,"wait_seconds":0.1,"limit":5}`, auth...).want(t, http.StatusOK)
		steps := res.json(t)["steps"].([]any)
		require.Len(t, steps, 1)
		st := steps[0].(map[string]any)
		require.Equal(t, "charge", st["step_name"])
		require.Equal(t, float64(taskID), st["task_id"])
		require.Equal(t, float64(1), st["attempt"])
		require.Equal(t, map[string]any{"order": float64(1)}, st["context"])
		require.Equal(t, map[string]any{"step": "prepare"}, st["dependencies"].(map[string]any)["prepare"])
		require.Equal(t, map[string]any{"queue": "billing"}, st["handler_config"])
		stepID := int64(st["step_id"].(float64))
		path := "/tasker/workers/steps/" + strconv.FormatInt(stepID, 10) + "/result"

		res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"py-2","queues":["billing"]}`, auth...)
		require.Equal(t, []any{}, res.json(t)["steps"], "nothing left to claim")

		res = e.do("POST", "/tasker/workers/heartbeat", `{"worker_id":"py-1","step_ids":[`+strconv.FormatInt(stepID, 10)+`,999999],"lease_seconds":30}`, auth...).want(t, http.StatusOK)
		require.Equal(t, []any{float64(stepID)}, res.json(t)["step_ids"])
		require.Equal(t, []any{float64(999999)}, res.json(t)["lost_step_ids"])

		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1,"error":{"message":"gateway busy","retry_after_seconds":0.5,"class":"TimeoutError","details":{"gateway":"a"}}}`, auth...).want(t, http.StatusOK)
		step := res.json(t)["step"].(map[string]any)
		require.Equal(t, "error", step["status"])
		require.Equal(t, "billing", step["queue"])
		le := step["last_error"].(map[string]any)
		require.Equal(t, "TimeoutError", le["class"])
		require.Equal(t, map[string]any{"gateway": "a"}, le["details"])
		require.Equal(t, float64(500*time.Millisecond), le["retry_after"])

		// The retry becomes ready after 0.5 s; a waiting claim gets it.
		res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"py-2","queues":["billing"],"wait_seconds":10}`, auth...)
		steps = res.json(t)["steps"].([]any)
		require.Len(t, steps, 1)
		require.Equal(t, float64(2), steps[0].(map[string]any)["attempt"])

		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1,"results":{"late":true}}`, auth...).want(t, http.StatusConflict)
		require.Equal(t, "lease_lost", res.errorCode(t))
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "attempt 2 is now running on worker py-2")

		res = e.do("POST", path, `{"worker_id":"py-2","attempt":2,"results":{"charge_id":"ch_9"}}`, auth...).want(t, http.StatusOK)
		require.Equal(t, "complete", res.json(t)["step"].(map[string]any)["status"])
		res = e.do("GET", "/tasker/tasks/"+strconv.FormatInt(taskID, 10), nil)
		require.Equal(t, "complete", res.json(t)["task"].(map[string]any)["status"])
	})
}

func TestWorkerRoutesAuthAndValidation(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t)
	res := e.do("POST", "/tasker/workers/claim", `{"worker_id":"w","queues":["billing"]}`).want(t, http.StatusUnauthorized)
	require.Equal(t, "unauthorized", res.errorCode(t))
	require.Equal(t, `Bearer realm="tasker workers"`, res.Header.Get("WWW-Authenticate"))
	e.do("POST", "/tasker/workers/heartbeat", `{"worker_id":"w","step_ids":[1]}`, "Authorization", "Bearer wrong").want(t, http.StatusUnauthorized)

	res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"","queues":"billing","lease_seconds":-1,"wait_seconds":"x","limit":0,"extra":1}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, "unknown_fields", res.errorCode(t))
	res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"","queues":"billing","lease_seconds":-1,"wait_seconds":"x","limit":0}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{
		"queues": "must be an array of strings", "lease_seconds": "must be a non-negative number of seconds",
		"wait_seconds": "must be a non-negative number of seconds", "limit": "must be between 1 and 100",
	}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"w","queues":["billing"],"wait_seconds":31}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{"wait_seconds": "must be between 0 and 30s"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"w","queues":["billing"],"lease_seconds":0.5}`, auth...)
	require.Equal(t, map[string]any{"lease_seconds": "must be between 1s and 1h0m0s"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"error":{"message":"m","kind":"permanent","retry_after_seconds":3}}`, auth...)
	require.Equal(t, map[string]any{"error.retry_after_seconds": "must be a positive delay on a retryable error"}, res.errorFields(t))

	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"results":1,"error":{"message":"x"}}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{"error": "give either results (success) or error (failure), not both"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"error":{"message":"x","stack":"y"}}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{"error.stack": "unknown field"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"error":{"kind":"fatal","retry_after_seconds":"soon"}}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{"error.retry_after_seconds": "must be a non-negative number of seconds"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"error":{"kind":"fatal"}}`, auth...).want(t, http.StatusBadRequest)
	require.Equal(t, map[string]any{"error.message": "is required: say what went wrong", "error.kind": `"fatal" is unknown: use retryable, permanent or timeout`}, res.errorFields(t))
	e.do("POST", "/tasker/workers/steps/999999/result", `{"worker_id":"w","attempt":1}`, auth...).want(t, http.StatusNotFound)
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"events":{}}`, auth...)
	require.Equal(t, map[string]any{"events": `must be an array of {"name": ..., "payload": ...}`}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"events":[{"name":"a.b","extra":1}]}`, auth...)
	require.Equal(t, map[string]any{"events[0].extra": "unknown field"}, res.errorFields(t))
	res = e.do("POST", "/tasker/workers/steps/1/result", `{"worker_id":"w","attempt":1,"events":[{"name":7}]}`, auth...)
	require.Equal(t, map[string]any{"events[0].name": "must be a string"}, res.errorFields(t))

	// A server without a token refuses worker requests.
	plain := newEnv(t)
	res = plain.do("POST", "/tasker/workers/claim", `{"worker_id":"w","queues":["billing"]}`, auth...)
	require.Equal(t, http.StatusForbidden, res.Status)
	require.Equal(t, "workers_disabled", res.errorCode(t))
}

func TestWorkerRelease(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newWorkerEnv(t)
		e.do("POST", "/tasker/tasks", `{"name":"remote_flow"}`).want(t, http.StatusCreated)
		require.NoError(t, e.client.RunUntilIdle(t.Context()))
		res := e.do("POST", "/tasker/workers/claim", `{"worker_id":"py-1","queues":["billing"]}`, auth...)
		st := res.json(t)["steps"].([]any)[0].(map[string]any)
		path := "/tasker/workers/steps/" + strconv.FormatInt(int64(st["step_id"].(float64)), 10) + "/release"
		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1}`, auth...).want(t, http.StatusOK)
		step := res.json(t)["step"].(map[string]any)
		require.Equal(t, "pending", step["status"])
		require.Equal(t, float64(0), step["attempts"])
		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1}`, auth...).want(t, http.StatusConflict)
		require.Equal(t, "lease_lost", res.errorCode(t))
		res = e.do("POST", path, `{"worker_id":"py-1"}`, auth...).want(t, http.StatusBadRequest)
		require.Equal(t, map[string]any{"attempt": "is required: the attempt number of the claim"}, res.errorFields(t))
	})
}
