package tasker_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskertype"
)

// A worker that dies mid-step loses its lease; the step is rescued as a
// failed attempt ("worker lost"), retried by the normal policy, and a late
// result from the dead worker is rejected.
func TestLeaseRescueRerunsLostStep(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "only"}))
		task := e.create("one", nil)
		ex := e.client.Driver().Executor()
		now := e.clock.Now()
		claimed, err := ex.StepClaim(e.ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "dead-worker", LeaseExpiresAt: now.Add(30 * time.Second)})
		require.NoError(t, err)
		require.Len(t, claimed, 1)

		e.singlePass() // lease still valid: nothing to do
		require.Equal(t, taskertype.StateInProgress, e.steps(task.ID)["only"].State)

		e.clock.Advance(31 * time.Second)
		e.singlePass()
		s := e.steps(task.ID)["only"]
		require.Equal(t, taskertype.StateError, s.State)
		require.Equal(t, 1, s.Attempts, "the lost attempt counts")
		require.Equal(t, "worker_lost", s.LastError.Kind)
		require.Contains(t, s.LastError.Message, "dead-worker")
		require.Zero(t, e.h.Calls("only"))

		final := e.quiesce(task.ID)
		require.Equal(t, taskertype.StateComplete, final.State)
		e.expect(task.ID, map[string]stepWant{"only": complete(2)})

		outs, err := ex.StepFinishMany(e.ctx, []*taskerdriver.StepFinishParams{{StepID: s.ID, Owner: "dead-worker", Attempt: 1,
			State: taskertype.StateComplete, Results: json.RawMessage(`"late"`), Now: e.clock.Now()}})
		require.NoError(t, err)
		require.ErrorIs(t, outs[0].Err, tasker.ErrLeaseLost)
		require.JSONEq(t, `{"step":"only","attempt":2}`, string(e.steps(task.ID)["only"].Results))
		e.checkAudit(task.ID)
	})
}

// newTimeoutEnv is newEnv with a template of one step, both called name,
// with a 20 ms timeout and the retry limit given.
func newTimeoutEnv(t *testing.T, name string, limit int) *env {
	t.Helper()
	tmpl := template("default", name, "1.0.0", stepDef{name: name, limit: limit})
	tmpl.Steps[0].Timeout = 20 * time.Millisecond
	return newEnv(t, tmpl)
}

// A step that outlives its timeout fails with kind "timeout" and is retried;
// the handler's context is cancelled.
func TestStepTimeout(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newTimeoutEnv(t, "slow", 2)
		sawCancel := make(chan error, 2)
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			if s.Attempt == 1 {
				<-ctx.Done()
				sawCancel <- ctx.Err()
				return nil, ctx.Err()
			}
			return "fast enough", nil
		}), true))
		task := e.create("slow", nil)
		e.singlePass()
		s := e.steps(task.ID)["slow"]
		require.Equal(t, taskertype.StateError, s.State)
		require.Equal(t, "timeout", s.LastError.Kind)
		require.ErrorIs(t, <-sawCancel, context.DeadlineExceeded)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"slow": complete(2)})
	})
}

// A handler that ignores its context does not hold the step past its timeout.
func TestStepTimeoutWithHandlerIgnoringContext(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newTimeoutEnv(t, "stuck", 1)
		release := make(chan struct{})
		defer close(release)
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			<-release
			return nil, nil
		}), true))
		task := e.create("stuck", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateError, e.task(task.ID).State)
		require.Equal(t, "timeout", e.steps(task.ID)["stuck"].LastError.Kind)
	})
}

// Cancelling a task cancels its unfinished steps and the running handlers'
// contexts; nothing runs afterwards.
func TestCancelTaskCancelsRunningHandler(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "cancel_me", "1.0.0", stepDef{name: "long"}, stepDef{name: "after", deps: []string{"long"}})
		e := newEnv(t, tmpl)
		started := make(chan struct{})
		cancelled := make(chan error, 1)
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			if s.Step.Name == "after" {
				t.Error("a step of a cancelled task ran")
			}
			close(started)
			<-ctx.Done()
			cancelled <- ctx.Err()
			return nil, ctx.Err()
		}), true))
		task := e.create("cancel_me", nil)
		done := make(chan error, 1)
		go func() { done <- e.client.RunUntilIdle(e.ctx) }()
		<-started
		got, err := e.client.CancelTask(e.ctx, task.ID, "operator request")
		require.NoError(t, err)
		require.Equal(t, taskertype.StateCancelled, got.State)
		require.ErrorIs(t, <-cancelled, context.Canceled)
		require.NoError(t, <-done)
		steps := e.steps(task.ID)
		require.Equal(t, taskertype.StateCancelled, steps["long"].State)
		require.Equal(t, taskertype.StateCancelled, steps["after"].State)
		e.singlePass()
		require.Equal(t, taskertype.StateCancelled, e.task(task.ID).State)
		tr, err := e.client.TaskTransitions(e.ctx, task.ID)
		require.NoError(t, err)
		require.Contains(t, string(tr[len(tr)-1].Metadata), "operator request")
		e.checkAudit(task.ID)
	})
}

