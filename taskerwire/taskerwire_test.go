package taskerwire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerwire"
)

// The JSON forms are the bodies of the REST routes (docs/remote-workers.md).
func TestJSONForms(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{taskerwire.ClaimRequest{WorkerID: "w1", Queues: []string{"billing"}, Limit: 2, Lease: 90 * time.Second, Wait: 1500 * time.Millisecond},
			`{"worker_id": "w1", "queues": ["billing"], "limit": 2, "lease_seconds": 90, "wait_seconds": 1.5}`},
		{taskerwire.ClaimRequest{WorkerID: "w1", Queues: []string{"q"}}, `{"worker_id": "w1", "queues": ["q"], "wait_seconds": 0}`},
		{taskerwire.HeartbeatRequest{WorkerID: "w1", StepIDs: []int64{3, 4}, Lease: time.Minute},
			`{"worker_id": "w1", "step_ids": [3, 4], "lease_seconds": 60}`},
		{&taskerwire.Result{WorkerID: "w1", StepID: 9, Attempt: 1, Results: json.RawMessage(`{"ok": true}`)},
			`{"worker_id": "w1", "attempt": 1, "results": {"ok": true}}`},
		{&taskerwire.Result{WorkerID: "w1", Attempt: 2, Error: &taskerwire.Error{Message: "busy", RetryAfter: 30 * time.Second, Class: "Busy"},
			Events: []taskerwire.Event{{Name: "order.held", Payload: json.RawMessage(`1`)}}},
			`{"worker_id": "w1", "attempt": 2, "error": {"message": "busy", "class": "Busy", "retry_after_seconds": 30}, "events": [{"name": "order.held", "payload": 1}]}`},
		{&taskerwire.Result{WorkerID: "w1", Attempt: 1, Annotations: []taskerwire.Annotation{{Type: "billing", Annotation: json.RawMessage(`{"invoice": "INV-1"}`)}}},
			`{"worker_id": "w1", "attempt": 1, "annotations": [{"annotation_type": "billing", "annotation": {"invoice": "INV-1"}}]}`},
		{taskerwire.ReleaseRequest{WorkerID: "w1", Attempt: 3}, `{"worker_id": "w1", "attempt": 3}`},
	} {
		b, err := json.Marshal(c.v)
		require.NoError(t, err)
		require.JSONEq(t, c.want, string(b))
	}
	require.Equal(t, "/tasker/workers/steps/7/result", taskerwire.ResultPath(7))
	require.Equal(t, "/tasker/workers/steps/7/release", taskerwire.ReleasePath(7))
}
