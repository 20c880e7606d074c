package testdb

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
)

var taskSeq atomic.Int64

// CreateTask creates a task default.t@1.0.0 of steps (context {}, a new
// identity) requested and created at at, through the driver seam.
func CreateTask(t testing.TB, ex taskerdriver.Executor, at time.Time, steps ...taskerdriver.StepCreateParams) *taskerdriver.TaskCreateResult {
	t.Helper()
	res, err := ex.TaskCreate(t.Context(), &taskerdriver.TaskCreateParams{
		Namespace: "default", Name: "t", Version: "1.0.0", Context: json.RawMessage(`{}`),
		Initiator: "test", SourceSystem: "test", Reason: "test", Tags: []string{},
		IdentityHash: fmt.Sprintf("%s-%d", t.Name(), taskSeq.Add(1)), RequestedAt: at, Now: at, Steps: steps,
	})
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	return res
}