// An operator resolves a failed step with results; the task can progress
// again, its child runs with those results and the task completes.
func TestResolveStepUnblocksChildren(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "resolve", "1.0.0", stepDef{name: "broken"}, stepDef{name: "child", deps: []string{"broken"}}))
		var childSaw map[string]any
		e.h.hook = func(_ context.Context, s *tasker.StepContext) {
			if s.Step.Name == "child" {
				require.NoError(t, s.DependencyResult("broken", &childSaw))
			}
		}
		task := e.createFailed("resolve", "broken")
		step, err := e.client.ResolveStep(e.ctx, e.steps(task.ID)["broken"].ID, map[string]any{"fixed_by": "ops"}, "fixed by hand")
		require.NoError(t, err)
		require.Equal(t, taskertype.StateResolvedManually, step.State)
		require.Equal(t, taskertype.StatePending, e.task(task.ID).State, "the task can progress again")
		e.singlePass()
		require.Equal(t, map[string]any{"fixed_by": "ops"}, childSaw)
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"child": complete(1)})
		e.checkAudit(task.ID)
	})
}

// Resolving the last unfinished step of a task in error ends the task
// resolved_manually; resolving a step of a running task lets it complete.
func TestResolveLastStepEndsTaskResolved(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "last", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		task := e.createFailed("last", "b")
		_, err := e.client.ResolveStep(e.ctx, e.steps(task.ID)["b"].ID, nil, "not needed")
		require.NoError(t, err)
		require.Equal(t, taskertype.StateResolvedManually, e.task(task.ID).State)
		e.checkAudit(task.ID)
	})
}

func TestResolvePendingStepOfRunningTask(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "skip_one", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		task := e.create("skip_one", nil)
		_, err := e.client.ResolveStep(e.ctx, e.steps(task.ID)["a"].ID, nil, "")
		require.NoError(t, err)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		require.Zero(t, e.h.Calls("a"))
	})
}

// RetryTask resets a blocked task's failed steps with fresh attempts.
func TestRetryTask(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "retry", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}, limit: 2}))
		e.h.fails["b"] = 2
		task := e.create("retry", nil)
		require.Equal(t, taskertype.StateError, e.quiesce(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"a": complete(1), "b": failed(2)})
		got, err := e.client.RetryTask(e.ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StatePending, got.State)
		e.expect(task.ID, map[string]stepWant{"b": pending(0)})
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"a": complete(1), "b": complete(1)})
		require.Equal(t, 3, e.h.Calls("b"))
		e.checkAudit(task.ID)
	})
}

// A panicking handler fails its attempt with kind "panic" and a stack.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "panics", "1.0.0", stepDef{name: "p", limit: 1}))
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
			panic("kaboom")
		}), true))
		task := e.create("panics", nil)
		e.singlePass()
		s := e.steps(task.ID)["p"]
		require.Equal(t, "panic", s.LastError.Kind)
		require.Contains(t, s.LastError.Message, "kaboom")
		require.Contains(t, s.LastError.Stack, "goroutine")
		require.Equal(t, taskertype.StateError, e.task(task.ID).State)
	})
}

