package orchestrator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var base = testdb.Base

// env is one test's database, clock and published events.
type env struct {
	t     *testing.T
	drv   taskerdriver.Driver
	ex    taskerdriver.Executor
	clock *testdb.Clock
	// beats receives every heartbeat the worker sends (real database call,
	// then reported).
	beats chan *taskerdriver.StepHeartbeatParams
	// wakes receives the answer of every read of the next wake-up time.
	wakes chan time.Time
	// seen receives every record of the worker in the registry of workers
	// (real database call, then reported).
	seen chan *taskerdriver.WorkerSeenParams
	// passes receives every pass that recorded results (real database
	// call, then reported).
	passes chan pass
	// fail, armed, fails the next pass that records results.
	fail *failOnce

	mu     sync.Mutex
	events []*taskertype.Event
	posted chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := testdb.Open(t)
	require.NoError(t, db.Migrate(t.Context()))
	e := &env{t: t, clock: testdb.NewClock(base), beats: make(chan *taskerdriver.StepHeartbeatParams, 64),
		wakes: make(chan time.Time, 64), seen: make(chan *taskerdriver.WorkerSeenParams, 64), posted: make(chan struct{}, 1),
		passes: make(chan pass, 64), fail: &failOnce{entered: make(chan struct{}, 1), release: make(chan struct{})}}
	e.drv = spyDriver{Driver: db, ex: spyExecutor{Executor: db.Executor(), beats: e.beats, wakes: e.wakes, seen: e.seen, passes: e.passes, fail: e.fail}}
	e.ex = db.Executor()
	return e
}

// spyDriver is a real driver whose executor reports heartbeats.
type spyDriver struct {
	taskerdriver.Driver
	ex taskerdriver.Executor
}

func (d spyDriver) Executor() taskerdriver.Executor { return d.ex }

type spyExecutor struct {
	taskerdriver.Executor
	beats  chan<- *taskerdriver.StepHeartbeatParams
	wakes  chan<- time.Time
	seen   chan<- *taskerdriver.WorkerSeenParams
	passes chan<- pass
	fail   *failOnce
}

// failOnce fails the first pass that records results once armed: the
// pass reports that it entered, waits for release, then returns an error
// (a lost connection), its transaction rolled back.
type failOnce struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

// pass is a worker pass that recorded results: the steps it finished and
// whether it claimed.
type pass struct {
	finished []int64
	claimed  bool
}

func (x spyExecutor) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	tx, err := x.Executor.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return spyTx{ExecutorTx: tx, passes: x.passes, fail: x.fail}, nil
}

// spyTx is a real transaction that reports its passes (and fails one when
// armed).
type spyTx struct {
	taskerdriver.ExecutorTx
	passes chan<- pass
	fail   *failOnce
}

func (x spyTx) StepFinishAndClaim(ctx context.Context, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	if len(p.Finish) > 0 && x.fail.armed.CompareAndSwap(true, false) {
		x.fail.entered <- struct{}{}
		<-x.fail.release
		return nil, errors.New("injected: connection lost")
	}
	res, err := x.ExecutorTx.StepFinishAndClaim(ctx, p)
	if len(p.Finish) > 0 {
		var ps pass
		for _, f := range p.Finish {
			ps.finished = append(ps.finished, f.StepID)
		}
		ps.claimed = p.Claim != nil
		select {
		case x.passes <- ps:
		default:
		}
	}
	return res, err
}

func (x spyExecutor) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	err := x.Executor.WorkerSeen(ctx, p)
	select {
	case x.seen <- p:
	default:
	}
	return err
}

func (x spyExecutor) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	at, err := x.Executor.StepNextWake(ctx, p)
	select {
	case x.wakes <- at:
	default:
	}
	return at, err
}

func (x spyExecutor) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	kept, err := x.Executor.StepHeartbeat(ctx, p)
	select {
	case x.beats <- p:
	default:
	}
	return kept, err
}

// worker returns a worker on the test's database and clock; cfg's Run,
// Concurrency and LeaseDuration are kept.
func (e *env) worker(cfg orchestrator.Config) *orchestrator.Worker {
	cfg.Driver, cfg.Recorder, cfg.Now, cfg.ID = e.drv, recorder.New(recorder.Config{}), e.clock.Now, "w1"
	cfg.PollInterval = time.Hour // only notifications and finished handlers wake it
	cfg.Publish = e.publish
	return orchestrator.New(cfg)
}

