package orchestrator_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// A worker running several passes at once (Config.Passes) runs every
// attempt once, never more handlers than its concurrency, and finishes
// every task: its passes share the results and the free slots.
func TestConcurrentPassesRunEveryAttemptOnce(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		const tasks, concurrency = 30, 6
		created := make([]*taskerdriver.TaskCreateResult, tasks)
		for i := range created {
			created[i] = e.create(step("a"), step("b", 0), step("c", 0), step("d", 1, 2))
		}
		var (
			mu             sync.Mutex
			runs           = map[int64]int{}
			running, most  atomic.Int32
			allRun         = make(chan struct{})
			remainingSteps = tasks * 4
		)
		w := e.worker(orchestrator.Config{Passes: 3, Concurrency: concurrency, Run: func(_ context.Context, c *taskerdriver.ClaimedStep) orchestrator.Result {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(200 * time.Microsecond) // results arrive while other passes are in the database
			mu.Lock()
			runs[c.Step.ID]++
			if remainingSteps--; remainingSteps == 0 {
				close(allRun)
			}
			mu.Unlock()
			return orchestrator.Result{Results: json.RawMessage(`{}`)}
		}})
		require.NoError(t, w.Start(t.Context()))
		select {
		case <-allRun:
		case <-time.After(60 * time.Second):
			t.Fatal("not every step ran")
		}
		for _, c := range created {
			e.waitEvent(taskertype.EventTaskCompleted, c.Task.ID)
		}
		stop(t, w)

		require.LessOrEqual(t, most.Load(), int32(concurrency), "never more handlers than Concurrency")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, runs, tasks*4)
		for _, c := range created {
			tk, err := e.ex.TaskGet(t.Context(), c.Task.ID)
			require.NoError(t, err)
			require.Equal(t, taskertype.StateComplete, tk.State)
			for _, s := range c.Steps {
				require.Equal(t, 1, runs[s.ID], "step %d ran once", s.ID)
				require.Equal(t, 1, e.step(s.ID).Attempts)
			}
		}
	})
}

// Stop ends every pass loop of an idle worker at once, whether it asks or
// the context given to Start ends: the loops other than the first wait on
// their own, and the poll interval is an hour here.
func TestStopEndsEveryPassLoop(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		for _, byContext := range []bool{false, true} {
			w := e.worker(orchestrator.Config{Passes: 4, Run: func(context.Context, *taskerdriver.ClaimedStep) orchestrator.Result {
				return orchestrator.Result{Results: json.RawMessage(`{}`)}
			}})
			ctx, cancel := context.WithCancel(t.Context())
			require.NoError(t, w.Start(ctx))
			task := e.create(step("a"))
			e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
			if byContext {
				cancel()
			}
			stopped := make(chan error, 1)
			go func() { stopped <- w.Stop(context.Background()) }()
			select {
			case err := <-stopped:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("Stop did not return (stopped by context: %v)", byContext)
			}
			cancel()
		}
	})
}

// The heartbeat runs in whichever pass loop wakes when it is due, one at a
// time: the leases of a step held by a worker of several passes are
// extended once a third of the lease on. (The first beat may come from a
// loop that had no step yet; the claim's lease needs none before then.)
func TestConcurrentPassesExtendLeases(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.gated(orchestrator.Config{LeaseDuration: 30 * time.Second, Passes: 3}, step("a"))
		defer stop(t, w)
		g.waitStarted(t)
		require.Equal(t, base.Add(30*time.Second), e.step(task.Steps[0].ID).LeaseExpiresAt.UTC(), "the claim's lease")

		beat := e.nextBeat()
		require.Equal(t, []int64{task.Steps[0].ID}, beat.IDs)
		require.Equal(t, base.Add(41*time.Second), e.step(task.Steps[0].ID).LeaseExpiresAt.UTC())
		close(g.release)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}
