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

// A pass that fails while the worker stops, after the other pass loops
// ended, writes its results again itself: none is left for a loop that
// ended (the step would wait for its lease to expire).
func TestStopRecordsTheResultsOfAPassThatFailed(t *testing.T) {
	for range 5 {
		e := newEnv(t)
		e.fail.armed.Store(true)
		w := e.worker(orchestrator.Config{Passes: 2, Concurrency: 1, Run: func(context.Context, *taskerdriver.ClaimedStep) orchestrator.Result {
			return orchestrator.Result{Results: json.RawMessage(`{}`)}
		}})
		require.NoError(t, w.Start(t.Context()))
		task := e.create(step("a"))
		select {
		case <-e.fail.entered: // a pass holds the result and will fail
		case <-time.After(30 * time.Second):
			t.Fatal("no pass recorded")
		}
		stopped := make(chan struct{})
		go func() { _ = w.Stop(context.Background()); close(stopped) }()
		// Let the other loop see the worker stopping with no result
		// waiting and end (the window of the defect; not needed for the
		// outcome checked).
		time.Sleep(100 * time.Millisecond)
		close(e.fail.release)
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Fatal("Stop did not return")
		}
		require.Equal(t, taskertype.StateComplete, e.step(task.Steps[0].ID).State, "the failed pass's result is written before Stop returns")
	}
}

// The pass loops share what they know of ready steps: a loop whose own
// last look found nothing ready still claims after another loop's claim
// found more (here: a worker of one slot, two ready steps; the pass that
// records the first claims the second).
func TestConcurrentPassesShareWhatIsReady(t *testing.T) {
	for range 10 {
		e := newEnv(t)
		g := newGate()
		w := e.worker(orchestrator.Config{Passes: 2, Concurrency: 1, LeaseDuration: 30 * time.Minute, Run: g.run})
		require.NoError(t, w.Start(t.Context()))
		select {
		case <-e.wakes: // a loop read that nothing is ready
		case <-time.After(30 * time.Second):
			t.Fatal("no read of the next wake-up time")
		}
		e.create(step("a"), step("b"))
		g.waitStarted(t)
		g.let(t)
		select {
		case p := <-e.passes:
			require.True(t, p.claimed, "the pass that records the first step claims")
		case <-time.After(30 * time.Second):
			t.Fatal("no pass recorded the first step")
		}
		select {
		case <-g.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the second ready step was not claimed (left to the poll interval, an hour)")
		}
		g.let(t)
		stop(t, w)
	}
}

// A steps-ready notification that a pass answers while every free slot is
// held (here by a creation's claim, ClaimFor, whose transaction then claims
// nothing) is looked at again when the slots are let go unfilled: the ready
// step is not left to the poll interval (an hour here). PostgreSQL only:
// on SQLite the creation's open transaction holds the one writer's lock.
func TestReadyStepClaimedWhenHeldSlotsAreLetGo(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		if e.drv.Name() != "postgres" {
			t.Skip("a transaction held open on SQLite blocks every other write")
		}
		g := newGate()
		w := e.worker(orchestrator.Config{Concurrency: 1, Run: g.run})
		require.NoError(t, w.Start(t.Context()))
		defer stop(t, w)

		holding, release := make(chan struct{}), make(chan struct{})
		claimed := make(chan error, 1)
		go func() {
			tx, err := e.ex.Begin(t.Context())
			if err != nil {
				claimed <- err
				return
			}
			after, err := w.ClaimFor(t.Context(), tx, func(claim *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
				if claim != nil {
					close(holding) // the worker's one slot is held
				}
				<-release
				return nil, nil
			})
			if err != nil {
				_ = tx.Rollback(t.Context())
				claimed <- err
				return
			}
			err = tx.Commit(t.Context())
			after(err == nil)
			claimed <- err
		}()
		select {
		case <-holding:
		case <-time.After(30 * time.Second):
			t.Fatal("ClaimFor did not hold the slot")
		}
		task := e.create(step("a")) // notified while the slot is held
		select {
		case <-e.wakes: // a look while the slot was held finds nothing to do...
		case <-time.After(200 * time.Millisecond): // ...or the pass returned before reading
		}
		close(release)
		require.NoError(t, <-claimed)
		require.Equal(t, "a", g.waitStarted(t))
		g.let(t)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}
