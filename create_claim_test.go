package tasker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// A client whose worker runs in the background claims a new task's first
// steps in the creating transaction (create-and-claim): when CreateTask
// returns, the root step is already in progress on this worker and its
// handler started, and the task then runs to the end as usual. The events
// keep their order: the task's creation before its start.
func TestCreateAndClaim(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnvWith(t, func(cfg *tasker.Config) { cfg.Now = nil }) // the worker runs on the real clock
		gate, started := make(chan struct{}), make(chan string, 2)
		require.NoError(t, e.reg.RegisterHandler("gated", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			started <- s.Step.Name
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return nil, nil
		}), false))
		require.NoError(t, e.reg.RegisterTemplate(&tasker.TaskTemplate{Name: "gated", Steps: []tasker.StepTemplate{
			{Name: "a", Handler: "gated"}, {Name: "b", Handler: "gated", DependsOn: []string{"a"}},
		}}, tasker.RegisterOptions{}))
		events, unsub := e.client.Subscribe("task.*", "step.*")
		defer unsub()
		require.NoError(t, e.client.Start(e.ctx))
		defer func() { require.NoError(t, e.client.Stop(context.Background())) }()

		res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "gated"})
		require.NoError(t, err)
		// Claimed by the creation itself: no pass of the worker came between.
		steps := e.steps(res.Task.ID)
		require.Equal(t, taskertype.StateInProgress, steps["a"].State)
		require.Equal(t, 1, steps["a"].Attempts)
		require.Equal(t, taskertype.StatePending, steps["b"].State)
		require.Equal(t, taskertype.StateInProgress, e.task(res.Task.ID).State)
		require.Equal(t, "a", <-started)
		close(gate)
		task, err := e.client.WaitTask(e.ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, task.State)
		e.checkAudit(res.Task.ID)

		var names []string
		timeout := time.After(10 * time.Second)
		for len(names) < 3 {
			select {
			case ev := <-events:
				if ev.Task != nil && ev.Task.ID == res.Task.ID && (ev.Step == nil || ev.Step.Name == "a") {
					names = append(names, ev.Name)
				}
			case <-timeout:
				t.Fatalf("events so far: %v", names)
			}
		}
		require.Equal(t, taskertype.EventTaskInitializeRequested, names[0], "the creation's event comes first: %v", names)
	})
}

// A creation that finds its task already there (the same identity, or a
// replayed idempotency key) claims nothing and gives back the worker's
// slots it reserved for the claim: the worker keeps claiming.
func TestCreateAndClaimDuplicateKeepsTheWorkerClaiming(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		hashed := dummyTask()
		hashed.Name, hashed.IdentityStrategy = "hashed", tasker.IdentityHash
		e := newEnvWith(t, func(cfg *tasker.Config) { cfg.Now = nil }, hashed, dummyTask())
		require.NoError(t, e.client.Start(e.ctx))
		defer func() { require.NoError(t, e.client.Stop(context.Background())) }()
		wait := func(id int64) {
			t.Helper()
			ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
			defer cancel()
			task, err := e.client.WaitTask(ctx, id)
			require.NoError(t, err, "task %d: state %s", id, e.task(id).State)
			require.Equal(t, taskertype.StateComplete, task.State)
		}
		req := &tasker.TaskRequest{Name: "hashed", Context: `{"a":1}`, Initiator: "me", SourceSystem: "s", Reason: "r"}
		first, err := e.client.CreateTask(e.ctx, req)
		require.NoError(t, err)
		wait(first.Task.ID)
		keyed := &tasker.TaskRequest{Name: "dummy_task", IdempotencyKey: "k1"}
		once, err := e.client.CreateTask(e.ctx, keyed)
		require.NoError(t, err)
		wait(once.Task.ID)
		for range 3 { // more duplicates than one reservation would show
			dup, err := e.client.CreateTask(e.ctx, req)
			require.NoError(t, err)
			require.True(t, dup.Duplicate)
			replay, err := e.client.CreateTask(e.ctx, keyed)
			require.NoError(t, err)
			require.True(t, replay.Replayed)
		}
		next, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "dummy_task"})
		require.NoError(t, err)
		wait(next.Task.ID)
	})
}