// A step whose handler is not registered in the worker stays pending: the
// worker does not claim it (no attempt is spent), the views say that no
// worker runs its handler, and a worker that registers the handler runs
// it. A worker told by Worker.Handlers to claim a handler it does not
// have fails the attempt (retryable: another worker may have it) with a
// message saying so.
func TestUnknownHandlerAtRunTime(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "other", "1.0.0", stepDef{name: "x", limit: 1})
		tmpl.Steps[0].Handler = "elsewhere"
		reg := tasker.NewRegistry()
		require.NoError(t, reg.RegisterTemplate(tmpl, tasker.RegisterOptions{AllowUnknownHandlers: true}))
		d := openTestDriver(t)
		c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg})
		require.NoError(t, err)
		res, err := c.CreateTask(t.Context(), &tasker.TaskRequest{Name: "other"})
		require.NoError(t, err)
		require.NoError(t, c.RunUntilIdle(t.Context()), "a worker without the handler is idle, not stuck")
		steps, err := c.ListSteps(t.Context(), res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StatePending, steps[0].State, "left for a worker that has the handler")
		require.Zero(t, steps[0].Attempts)
		require.Nil(t, steps[0].LastError)
		cov, err := c.WorkerCoverage(t.Context())
		require.NoError(t, err)
		wait := cov.Waiting(steps[0])
		require.NotNil(t, wait, "the step is marked as waiting for a worker with its handler")
		require.Equal(t, "elsewhere", wait.Handler)

		// A worker that registers it (after its client was made) runs it.
		reg2 := tasker.NewRegistry()
		require.NoError(t, reg2.RegisterTemplate(tmpl, tasker.RegisterOptions{AllowUnknownHandlers: true}))
		other, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg2})
		require.NoError(t, err)
		require.NoError(t, reg2.RegisterHandler("elsewhere", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
			return "ran", nil
		}), false))
		require.NoError(t, other.RunUntilIdle(t.Context()))
		task, err := c.GetTask(t.Context(), res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, task.State)

		// A worker told to claim the handler without having it fails the attempt.
		told, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg,
			Worker: tasker.WorkerConfig{Handlers: []string{"elsewhere"}}})
		require.NoError(t, err)
		res, err = c.CreateTask(t.Context(), &tasker.TaskRequest{Name: "other", Context: map[string]any{"n": 2}})
		require.NoError(t, err)
		require.NoError(t, told.RunUntilIdle(t.Context()))
		steps, err = c.ListSteps(t.Context(), res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, "handler_not_found", steps[0].LastError.Kind)
		require.Contains(t, steps[0].LastError.Message, `no handler "elsewhere" is registered`)
	})
}

// Stop releases steps whose handlers do not finish within the drain time:
// they go back to pending, the attempt not counted, and run elsewhere.
func TestGracefulShutdownReleasesSteps(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "drain", "1.0.0", stepDef{name: "long"}))
		started := make(chan struct{})
		var invocations atomic.Int32
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			if invocations.Add(1) == 1 {
				close(started)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return "done", nil
		}), true))
		task := e.create("drain", nil)
		require.NoError(t, e.client.Start(e.ctx))
		<-started
		stopCtx, cancel := context.WithCancel(e.ctx)
		cancel() // no time to drain
		require.NoError(t, e.client.Stop(stopCtx))
		s := e.steps(task.ID)["long"]
		require.Equal(t, taskertype.StatePending, s.State)
		require.Zero(t, s.Attempts)
		tr, err := e.client.StepTransitions(e.ctx, task.ID, s.ID)
		require.NoError(t, err)
		last := tr[len(tr)-1]
		require.Equal(t, taskertype.StateInProgress, last.FromState)
		require.Contains(t, string(last.Metadata), "released_on_shutdown")
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"long": complete(1)})
	})
}

// blockingHandler replaces handler "test" with one for a single step: it
// closes started, then returns result once proceed is closed.
func (e *env) blockingHandler(result any) (started, proceed chan struct{}) {
	e.t.Helper()
	started, proceed = make(chan struct{}), make(chan struct{})
	require.NoError(e.t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
		close(started)
		<-proceed
		return result, nil
	}), true))
	return started, proceed
}

// Stop lets running handlers finish when there is time.
func TestGracefulShutdownFinishesSteps(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "finish", "1.0.0", stepDef{name: "short"}))
		started, proceed := e.blockingHandler("finished")
		task := e.create("finish", nil)
		require.NoError(t, e.client.Start(e.ctx))
		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- e.client.Stop(e.ctx) }()
		close(proceed)
		require.NoError(t, <-stopped)
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
	})
}

