package tasker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskertype"
)

// newFakeClock returns a manual clock shared by the client and the test.
func newFakeClock() *testdb.Clock {
	return testdb.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// failer is a handler that fails each step a configured number of times
// ("fail k") and records every invocation.
type failer struct {
	mu        sync.Mutex
	fails     map[string]int  // step name → failures before success
	permanent map[string]bool // step name → fail with PermanentError
	calls     map[string]int
	order     []string                                         // step names in start order
	hook      func(ctx context.Context, s *tasker.StepContext) // optional, runs first
}

func newFailer() *failer {
	return &failer{fails: map[string]int{}, permanent: map[string]bool{}, calls: map[string]int{}}
}

func (f *failer) Handle(ctx context.Context, s *tasker.StepContext) (any, error) {
	f.mu.Lock()
	f.calls[s.Step.Name]++
	n := f.calls[s.Step.Name]
	f.order = append(f.order, s.Step.Name)
	fails, perm := f.fails[s.Step.Name], f.permanent[s.Step.Name]
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, s)
	}
	if perm {
		return nil, tasker.PermanentError(fmt.Errorf("%s failed permanently", s.Step.Name))
	}
	if n <= fails {
		return nil, fmt.Errorf("%s failed (invocation %d)", s.Step.Name, n)
	}
	return map[string]any{"step": s.Step.Name, "attempt": s.Attempt}, nil
}

func (f *failer) Calls(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// stepDef is a compact step declaration for Go-defined templates.
type stepDef struct {
	name  string
	deps  []string
	limit int
}

func template(ns, name, version string, steps ...stepDef) *tasker.TaskTemplate {
	t := &tasker.TaskTemplate{Namespace: ns, Name: name, Version: version}
	for _, s := range steps {
		t.Steps = append(t.Steps, tasker.StepTemplate{Name: s.name, Handler: "test", DependsOn: s.deps, RetryLimit: s.limit})
	}
	return t
}

type env struct {
	t      *testing.T
	ctx    context.Context
	client *tasker.Client
	clock  *testdb.Clock
	h      *failer
	reg    *tasker.Registry
}

// newEnv returns a client on a fresh database of the test's driver (see
// eachDriver) with a fake clock, no backoff jitter and the failer registered
// as handler "test".
func newEnv(t *testing.T, templates ...*tasker.TaskTemplate) *env {
	t.Helper()
	return newEnvWith(t, nil, templates...)
}

// newEnvWith is newEnv with configure (when not nil) applied to the client's
// config before the client is made.
func newEnvWith(t *testing.T, configure func(*tasker.Config), templates ...*tasker.TaskTemplate) *env {
	t.Helper()
	d := openTestDriver(t)
	reg := tasker.NewRegistry()
	h := newFailer()
	require.NoError(t, reg.RegisterHandler("test", h, false))
	for _, tmpl := range templates {
		require.NoError(t, reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
	}
	clock := newFakeClock()
	cfg := &tasker.Config{
		Registry: reg, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), Backoff: tasker.Backoff{Jitter: new(0.0)},
		Worker: tasker.WorkerConfig{Concurrency: 8},
	}
	if configure != nil {
		configure(cfg)
	}
	c, err := tasker.NewClient(t.Context(), d, cfg)
	require.NoError(t, err)
	return &env{t: t, ctx: t.Context(), client: c, clock: clock, h: h, reg: reg}
}

func (e *env) create(name string, ctx any) *tasker.Task {
	e.t.Helper()
	res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: name, Context: ctx})
	require.NoError(e.t, err)
	return res.Task
}

func (e *env) createIn(ns, name, version string) *tasker.Task {
	e.t.Helper()
	res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Namespace: ns, Name: name, Version: version})
	require.NoError(e.t, err)
	return res.Task
}

// createFailed creates a task named name whose step fails permanently and
// runs one pass, after which the task must be in error.
func (e *env) createFailed(name, step string) *tasker.Task {
	e.t.Helper()
	e.h.permanent[step] = true
	task := e.create(name, nil)
	e.singlePass()
	require.Equal(e.t, taskertype.StateError, e.task(task.ID).State)
	return task
}

// singlePass runs until nothing is ready with the clock frozen.
func (e *env) singlePass() {
	e.t.Helper()
	require.NoError(e.t, e.client.RunUntilIdle(e.ctx))
}

// quiesce runs passes, advancing the clock past every backoff, until the
// task is final.
func (e *env) quiesce(taskID int64) *tasker.Task {
	e.t.Helper()
	for range 100 {
		e.singlePass()
		task, err := e.client.GetTask(e.ctx, taskID)
		require.NoError(e.t, err)
		if task.State.Final() {
			return task
		}
		e.clock.Advance(31 * time.Second)
	}
	e.t.Fatalf("task %d did not finish", taskID)
	return nil
}

func (e *env) task(id int64) *tasker.Task {
	e.t.Helper()
	task, err := e.client.GetTask(e.ctx, id)
	require.NoError(e.t, err)
	return task
}

func (e *env) steps(taskID int64) map[string]*tasker.Step {
	e.t.Helper()
	steps, err := e.client.ListSteps(e.ctx, taskID)
	require.NoError(e.t, err)
	out := map[string]*tasker.Step{}
	for _, s := range steps {
		out[s.Name] = s
	}
	return out
}

// expect asserts each named step's state and attempts.
func (e *env) expect(taskID int64, want map[string]stepWant) {
	e.t.Helper()
	got := e.steps(taskID)
	for name, w := range want {
		s, ok := got[name]
		require.True(e.t, ok, "step %s exists", name)
		require.Equal(e.t, w.state, s.State, "state of %s", name)
		require.Equal(e.t, w.attempts, s.Attempts, "attempts of %s", name)
	}
}

type stepWant struct {
	state    taskertype.State
	attempts int
}

var (
	pending  = func(a int) stepWant { return stepWant{taskertype.StatePending, a} }
	complete = func(a int) stepWant { return stepWant{taskertype.StateComplete, a} }
	failed   = func(a int) stepWant { return stepWant{taskertype.StateError, a} }
)

// checkAudit verifies the audit invariants of a task: exactly one most recent
// transition per entity, strictly increasing sort keys, each transition
// starting where the previous ended, and the last one matching the state.
func (e *env) checkAudit(taskID int64) {
	e.t.Helper()
	task := e.task(taskID)
	tt, err := e.client.TaskTransitions(e.ctx, taskID)
	require.NoError(e.t, err)
	checkChain(e.t, fmt.Sprintf("task %d", taskID), tt, task.State)
	for _, s := range e.steps(taskID) {
		st, err := e.client.StepTransitions(e.ctx, taskID, s.ID)
		require.NoError(e.t, err)
		checkChain(e.t, "step "+s.Name, st, s.State)
	}
}

func checkChain(t *testing.T, what string, tr []*tasker.Transition, final taskertype.State) {
	t.Helper()
	require.NotEmpty(t, tr, what)
	require.Equal(t, taskertype.State(""), tr[0].FromState, what)
	require.Equal(t, taskertype.StatePending, tr[0].ToState, what)
	for i, x := range tr {
		require.Equal(t, i == len(tr)-1, x.MostRecent, "%s transition %d most_recent", what, i)
		if i > 0 {
			require.Greater(t, x.SortKey, tr[i-1].SortKey, what)
			require.Equal(t, tr[i-1].ToState, x.FromState, "%s transition %d continues the chain", what, i)
		}
	}
	require.Equal(t, final, tr[len(tr)-1].ToState, what)
}

var errTest = errors.New("test")