func (e *env) publish(events []*taskertype.Event) {
	e.mu.Lock()
	e.events = append(e.events, events...)
	e.mu.Unlock()
	select {
	case e.posted <- struct{}{}:
	default:
	}
}

// waitEvent waits until an event named name of task taskID is published.
func (e *env) waitEvent(name string, taskID int64) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	for {
		e.mu.Lock()
		for _, ev := range e.events {
			if ev.Name == name && ev.Task != nil && ev.Task.ID == taskID {
				e.mu.Unlock()
				return
			}
		}
		e.mu.Unlock()
		select {
		case <-e.posted:
		case <-ctx.Done():
			e.t.Fatalf("no %s event for task %d", name, taskID)
		}
	}
}

// waitBeat waits for a heartbeat that extends the leases to until.
func (e *env) waitBeat(until time.Time) *taskerdriver.StepHeartbeatParams {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	for {
		select {
		case p := <-e.beats:
			if p.LeaseExpiresAt.Equal(until) {
				return p
			}
		case <-ctx.Done():
			e.t.Fatalf("no heartbeat extending the leases to %s", until)
		}
	}
}

// create creates a task of the given steps.
func (e *env) create(steps ...taskerdriver.StepCreateParams) *taskerdriver.TaskCreateResult {
	e.t.Helper()
	return testdb.CreateTask(e.t, e.ex, base, steps...)
}

func step(name string, parents ...int) taskerdriver.StepCreateParams {
	return taskerdriver.StepCreateParams{Name: name, Handler: "h", RetryLimit: 3, Retryable: true, Parents: parents}
}

func (e *env) step(id int64) *taskertype.Step {
	e.t.Helper()
	s, err := e.ex.StepGet(e.t.Context(), id)
	require.NoError(e.t, err)
	return s
}

// gate is a handler that reports its start and waits to be let through
// (or for its context to end).
type gate struct {
	started chan string
	// ended receives the error each handler returned.
	ended   chan error
	release chan struct{}
	running atomic.Int32
	maxRun  atomic.Int32
}

func newGate() *gate {
	return &gate{started: make(chan string, 64), ended: make(chan error, 64), release: make(chan struct{})}
}

func (g *gate) run(ctx context.Context, c *taskerdriver.ClaimedStep) orchestrator.Result {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		m := g.maxRun.Load()
		if n <= m || g.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	g.started <- c.Step.Name
	select {
	case <-g.release:
		g.ended <- nil
		return orchestrator.Result{Results: json.RawMessage(`{"ok":true}`)}
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return orchestrator.Result{Err: ctx.Err()}
	}
}

// let lets one waiting handler finish.
func (g *gate) let(t *testing.T) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(30 * time.Second):
		t.Fatal("no handler is waiting")
	}
}

// stop stops w, cancelling the handlers still running after a few seconds
// (a failed test leaves some waiting).
func stop(t *testing.T, w *orchestrator.Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, w.Stop(ctx))
}

func (g *gate) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case name := <-g.started:
		return name
	case <-time.After(30 * time.Second):
		t.Fatal("no handler started")
		return ""
	}
}

func TestDrainRunsStepsInDependencyOrder(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.create(step("a"), step("b", 0), step("c", 0), step("d", 1, 2))
		var mu sync.Mutex
		var order []string
		deps := map[string][]string{}
		w := e.worker(orchestrator.Config{Run: func(_ context.Context, c *taskerdriver.ClaimedStep) orchestrator.Result {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, c.Step.Name)
			for name := range c.Dependencies {
				deps[c.Step.Name] = append(deps[c.Step.Name], name)
			}
			return orchestrator.Result{Results: json.RawMessage(fmt.Sprintf(`{"from":%q}`, c.Step.Name))}
		}})
		require.NoError(t, w.Drain(t.Context()))

		require.Len(t, order, 4)
		require.Equal(t, "a", order[0])
		require.ElementsMatch(t, []string{"b", "c"}, order[1:3])
		require.Equal(t, "d", order[3])
		require.ElementsMatch(t, []string{"b", "c"}, deps["d"], "d gets its parents' results")
		for _, s := range task.Steps {
			got := e.step(s.ID)
			require.Equal(t, taskertype.StateComplete, got.State, got.Name)
			require.Equal(t, 1, got.Attempts, got.Name)
			require.JSONEq(t, fmt.Sprintf(`{"from":%q}`, got.Name), string(got.Results))
		}
		tk, err := e.ex.TaskGet(t.Context(), task.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, tk.State)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}