// The background worker runs many tasks to completion with the real clock,
// and publishes each fact once.
func TestBackgroundWorkerRunsManyTasks(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		d := openTestDriver(t)
		reg := tasker.NewRegistry()
		reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
		require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "diamond", Steps: []tasker.StepTemplate{
			{Name: "a", Handler: "noop"}, {Name: "b", Handler: "noop", DependsOn: []string{"a"}},
			{Name: "c", Handler: "noop", DependsOn: []string{"a"}}, {Name: "d", Handler: "noop", DependsOn: []string{"b", "c"}},
		}}, tasker.RegisterOptions{}))
		c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg})
		require.NoError(t, err)
		events, unsub := c.Subscribe("task.completed", "step.completed")
		defer unsub()
		require.NoError(t, c.Start(t.Context()))
		const n = 25
		ids := make([]int64, n)
		for i := range n {
			res, err := c.CreateTask(t.Context(), &tasker.TaskRequest{Name: "diamond"})
			require.NoError(t, err)
			ids[i] = res.Task.ID
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		for _, id := range ids {
			task, err := c.WaitTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, taskertype.StateComplete, task.State)
		}
		require.NoError(t, c.Stop(t.Context()))
		unsub()
		counts := map[string]int{}
		for ev := range events {
			key := ev.Name
			if ev.Step != nil {
				key += fmt.Sprintf("/%d", ev.Step.ID)
			} else {
				key += fmt.Sprintf("/task%d", ev.Task.ID)
			}
			counts[key]++
		}
		require.Len(t, counts, n*5, "4 step.completed and 1 task.completed per task")
		for k, v := range counts {
			require.Equal(t, 1, v, "event %s published once", k)
		}
		require.Zero(t, c.DroppedEvents())
	})
}

