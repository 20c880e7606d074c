package tasker_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// TaskRequest.IdempotencyKey through the Go API: a repeat under the key
// within Config.IdempotencyWindow returns the first task (Duplicate), for
// either identity strategy; another request under the key is
// ErrIdempotencyKeyReused; past the window the key is free again.
func TestIdempotencyKeyGoAPI(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		plain := template("default", "plain", "1.0.0", stepDef{name: "a"})
		hashed := template("default", "hashed", "1.0.0", stepDef{name: "a"})
		hashed.IdentityStrategy = tasker.IdentityHash
		e := newEnv(t, plain, hashed)
		for _, name := range []string{"plain", "hashed"} {
			req := func(ctx string) *tasker.TaskRequest {
				return &tasker.TaskRequest{Name: name, Context: json.RawMessage(ctx), IdempotencyKey: "order-7-" + name}
			}
			first, err := e.client.CreateTask(e.ctx, req(`{"n": 1}`))
			require.NoError(t, err)
			require.False(t, first.Duplicate)
			again, err := e.client.CreateTask(e.ctx, req(`{"n": 1}`))
			require.NoError(t, err, name)
			require.True(t, again.Duplicate, name)
			require.Equal(t, first.Task.ID, again.Task.ID, "%s: the task the first create made", name)

			_, err = e.client.CreateTask(e.ctx, req(`{"n": 2}`))
			require.ErrorIs(t, err, tasker.ErrIdempotencyKeyReused, name)

			e.clock.Advance(tasker.DefaultIdempotencyWindow + time.Minute)
			later, err := e.client.CreateTask(e.ctx, req(`{"n": 2}`))
			require.NoError(t, err, "%s: past the window the key is free", name)
			require.NotEqual(t, first.Task.ID, later.Task.ID)
		}
		tasks, err := e.client.ListTasks(e.ctx, &tasker.TaskListParams{Name: "plain"})
		require.NoError(t, err)
		require.Len(t, tasks.Tasks, 2, "one task per key and window, not one per create")
	})
}