func TestWorkerRecordsFailureWithBackoff(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.create(step("a"))
		w := e.worker(orchestrator.Config{Run: func(context.Context, *taskerdriver.ClaimedStep) orchestrator.Result {
			return orchestrator.Result{Err: fmt.Errorf("boom"), RetryAfter: 7 * time.Second}
		}})
		require.NoError(t, w.Drain(t.Context()))
		s := e.step(task.Steps[0].ID)
		require.Equal(t, taskertype.StateError, s.State)
		require.False(t, s.Blocked)
		require.Equal(t, base.Add(7*time.Second), s.NextAttemptAt.UTC(), "the requested delay is the retry time")
		e.waitEvent(taskertype.EventStepFailed, task.Task.ID)

		// Not before its retry time; at it, the second attempt runs.
		require.NoError(t, w.Drain(t.Context()))
		require.Equal(t, 1, e.step(s.ID).Attempts)
		e.clock.Advance(7 * time.Second)
		require.NoError(t, w.Drain(t.Context()))
		require.Equal(t, 2, e.step(s.ID).Attempts)
	})
}

func TestStartClaimsAndRunsReadySteps(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		first := e.create(step("a"), step("b", 0))
		w := e.worker(orchestrator.Config{Run: func(context.Context, *taskerdriver.ClaimedStep) orchestrator.Result {
			return orchestrator.Result{Results: json.RawMessage(`{}`)}
		}})
		require.NoError(t, w.Start(t.Context()))
		defer stop(t, w)
		e.waitEvent(taskertype.EventTaskCompleted, first.Task.ID)

		// A task created while the worker sleeps wakes it (the driver's
		// notification; the poll interval is an hour).
		second := e.create(step("a"))
		e.waitEvent(taskertype.EventTaskCompleted, second.Task.ID)
	})
}

// TestRetryTimeKeptAcrossPasses: the worker reads when a failed step is
// due again, then records another step's result before that time; it still
// wakes for the retry (before, that pass made it forget the time, and the
// retry waited for the poll interval, an hour here).
func TestRetryTimeKeptAcrossPasses(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.create(step("flaky"), step("held"))
		g := newGate()
		var failed atomic.Bool
		w := e.worker(orchestrator.Config{Run: func(ctx context.Context, c *taskerdriver.ClaimedStep) orchestrator.Result {
			if c.Step.Name == "flaky" && failed.CompareAndSwap(false, true) {
				return orchestrator.Result{Err: fmt.Errorf("once"), RetryAfter: 2 * time.Second}
			}
			return g.run(ctx, c)
		}})
		require.NoError(t, w.Start(t.Context()))
		defer stop(t, w)
		require.Equal(t, "held", g.waitStarted(t))
		e.waitEvent(taskertype.EventStepBackoff, task.Task.ID)
		retryAt := base.Add(2 * time.Second)
		for at := (time.Time{}); !at.Equal(retryAt); {
			select {
			case at = <-e.wakes:
			case <-time.After(30 * time.Second):
				t.Fatal("the worker did not read the retry time")
			}
		}
		g.let(t) // held's result: a pass that does not read the wake-up time
		e.waitEvent(taskertype.EventStepCompleted, task.Task.ID)
		e.clock.Advance(time.Minute) // after that pass: only the retry time can wake the worker now
		require.Equal(t, "flaky", g.waitStarted(t), "the retry did not run")
		g.let(t)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}