// A task created inside the caller's transaction exists only if it commits.
func TestCreateTaskInCallerTransaction(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "own.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	defer db.Close()
	d := taskersqlite.New(db)
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "t", Steps: []tasker.StepTemplate{{Name: "s", Handler: "noop"}}}, tasker.RegisterOptions{}))
	c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg})
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, task_id INTEGER)`)
	require.NoError(t, err)

	tx, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	res, err := c.CreateTaskTx(t.Context(), tx, &tasker.TaskRequest{Name: "t"})
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO orders (task_id) VALUES (?)`, res.Task.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	_, err = c.GetTask(t.Context(), res.Task.ID)
	require.ErrorIs(t, err, tasker.ErrNotFound, "rolled back with the caller's data")

	tx, err = db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	res, err = c.CreateTaskTx(t.Context(), tx, &tasker.TaskRequest{Name: "t"})
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO orders (task_id) VALUES (?)`, res.Task.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	require.NoError(t, c.RunUntilIdle(t.Context()))
	task, err := c.GetTask(t.Context(), res.Task.ID)
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, task.State)

	_, err = c.CreateTaskTx(t.Context(), "not a tx", &tasker.TaskRequest{Name: "t"})
	require.ErrorIs(t, err, taskerdriver.ErrUnsupportedTx)
}

// Bad requests get a ValidationError naming each field.
func TestCreateTaskValidation(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "typed", "1.0.0", stepDef{name: "s"})
		tmpl.Schema = map[string]any{
			"type": "object", "required": []any{"order_id"},
			"properties": map[string]any{
				"order_id": map[string]any{"type": "integer", "minimum": 1},
				"priority": map[string]any{"type": "string", "default": "normal"},
			},
		}
		e := newEnv(t, tmpl)
		var ve *tasker.ValidationError
		_, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "typed", Context: `{"order_id": 0}`})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields, "context/order_id")
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "typed", Context: `{}`})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["context"], "order_id")
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "typed", Context: `[1]`})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["context"], "must be a JSON object")
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "typed", Context: `{"order_id":`})
		require.ErrorAs(t, err, &ve)
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: " "})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields, "name")
		res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "typed", Context: map[string]any{"order_id": 7}})
		require.NoError(t, err)
		require.JSONEq(t, `{"order_id": 7, "priority": "normal"}`, string(res.Task.Context), "schema defaults applied")
		require.Equal(t, "unknown", res.Task.Initiator)
		require.False(t, errors.Is(err, tasker.ErrNotFound))
	})
}

// On PostgreSQL, a task created inside the caller's pgx transaction exists
// only if it commits, and workers see it only after the commit.
func TestCreateTaskInCallerPgxTransaction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := taskerpgx.Open(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer d.Close()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "t", Steps: []tasker.StepTemplate{{Name: "s", Handler: "noop"}}}, tasker.RegisterOptions{}))
	c, err := tasker.NewClient(ctx, d, &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = d.Pool().Exec(ctx, `CREATE TABLE orders (id bigserial PRIMARY KEY, task_id bigint)`)
	require.NoError(t, err)

	tx, err := d.Pool().Begin(ctx)
	require.NoError(t, err)
	res, err := c.CreateTaskTx(ctx, tx, &tasker.TaskRequest{Name: "t"})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO orders (task_id) VALUES ($1)`, res.Task.ID)
	require.NoError(t, err)
	// Not committed: a worker pass finds nothing to run.
	require.NoError(t, c.RunUntilIdle(ctx))
	require.NoError(t, tx.Rollback(ctx))
	_, err = c.GetTask(ctx, res.Task.ID)
	require.ErrorIs(t, err, tasker.ErrNotFound, "rolled back with the caller's data")

	tx, err = d.Pool().Begin(ctx)
	require.NoError(t, err)
	res, err = c.CreateTaskTx(ctx, tx, &tasker.TaskRequest{Name: "t"})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO orders (task_id) VALUES ($1)`, res.Task.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, c.RunUntilIdle(ctx))
	task, err := c.GetTask(ctx, res.Task.ID)
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, task.State)
	_, err = c.CreateTaskTx(ctx, "not a tx", &tasker.TaskRequest{Name: "t"})
	require.ErrorIs(t, err, taskerdriver.ErrUnsupportedTx)
}

// Health counts tasks and steps and turns unhealthy when more than half of
// the tasks are in error.
func TestHealth(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "h", "1.0.0", stepDef{name: "a", limit: 1}))
		require.NoError(t, e.client.Ping(e.ctx))
		h, err := e.client.Health(e.ctx)
		require.NoError(t, err)
		require.True(t, h.Healthy)
		require.Equal(t, "healthy", h.Status)
		e.createFailed("h", "a")
		h, err = e.client.Health(e.ctx)
		require.NoError(t, err)
		require.False(t, h.Healthy)
		require.Equal(t, 1, h.Tasks[taskertype.StateError])
		require.Equal(t, 1, h.Retries.ExhaustedRetries)
		require.Contains(t, h.Reasons, "100.0% of tasks are in error (above 50%)")
	})
}

// Cancelling the context given to Start stops claiming but still records
// the results of the handlers that were running.
func TestStartContextCancelRecordsRunningResults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "startctx", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
	started, proceed := e.blockingHandler("done")
	task := e.create("startctx", nil)
	runCtx, cancel := context.WithCancel(e.ctx)
	require.NoError(t, e.client.Start(runCtx))
	<-started
	cancel()
	close(proceed)
	require.NoError(t, e.client.Stop(e.ctx))
	e.expect(task.ID, map[string]stepWant{"a": complete(1), "b": pending(0)})
}

// Steps returned by state changes and updates carry their parent and child
// ids, like GetStep.
func TestChangedStepsCarryEdges(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "edges", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		task := e.create("edges", nil)
		steps := e.steps(task.ID)
		limit := 5
		got, err := e.client.UpdateStep(e.ctx, steps["b"].ID, &limit, nil)
		require.NoError(t, err)
		require.Equal(t, []int64{steps["a"].ID}, got.ParentIDs)
		got, err = e.client.ResolveStep(e.ctx, steps["a"].ID, nil, "")
		require.NoError(t, err)
		require.Equal(t, []int64{steps["b"].ID}, got.ChildIDs)
		got, err = e.client.CancelStep(e.ctx, steps["b"].ID, "")
		require.NoError(t, err)
		require.Equal(t, []int64{steps["a"].ID}, got.ParentIDs)
	})
}

// A handler that fails on its own while the worker is stopping has its
// failure recorded (the attempt counts); only attempts cut short by the
// cancellation are given back.
func TestShutdownRecordsGenuineFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "genuine", "1.0.0", stepDef{name: "s", limit: 3}))
	started := make(chan struct{})
	require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, errors.New("lost the connection to the bank") // not the cancellation itself
	}), true))
	task := e.create("genuine", nil)
	require.NoError(t, e.client.Start(e.ctx))
	<-started
	stopCtx, cancel := context.WithCancel(e.ctx)
	cancel()
	require.NoError(t, e.client.Stop(stopCtx))
	s := e.steps(task.ID)["s"]
	require.Equal(t, taskertype.StateError, s.State)
	require.Equal(t, 1, s.Attempts)
	require.Equal(t, "lost the connection to the bank", s.LastError.Message)
}