// TestLeafPassSkipsTheClaimAfterOneFoundNothingMore: after a claim that
// found fewer ready steps than it had room for, a pass whose results
// ready no step (completions of steps without children) does not claim;
// a pass that may ready steps does, a claim that filled every free slot
// keeps the next leaf pass claiming, and a step announced meanwhile is
// claimed at once.
func TestLeafPassSkipsTheClaimAfterOneFoundNothingMore(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		nextPass := func() pass {
			t.Helper()
			select {
			case p := <-e.passes:
				return p
			case <-time.After(30 * time.Second):
				t.Fatal("no pass recorded results")
				return pass{}
			}
		}
		chain := e.create(step("a"), step("b", 0))
		g := newGate()
		w := e.worker(orchestrator.Config{Run: g.run, Concurrency: 2})
		require.NoError(t, w.Start(t.Context()))
		defer stop(t, w)
		require.Equal(t, "a", g.waitStarted(t))
		g.let(t)
		p := nextPass()
		require.Equal(t, []int64{chain.Steps[0].ID}, p.finished)
		require.True(t, p.claimed, "a's completion readies b: its pass claims")
		require.Equal(t, "b", g.waitStarted(t))
		g.let(t)
		p = nextPass()
		require.Equal(t, []int64{chain.Steps[1].ID}, p.finished)
		require.False(t, p.claimed, "b is a leaf and the last claim found nothing more")
		e.waitEvent(taskertype.EventTaskCompleted, chain.Task.ID)

		// Three roots, two slots: the claim fills both, so the leaf pass
		// that follows claims (more may be ready), and finds the third.
		three := e.create(step("x"), step("y"), step("z"))
		first := []string{g.waitStarted(t), g.waitStarted(t)}
		require.ElementsMatch(t, []string{"x", "y"}, first)
		g.let(t)
		p = nextPass()
		require.Len(t, p.finished, 1)
		require.True(t, p.claimed, "the last claim took as many steps as it had room for")
		require.Equal(t, "z", g.waitStarted(t))
		g.let(t)
		g.let(t)
		e.waitEvent(taskertype.EventTaskCompleted, three.Task.ID)

		// A step readied while a leaf runs (its creation announces it) is
		// claimed at once, not at the poll (an hour here).
		held := e.create(step("h"))
		require.Equal(t, "h", g.waitStarted(t))
		late := e.create(step("l"))
		require.Equal(t, "l", g.waitStarted(t))
		g.let(t)
		g.let(t)
		e.waitEvent(taskertype.EventTaskCompleted, held.Task.ID)
		e.waitEvent(taskertype.EventTaskCompleted, late.Task.ID)
	})
}

// gated creates a task of steps and starts a worker of cfg whose handler
// is a new gate.
func (e *env) gated(cfg orchestrator.Config, steps ...taskerdriver.StepCreateParams) (*taskerdriver.TaskCreateResult, *gate, *orchestrator.Worker) {
	e.t.Helper()
	task := e.create(steps...)
	g := newGate()
	cfg.Run = g.run
	w := e.worker(cfg)
	require.NoError(e.t, w.Start(e.t.Context()))
	return task, g, w
}

// heldStep starts a worker (lease 30s) whose handler g holds the one step
// of a new task, and waits for the step's first lease (+30s).
func (e *env) heldStep() (*taskerdriver.TaskCreateResult, *gate, *orchestrator.Worker) {
	e.t.Helper()
	task, g, w := e.gated(orchestrator.Config{LeaseDuration: 30 * time.Second}, step("a"))
	g.waitStarted(e.t)
	e.waitBeat(base.Add(30 * time.Second))
	return task, g, w
}

// nextBeat moves the clock a third of the lease on, when the next heartbeat
// is due, wakes the worker with a notification and waits for the beat.
func (e *env) nextBeat() *taskerdriver.StepHeartbeatParams {
	e.t.Helper()
	e.clock.Advance(11 * time.Second)
	require.NoError(e.t, e.ex.Notify(e.t.Context(), taskerdriver.TopicStepsReady))
	return e.waitBeat(base.Add(41 * time.Second))
}

func TestHeartbeatExtendsLeases(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.heldStep()
		defer stop(t, w)
		require.Equal(t, base.Add(30*time.Second), e.step(task.Steps[0].ID).LeaseExpiresAt.UTC())

		// A third of the lease later, the next heartbeat is due; a
		// notification wakes the worker.
		beat := e.nextBeat()
		require.Equal(t, []int64{task.Steps[0].ID}, beat.IDs)
		s := e.step(task.Steps[0].ID)
		require.Equal(t, base.Add(41*time.Second), s.LeaseExpiresAt.UTC())
		require.Equal(t, "w1", s.LeaseOwner)

		close(g.release)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}

func TestHeartbeatAbandonsStepsNoLongerOwned(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.heldStep()

		// Cancelled in the store behind the worker's back (another process).
		_, err := e.ex.StepSetState(t.Context(), &taskerdriver.StepSetStateParams{
			IDs: []int64{task.Steps[0].ID}, From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StateCancelled, Now: base,
		})
		require.NoError(t, err)
		e.nextBeat()

		// The handler's context is cancelled; its result is dropped.
		select {
		case err := <-g.ended:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(30 * time.Second):
			t.Fatal("the handler of a step the worker lost was not cancelled")
		}
		require.NoError(t, w.Stop(context.Background()))
		require.Zero(t, w.InFlight())
		s := e.step(task.Steps[0].ID)
		require.Equal(t, taskertype.StateCancelled, s.State)
		require.Equal(t, 1, s.Attempts)
	})
}

func TestStopLetsRunningHandlersFinish(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.gated(orchestrator.Config{}, step("a"))
		g.waitStarted(t)

		stopped := make(chan error, 1)
		go func() { stopped <- w.Stop(context.Background()) }()
		close(g.release) // the handler finishes while Stop waits
		require.NoError(t, <-stopped)
		require.Zero(t, w.InFlight())
		s := e.step(task.Steps[0].ID)
		require.Equal(t, taskertype.StateComplete, s.State, "Stop records the finished attempt before returning")
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}

func TestStopReleasesHandlersCancelledByItsDeadline(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.gated(orchestrator.Config{}, step("a"))
		g.waitStarted(t)

		ctx, cancel := context.WithCancel(t.Context())
		cancel() // no time to finish
		require.NoError(t, w.Stop(ctx))

		s := e.step(task.Steps[0].ID)
		require.Equal(t, taskertype.StatePending, s.State, "given back for another worker")
		require.Zero(t, s.Attempts, "the attempt is not counted")
		trs, err := e.ex.TransitionList(t.Context(), &taskerdriver.TransitionListParams{TaskID: task.Task.ID, StepID: s.ID})
		require.NoError(t, err)
		last := trs[len(trs)-1]
		require.Equal(t, taskertype.StateInProgress, last.FromState)
		require.Equal(t, taskertype.StatePending, last.ToState)
		require.Contains(t, string(last.Metadata), "released_on_shutdown")
	})
}

// A worker runs at most Concurrency handlers at once, with one pass loop
// or several (Config.Passes: each holds the free slots it may claim).
func TestConcurrencyLimit(t *testing.T) {
	for _, passes := range []int{1, 3} {
		t.Run(fmt.Sprintf("passes=%d", passes), func(t *testing.T) { testConcurrencyLimit(t, passes) })
	}
}

func testConcurrencyLimit(t *testing.T, passes int) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task, g, w := e.gated(orchestrator.Config{Concurrency: 2, Passes: passes}, step("a"), step("b"), step("c"), step("d"), step("e"))
		defer stop(t, w)

		g.waitStarted(t)
		g.waitStarted(t)
		// A full worker claims nothing more: two steps are leased, three wait.
		running, err := e.ex.StepList(t.Context(), &taskerdriver.StepListParams{TaskID: task.Task.ID, States: []taskertype.State{taskertype.StateInProgress}})
		require.NoError(t, err)
		require.Len(t, running, 2)
		require.Equal(t, 2, w.InFlight())

		// Each finished handler frees one slot.
		for range 3 {
			g.let(t)
			g.waitStarted(t)
		}
		g.let(t)
		g.let(t)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
		require.EqualValues(t, 2, g.maxRun.Load(), "never more than Concurrency handlers at once")
	})
}

// A worker records itself in the registry of workers when it starts and
// then once per heartbeat interval, however many passes it makes.
func TestWorkerRecordsItselfOncePerHeartbeatInterval(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		describe := func() taskerdriver.WorkerSeenParams {
			return taskerdriver.WorkerSeenParams{Host: "host-1", PID: 7, Version: "v1", Handlers: []string{"h"}, Namespaces: []string{"ns"}}
		}
		task, g, w := e.gated(orchestrator.Config{LeaseDuration: 30 * time.Second, Describe: describe}, step("a"))
		defer stop(t, w)
		g.waitStarted(t)
		e.waitBeat(base.Add(30 * time.Second))
		require.Len(t, e.seen, 1, "recorded at start only: the passes since were within the interval")
		ws, err := e.ex.WorkerList(t.Context(), &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Equal(t, []*taskertype.Worker{{ID: "w1", Kind: taskertype.WorkerInProcess, Host: "host-1", PID: 7, Version: "v1",
			Handlers: []string{"h"}, Namespaces: []string{"ns"}, Queues: []string{}, StartedAt: base, LastSeenAt: base}}, ws)

		e.nextBeat() // 11s later: a heartbeat interval (10s) has passed
		require.Len(t, e.seen, 2)
		ws, err = e.ex.WorkerList(t.Context(), &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Len(t, ws, 1)
		require.Equal(t, base, ws[0].StartedAt)
		require.Equal(t, base.Add(11*time.Second), ws[0].LastSeenAt)

		close(g.release)
		e.waitEvent(taskertype.EventTaskCompleted, task.Task.ID)
	})
}
