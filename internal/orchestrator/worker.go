package orchestrator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Result is the outcome of running one step's handler.
type Result struct {
	// Results is the JSON result of a successful attempt.
	Results json.RawMessage
	// Err is nil on success.
	Err error
	// Permanent marks a failure that must not be retried.
	Permanent bool
	// RetryAfter is a delay requested by the handler or a server.
	RetryAfter time.Duration
	// Kind overrides the error kind ("retryable" or "permanent" by default).
	Kind string
	// Stack holds a panic's stack or other detail such as a stderr tail.
	Stack string
	// Details is structured detail of a failure (stored on the step error).
	Details json.RawMessage
	// Class overrides the error class (by default the Go type of Err), for
	// errors reported by remote workers in other languages.
	Class string
	// Events are custom events the handler published; they are delivered
	// after the attempt's result is recorded (and dropped if it is not).
	Events []*taskertype.Event
}

// RunFunc runs the handler of a claimed step.
type RunFunc func(ctx context.Context, c *taskerdriver.ClaimedStep) Result

// Config configures a Worker. Zero values mean the documented defaults.
type Config struct {
	Driver taskerdriver.Driver
	Run    RunFunc
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// ID names the worker in leases. Defaults to a random id.
	ID string
	// Concurrency is the maximum number of handlers running at once.
	// Defaults to 16.
	Concurrency int
	// LeaseDuration is how long a claim is valid without a heartbeat.
	// Defaults to 30s; heartbeats run every LeaseDuration/3.
	LeaseDuration time.Duration
	// PollInterval is the longest the worker sleeps without a notification.
	// Defaults to 1s.
	PollInterval time.Duration
	// RescueInterval is how often the worker looks for steps whose lease
	// expired (by the injected clock). Defaults to 5s.
	RescueInterval time.Duration
	// StepTimeout is the default timeout of one attempt. Defaults to 5m.
	StepTimeout time.Duration
	// Retry is the default backoff policy (see retrypolicy.Policy defaults).
	Retry retrypolicy.Policy
	// Handlers restricts claims to these handler names (empty: all).
	Handlers []string
	// Publish receives events after their transaction commits; it must not
	// block. Defaults to dropping them.
	Publish func(*taskertype.Event)
	// Rand returns numbers in [0,1) for jitter. Defaults to math/rand/v2.
	Rand func() float64
	// Retention deletes tasks that finished (complete, cancelled or
	// resolved_manually; tasks in error are kept for retry) longer ago than
	// this. Zero keeps every task.
	Retention time.Duration
	// Outbox maps the events of a pass to outbox messages for durable
	// subscribers; they are written in the pass's transaction. Nil: none.
	Outbox func(events []*taskertype.Event) []*taskerdriver.OutboxInsertParams
	// LeaderTTL is how long a maintenance leader's term lasts without
	// renewal: when the leader dies, another worker takes over after at most
	// this long. Defaults to 3 × RescueInterval.
	LeaderTTL time.Duration
}

// maintenanceLeadership names the leadership that runs lease rescue and
// retention.
const maintenanceLeadership = "maintenance"

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ID == "" {
		c.ID = fmt.Sprintf("worker-%08x", rand.Uint32())
	}
	c.Concurrency = cmp.Or(c.Concurrency, 16)
	c.LeaseDuration = cmp.Or(c.LeaseDuration, 30*time.Second)
	c.PollInterval = cmp.Or(c.PollInterval, time.Second)
	c.RescueInterval = cmp.Or(c.RescueInterval, 5*time.Second)
	c.StepTimeout = cmp.Or(c.StepTimeout, 5*time.Minute)
	c.LeaderTTL = cmp.Or(c.LeaderTTL, 3*c.RescueInterval)
	c.Retry = c.Retry.WithDefaults()
	if c.Publish == nil {
		c.Publish = func(*taskertype.Event) {}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// flight is one step being executed.
type flight struct {
	claim   *taskerdriver.ClaimedStep
	cancel  context.CancelFunc
	started time.Time
	// abandoned: the step is no longer ours (cancelled, rescued); drop the result.
	abandoned bool
	// release: the worker is shutting down; a cancelled attempt is given back.
	release bool
	// owner holds the lease when it is not this worker (a remote worker's
	// result recorded through Remote).
	owner string
	// lost is set by record when the result was dropped because the lease
	// was lost; recorded is the step as record wrote it otherwise.
	lost     bool
	recorded *taskertype.Step
}

// leaseOwner is the lease owner the attempt of f ran under.
func (w *Worker) leaseOwner(f *flight) string {
	return cmp.Or(f.owner, w.cfg.ID)
}

type finished struct {
	f      *flight
	res    Result
	endsAt time.Time
}

// Worker claims and executes steps. Use Start/Stop for a background worker or
// Drain to run synchronously until nothing is ready (tests, scripts).
type Worker struct {
	cfg  Config
	exec taskerdriver.Executor

	mu       sync.Mutex
	inflight map[int64]*flight
	done     []finished
	stopping bool
	leader   bool

	wake       chan struct{}
	nextRescue time.Time
	nextBeat   time.Time

	runCtx    context.Context
	runCancel context.CancelFunc
	loopDone  chan struct{}
	handlers  sync.WaitGroup
}

// New returns a Worker.
func New(cfg Config) *Worker {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Worker{
		cfg:       cfg,
		exec:      cfg.Driver.Executor(),
		inflight:  map[int64]*flight{},
		wake:      make(chan struct{}, 1),
		runCtx:    ctx,
		runCancel: cancel,
	}
}

// ID returns the worker's lease owner id.
func (w *Worker) ID() string { return w.cfg.ID }

func (w *Worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// InFlight returns the number of steps being executed.
func (w *Worker) InFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight)
}

// CancelTask cancels the contexts of the task's running handlers; their
// results are dropped (the task's steps were already cancelled in the store).
func (w *Worker) CancelTask(taskID int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.inflight {
		if f.claim.Step.TaskID == taskID {
			f.abandoned = true
			f.cancel()
		}
	}
}

// Start runs the worker loop in the background until Stop.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.loopDone != nil {
		w.mu.Unlock()
		return errors.New("worker already started")
	}
	w.loopDone = make(chan struct{})
	w.mu.Unlock()
	go w.loop(ctx)
	return nil
}

// Stop stops claiming, waits for running handlers until ctx is done, then
// cancels the rest and gives their steps back (in_progress → pending, the
// attempt not counted), records every result and returns.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	done := w.loopDone
	if done == nil {
		w.mu.Unlock()
		return nil
	}
	w.stopping = true
	w.mu.Unlock()
	w.signal()
	waited := make(chan struct{})
	go func() { w.handlers.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		w.mu.Lock()
		for _, f := range w.inflight {
			f.release = true
			f.cancel()
		}
		w.mu.Unlock()
		<-waited
	}
	w.signal()
	<-done
	w.runCancel()
	return nil
}

// loop runs passes until stopped. Cancelling startCtx stops claiming and
// lets running handlers finish, like Stop without a deadline; database work
// uses a context without that cancellation so that results are still
// recorded.
func (w *Worker) loop(startCtx context.Context) {
	defer close(w.loopDone)
	defer w.resign()
	ctx := context.WithoutCancel(startCtx)
	startDone := startCtx.Done()
	ready, unsub := w.cfg.Driver.Listener().Subscribe(taskerdriver.TopicStepsReady)
	defer unsub()
	failures := 0
	for {
		pass, err := w.runOnce(ctx)
		w.mu.Lock()
		stopping, inflight, pending := w.stopping, len(w.inflight), len(w.done)
		w.mu.Unlock()
		if stopping && inflight == 0 && pending == 0 && err == nil {
			return
		}
		if err != nil {
			failures++
			if stopping && failures > 5 {
				w.cfg.Logger.ErrorContext(ctx, "orchestrator: cannot record results while stopping; giving up (their steps will be rescued when their leases expire)",
					"error", err, "results", pending+inflight)
				return
			}
			delay := min(time.Duration(1<<min(failures, 6))*50*time.Millisecond, 5*time.Second)
			w.cfg.Logger.WarnContext(ctx, "orchestrator: worker pass failed; retrying", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-w.wake:
			}
			continue
		}
		failures = 0
		w.heartbeat(ctx)
		if pass.saturated || pending > 0 {
			continue // there may be more ready work, or results to record
		}
		wait := w.cfg.PollInterval
		if !stopping && !pass.nextWake.IsZero() {
			wait = min(wait, max(pass.nextWake.Sub(w.cfg.Now()), time.Millisecond))
		}
		if inflight > 0 {
			wait = min(wait, w.cfg.LeaseDuration/3)
		}
		timer := time.NewTimer(wait)
		select {
		case <-w.wake:
		case <-ready:
		case <-timer.C:
		case <-startDone:
			startDone = nil
			w.mu.Lock()
			w.stopping = true
			w.mu.Unlock()
		}
		timer.Stop()
	}
}

// resign gives up the maintenance leadership so that another worker takes
// it over at once instead of after the term expires.
func (w *Worker) resign() {
	w.mu.Lock()
	leads := w.leader
	w.leader = false
	w.mu.Unlock()
	if !leads {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.exec.LeaderResign(ctx, &taskerdriver.LeaderAttemptParams{Name: maintenanceLeadership, ID: w.cfg.ID}); err != nil {
		w.cfg.Logger.WarnContext(ctx, "orchestrator: resign maintenance leadership", "error", err)
	}
}

// Drain runs passes until no step is ready at the current clock and no
// handler is running: "one pass with the clock frozen". It must not be used
// while the worker runs in the background.
func (w *Worker) Drain(ctx context.Context) error {
	for {
		pass, err := w.runOnce(ctx)
		if err != nil {
			return err
		}
		w.mu.Lock()
		idle := len(w.inflight) == 0 && len(w.done) == 0
		w.mu.Unlock()
		if pass.claimed == 0 && idle {
			return nil
		}
		if pass.claimed == 0 {
			select {
			case <-w.wake:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// passResult is what one pass did.
type passResult struct {
	claimed int
	// saturated: the pass claimed as many steps as it had room for, so more
	// may be ready.
	saturated bool
	// nextWake is when the next step becomes ready or lease expires, when
	// the pass found nothing to claim (zero otherwise or when unknown).
	nextWake time.Time
}

// runOnce records finished attempts, rescues lost steps, finalizes the
// affected tasks and claims new steps, all in one transaction, then starts
// the claimed handlers. When there is nothing to record and nothing is
// ready, it only reads (no write transaction).
func (w *Worker) runOnce(ctx context.Context) (passResult, error) {
	now := w.cfg.Now()
	w.mu.Lock()
	done := w.done
	w.done = nil
	free := w.cfg.Concurrency - len(w.inflight)
	stopping := w.stopping
	w.mu.Unlock()
	rescue := !now.Before(w.nextRescue)

	if len(done) == 0 && !rescue {
		if stopping || free <= 0 {
			return passResult{}, nil
		}
		next, err := w.exec.StepNextWake(ctx, &taskerdriver.StepNextWakeParams{Now: now, Leases: true})
		if err != nil {
			return passResult{}, err
		}
		if next.IsZero() || next.After(now) {
			return passResult{nextWake: next}, nil
		}
	}

	var events []*taskertype.Event
	var claims []*taskerdriver.ClaimedStep
	err := w.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		events = events[:0]
		affected := map[int64]bool{}
		decided, blocked, err := w.record(ctx, tx, done, now, &events)
		if err != nil {
			return err
		}
		for _, id := range decided {
			affected[id] = true
		}
		if rescue {
			ids, err := w.maintain(ctx, tx, now, &events)
			if err != nil {
				return err
			}
			for _, id := range ids {
				affected[id] = true
			}
		}
		if len(affected) > 0 {
			ids := make([]int64, 0, len(affected))
			for id := range affected {
				ids = append(ids, id)
			}
			if err := FinalizeMany(ctx, tx, ids, blocked, now, &events); err != nil {
				return err
			}
		}
		claims = nil
		if !stopping && free > 0 {
			var err error
			claims, err = tx.StepClaim(ctx, &taskerdriver.StepClaimParams{
				Now: now, Limit: free, Owner: w.cfg.ID, LeaseExpiresAt: now.Add(w.cfg.LeaseDuration), Handlers: w.cfg.Handlers,
			})
			if err != nil {
				return err
			}
			claimEvents(claims, now, &events)
		}
		return w.outbox(ctx, tx, events)
	})
	if err != nil {
		if len(done) > 0 && errors.Is(err, taskerdriver.ErrValueRejected) {
			// One result the database refuses must not stall the worker:
			// record them one by one, failing the ones it refuses.
			w.cfg.Logger.WarnContext(ctx, "orchestrator: the database refused a pass's results; recording them one by one", "error", err)
			w.isolate(ctx, done)
			return passResult{}, nil
		}
		// Put the results back so that nothing is lost; the next pass retries.
		w.mu.Lock()
		w.done = append(done, w.done...)
		w.mu.Unlock()
		return passResult{}, err
	}
	if rescue {
		w.nextRescue = now.Add(w.cfg.RescueInterval)
	}
	// Register the claims as running under the lock that Stop takes to set
	// stopping: once Stop waits for the handlers, no new one can start. Steps
	// claimed by a pass that raced with Stop are given back unrun.
	w.mu.Lock()
	if w.stopping && len(claims) > 0 {
		w.mu.Unlock()
		for _, ev := range events {
			w.cfg.Publish(ev) // what the pass recorded did happen
		}
		return passResult{}, w.giveBack(ctx, claims)
	}
	w.handlers.Add(len(claims))
	for _, c := range claims {
		w.dispatch(c)
	}
	w.mu.Unlock()
	for _, ev := range events {
		w.cfg.Publish(ev)
	}
	return passResult{claimed: len(claims), saturated: free > 0 && len(claims) == free}, nil
}

// claimEvents appends the events of a claim: per task, task.start_requested
// when the claim started it, then workflow.viable_steps_discovered with the
// claimed steps, then one step.execution_requested per step.
func claimEvents(claims []*taskerdriver.ClaimedStep, now time.Time, events *[]*taskertype.Event) {
	byTask := map[int64][]*taskerdriver.ClaimedStep{}
	var order []int64
	for _, c := range claims {
		if byTask[c.Task.ID] == nil {
			order = append(order, c.Task.ID)
		}
		byTask[c.Task.ID] = append(byTask[c.Task.ID], c)
	}
	for _, id := range order {
		cs := byTask[id]
		task := cs[0].Task
		if cs[0].TaskStarted {
			*events = append(*events, &taskertype.Event{Name: "task.start_requested", Task: task, At: now})
		}
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = c.Step.Name
		}
		payload, _ := json.Marshal(map[string]any{"step_names": names, "processing_mode": "concurrent"})
		*events = append(*events, &taskertype.Event{Name: "workflow.viable_steps_discovered", Task: task, Payload: payload, At: now})
		for _, c := range cs {
			*events = append(*events, &taskertype.Event{Name: "step.execution_requested", Task: task, Step: c.Step, Attempt: c.Step.Attempts, At: now})
		}
	}
}

// giveBack returns claimed steps that were never started to pending, the
// attempt not counted.
func (w *Worker) giveBack(ctx context.Context, claims []*taskerdriver.ClaimedStep) error {
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.Step.ID
	}
	_, err := w.exec.StepSetState(ctx, &taskerdriver.StepSetStateParams{
		IDs: ids, From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StatePending,
		Owner: w.cfg.ID, DecrementAttempt: true, Now: w.cfg.Now(),
		Metadata: reasonMeta("released_on_shutdown", map[string]any{"worker": w.cfg.ID, "started": false}),
	})
	return err
}

// isolate records finished attempts one per transaction (with their
// finalization and events). An attempt whose result the database refuses
// is recorded as a permanent failure that says so; one that cannot be
// recorded at all is dropped (its lease expires and the rescue fails it).
func (w *Worker) isolate(ctx context.Context, done []finished) {
	for _, d := range done {
		err := w.recordAlone(ctx, d)
		if err != nil && errors.Is(err, taskerdriver.ErrValueRejected) {
			d.res = Result{Err: fmt.Errorf("the database refused the step's result or error, so it was not stored (%s): make the handler return values the database can store", err.Error()),
				Permanent: true, Kind: "permanent"}
			err = w.recordAlone(ctx, d)
		}
		if err != nil {
			w.cfg.Logger.ErrorContext(ctx, "orchestrator: cannot record a step's attempt; it will be rescued when its lease expires",
				"step_id", d.f.claim.Step.ID, "attempt", d.f.claim.Step.Attempts, "error", err)
		}
	}
}

// recordAlone records one finished attempt in its own transaction.
func (w *Worker) recordAlone(ctx context.Context, d finished) error {
	now := w.cfg.Now()
	var events []*taskertype.Event
	err := w.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		events = events[:0]
		decided, blocked, err := w.record(ctx, tx, []finished{d}, now, &events)
		if err != nil {
			return err
		}
		if len(decided) > 0 {
			if err := FinalizeMany(ctx, tx, decided, blocked, now, &events); err != nil {
				return err
			}
		}
		return w.outbox(ctx, tx, events)
	})
	if err != nil {
		return err
	}
	for _, ev := range events {
		w.cfg.Publish(ev)
	}
	return nil
}

// outbox writes the outbox messages of events in tx.
func (w *Worker) outbox(ctx context.Context, tx taskerdriver.ExecutorTx, events []*taskertype.Event) error {
	if w.cfg.Outbox == nil {
		return nil
	}
	rows := w.cfg.Outbox(events)
	if len(rows) == 0 {
		return nil
	}
	for _, r := range rows {
		r.Payload = jsonclean.JSON(r.Payload) // a handler's custom event must not block the pass
	}
	return tx.OutboxInsert(ctx, rows)
}

func (w *Worker) inTx(ctx context.Context, fn func(tx taskerdriver.ExecutorTx) error) error {
	tx, err := w.exec.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// dispatch starts the handler of a claimed step. The caller holds w.mu and
// has added the step to w.handlers.
func (w *Worker) dispatch(c *taskerdriver.ClaimedStep) {
	pol := DecodePolicy(c.Step.Policy)
	timeout := cmp.Or(pol.Timeout, w.cfg.StepTimeout)
	ctx, cancel := context.WithCancel(w.runCtx)
	f := &flight{claim: c, cancel: cancel, started: w.cfg.Now()}
	w.inflight[c.Step.ID] = f
	go func() {
		defer w.handlers.Done()
		defer cancel()
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		defer tcancel()
		out := make(chan Result, 1)
		go func() { out <- w.safeRun(tctx, c) }()
		var res Result
		select {
		case res = <-out:
		case <-tctx.Done():
			if ctx.Err() == nil {
				res = Result{Err: fmt.Errorf("step timed out after %s", timeout), Kind: "timeout"}
			} else {
				// Cancelled: give the handler a moment to return its own result.
				select {
				case res = <-out:
				case <-time.After(100 * time.Millisecond):
					res = Result{Err: ctx.Err(), Kind: "cancelled"}
				}
			}
		}
		w.mu.Lock()
		delete(w.inflight, c.Step.ID)
		w.done = append(w.done, finished{f: f, res: res, endsAt: w.cfg.Now()})
		w.mu.Unlock()
		w.signal()
	}()
}

func (w *Worker) safeRun(ctx context.Context, c *taskerdriver.ClaimedStep) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			res = Result{Err: fmt.Errorf("handler panic: %v", r), Kind: "panic", Stack: string(debug.Stack())}
		}
	}()
	return w.cfg.Run(ctx, c)
}

// record writes a pass's finished attempts with one StepFinishMany and
// returns the tasks to finalize: those whose outcome a result may decide (a
// completion that made no child ready, a failure) and, among them, those
// with a step blocked by this pass. (A completion that readied children
// leaves its task running with work to do.)
func (w *Worker) record(ctx context.Context, tx taskerdriver.Executor, done []finished, now time.Time, events *[]*taskertype.Event) ([]int64, map[int64]bool, error) {
	type item struct {
		d    finished
		fail *failure
	}
	var items []item
	var params []*taskerdriver.StepFinishParams
	var released []int64
	for _, d := range done {
		step := d.f.claim.Step
		switch {
		case d.f.abandoned:
			continue
		case d.f.release && (d.res.Kind == "cancelled" || errors.Is(d.res.Err, context.Canceled)):
			// Cancelled by the shutdown: give the attempt back. (A handler
			// that failed on its own while the worker was stopping is a
			// real failure, recorded below.)
			released = append(released, step.ID)
			continue
		case d.res.Err == nil:
			results := jsonclean.JSON(d.res.Results)
			if len(results) == 0 {
				results = json.RawMessage(`null`)
			}
			params = append(params, &taskerdriver.StepFinishParams{
				StepID: step.ID, Owner: w.leaseOwner(d.f), Attempt: step.Attempts, State: taskertype.StateComplete,
				Results: results, Now: now,
				Metadata: json.RawMessage(fmt.Sprintf(`{"attempt":%d,"duration_ms":%d}`, step.Attempts, d.endsAt.Sub(d.f.started).Milliseconds())),
			})
			items = append(items, item{d: d})
		default:
			f := w.failure(step, w.leaseOwner(d.f), d.res, now)
			params = append(params, f.params)
			items = append(items, item{d: d, fail: f})
		}
	}
	if len(released) > 0 {
		if _, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{
			IDs: released, From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StatePending,
			Owner: w.cfg.ID, DecrementAttempt: true, Now: now,
			Metadata: reasonMeta("released_on_shutdown", map[string]any{"worker": w.cfg.ID}),
		}); err != nil {
			return nil, nil, err
		}
	}
	if len(params) == 0 {
		return nil, nil, nil
	}
	outs, err := tx.StepFinishMany(ctx, params)
	if err != nil {
		return nil, nil, err
	}
	var decided []int64
	blocked := map[int64]bool{}
	for i, o := range outs {
		it := items[i]
		step, task := it.d.f.claim.Step, it.d.f.claim.Task
		if o.Err != nil {
			it.d.f.lost = true
			w.cfg.Logger.InfoContext(ctx, "orchestrator: result of a step no longer owned dropped",
				"step_id", step.ID, "attempt", step.Attempts, "error", o.Err)
			continue
		}
		it.d.f.recorded = o.Result.Step
		duration := it.d.endsAt.Sub(it.d.f.started)
		*events = append(*events, it.d.res.Events...)
		if it.fail == nil {
			*events = append(*events, &taskertype.Event{Name: "step.completed", Task: task, Step: o.Result.Step, Attempt: step.Attempts, Duration: duration, At: now})
			if o.Result.ChildrenReady == 0 {
				decided = append(decided, step.TaskID)
			}
			continue
		}
		it.fail.events(task, o.Result.Step, duration, now, events)
		decided = append(decided, step.TaskID)
		if it.fail.blocked {
			blocked[step.TaskID] = true
		}
	}
	return decided, blocked, nil
}

// failure is a failed attempt about to be recorded.
type failure struct {
	params             *taskerdriver.StepFinishParams
	serr               *taskertype.StepError
	blocked, exhausted bool
	permanent          bool
}

// failure computes how a failed attempt of step (owned by owner) is
// recorded: its error, and its retry time or block.
func (w *Worker) failure(step *taskertype.Step, owner string, res Result, now time.Time) *failure {
	kind := res.Kind
	if kind == "" {
		kind = "retryable"
		if res.Permanent {
			kind = "permanent"
		}
	}
	f := &failure{permanent: res.Permanent}
	f.serr = &taskertype.StepError{
		Message: jsonclean.String(res.Err.Error()), Kind: kind, Class: jsonclean.String(cmp.Or(res.Class, errorClass(res.Err))),
		Stack: jsonclean.String(res.Stack), Details: jsonclean.JSON(res.Details),
		RetryAfter: res.RetryAfter, Attempt: step.Attempts, At: now,
	}
	f.exhausted = step.Attempts >= step.RetryLimit
	f.blocked = res.Permanent || f.exhausted || !step.Retryable
	var next time.Time
	if !f.blocked {
		next = retrypolicy.NextAttemptAt(now, step.Attempts, DecodePolicy(step.Policy).Retry(w.cfg.Retry), res.RetryAfter, w.cfg.Rand)
	}
	meta := map[string]any{"attempt": step.Attempts, "error": f.serr.Message, "error_kind": kind}
	if !next.IsZero() {
		meta["next_attempt_at"] = next.UTC().Format(time.RFC3339Nano)
	}
	f.params = &taskerdriver.StepFinishParams{
		StepID: step.ID, Owner: owner, Attempt: step.Attempts, State: taskertype.StateError,
		Error: f.serr, Blocked: f.blocked, NextAttemptAt: next, Now: now, Metadata: reasonMeta("attempt_failed", meta),
	}
	return f
}

// events appends the events of a recorded failure.
func (f *failure) events(task *taskertype.Task, step *taskertype.Step, duration time.Duration, now time.Time, events *[]*taskertype.Event) {
	*events = append(*events, &taskertype.Event{Name: "step.failed", Task: task, Step: step, Attempt: f.serr.Attempt, Duration: duration, Error: f.serr, At: now})
	if !f.blocked {
		backoff := f.params.NextAttemptAt.Sub(now)
		payload, _ := json.Marshal(map[string]any{
			"next_attempt_at": f.params.NextAttemptAt.UTC().Format(time.RFC3339Nano), "backoff_ms": backoff.Milliseconds(),
			"backoff_type": map[bool]string{true: "server_requested", false: "exponential"}[f.serr.RetryAfter > 0],
		})
		*events = append(*events, &taskertype.Event{Name: "step.backoff", Task: task, Step: step, Attempt: f.serr.Attempt, Error: f.serr, Payload: payload, At: now})
	}
	if f.blocked && f.exhausted && !f.permanent {
		*events = append(*events, &taskertype.Event{Name: "step.max_retries_reached", Task: task, Step: step, Attempt: f.serr.Attempt, Error: f.serr, At: now})
	}
}

// fail records one failed attempt of step (owned by owner) and schedules
// its retry or blocks it.
func (w *Worker) fail(ctx context.Context, tx taskerdriver.Executor, task *taskertype.Task, step *taskertype.Step, owner string,
	res Result, duration time.Duration, now time.Time, events *[]*taskertype.Event,
) (blocked bool, err error) {
	f := w.failure(step, owner, res, now)
	outs, err := tx.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{f.params})
	if err != nil {
		return false, err
	}
	if outs[0].Err != nil {
		return false, outs[0].Err
	}
	f.events(task, outs[0].Result.Step, duration, now, events)
	return f.blocked, nil
}

// maintain runs the leader's maintenance when this worker is (or becomes)
// the maintenance leader: lease rescue and retention. It returns the tasks
// whose steps it changed.
func (w *Worker) maintain(ctx context.Context, tx taskerdriver.ExecutorTx, now time.Time, events *[]*taskertype.Event) ([]int64, error) {
	leads, err := tx.LeaderAttempt(ctx, &taskerdriver.LeaderAttemptParams{Name: maintenanceLeadership, ID: w.cfg.ID, Now: now, TTL: w.cfg.LeaderTTL})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	changed := leads != w.leader
	w.leader = leads
	w.mu.Unlock()
	if changed {
		w.cfg.Logger.InfoContext(ctx, "orchestrator: maintenance leadership changed", "worker", w.cfg.ID, "leader", leads)
	}
	if !leads {
		return nil, nil
	}
	tasks, err := w.rescue(ctx, tx, now, events)
	if err != nil {
		return nil, err
	}
	if w.cfg.Retention > 0 {
		n, err := tx.TaskDeleteFinished(ctx, &taskerdriver.TaskDeleteFinishedParams{
			States: []taskertype.State{taskertype.StateComplete, taskertype.StateCancelled, taskertype.StateResolvedManually},
			Before: now.Add(-w.cfg.Retention), Limit: 1000,
		})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			w.cfg.Logger.InfoContext(ctx, "orchestrator: deleted finished tasks past retention", "count", n, "retention", w.cfg.Retention)
		}
	}
	return tasks, nil
}

// IsLeader reports whether this worker was the maintenance leader at its
// last maintenance pass.
func (w *Worker) IsLeader() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leader
}

// rescue fails the attempts of steps whose lease expired (their worker died
// or hung) so that the normal retry policy re-runs them.
func (w *Worker) rescue(ctx context.Context, tx taskerdriver.ExecutorTx, now time.Time, events *[]*taskertype.Event) ([]int64, error) {
	lost, err := tx.StepListExpired(ctx, &taskerdriver.StepListExpiredParams{Now: now, Limit: 100})
	if err != nil {
		return nil, err
	}
	var tasks []int64
	for _, s := range lost {
		task, err := tx.TaskGet(ctx, s.TaskID)
		if err != nil {
			return nil, err
		}
		res := Result{Err: fmt.Errorf("worker %s lost: lease expired at %s", s.LeaseOwner, s.LeaseExpiresAt.UTC().Format(time.RFC3339)), Kind: "worker_lost"}
		if _, err := w.fail(ctx, tx, task, s, s.LeaseOwner, res, now.Sub(s.LastAttemptedAt), now, events); err != nil {
			if errors.Is(err, taskerdriver.ErrLeaseLost) {
				continue
			}
			return nil, err
		}
		w.cfg.Logger.WarnContext(ctx, "orchestrator: rescued step whose worker was lost", "step_id", s.ID, "task_id", s.TaskID, "worker", s.LeaseOwner)
		tasks = append(tasks, s.TaskID)
	}
	return tasks, nil
}

// heartbeat extends the leases of running steps when due and abandons those
// the worker no longer owns.
func (w *Worker) heartbeat(ctx context.Context) {
	now := w.cfg.Now()
	if now.Before(w.nextBeat) {
		return
	}
	w.nextBeat = now.Add(w.cfg.LeaseDuration / 3)
	w.mu.Lock()
	ids := make([]int64, 0, len(w.inflight))
	for id := range w.inflight {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	kept, err := w.exec.StepHeartbeat(ctx, &taskerdriver.StepHeartbeatParams{
		Owner: w.cfg.ID, IDs: ids, LeaseExpiresAt: now.Add(w.cfg.LeaseDuration), Now: now,
	})
	if err != nil {
		w.cfg.Logger.WarnContext(ctx, "orchestrator: heartbeat failed", "error", err)
		return
	}
	keep := make(map[int64]bool, len(kept))
	for _, id := range kept {
		keep[id] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if f := w.inflight[id]; f != nil && !keep[id] {
			f.abandoned = true
			f.cancel()
		}
	}
}

// FinalizeMany applies the task outcome rule to several tasks (locked in id
// order, with one progress query, moved with one update per target state)
// inside tx, and appends the events.
//
// A task that stays running gets workflow.no_viable_steps when nothing of it
// runs and its runnable steps all wait for a retry time, and task.blocked
// when a step of it was blocked (blocked[id]) while other steps can still
// progress: it can no longer complete.
func FinalizeMany(ctx context.Context, tx taskerdriver.Executor, ids []int64, blocked map[int64]bool, now time.Time, events *[]*taskertype.Event) error {
	slices.Sort(ids)
	all, err := tx.TaskProgressMany(ctx, ids)
	if err != nil {
		return err
	}
	var via, final []*taskerdriver.TaskSetStateParams
	var decisions []Decision
	for _, id := range ids {
		tp := all[id]
		if tp == nil {
			continue // deleted meanwhile
		}
		d := Decide(tp.Task.State, tp.Progress)
		if d.To == "" {
			runningEvents(tp.Task, tp.Progress, blocked[id], now, events)
			continue
		}
		if err := checkMoves(tp.Task, d); err != nil {
			return err
		}
		meta := reasonMeta(d.Reason, map[string]any{"total_steps": tp.Progress.Total, "done_steps": tp.Progress.Done, "blocked_steps": tp.Progress.Blocked})
		from := tp.Task.State
		if d.Via != "" {
			via = append(via, &taskerdriver.TaskSetStateParams{ID: id, From: []taskertype.State{from}, To: d.Via, Metadata: meta, Now: now})
			from = d.Via
		}
		final = append(final, &taskerdriver.TaskSetStateParams{ID: id, From: []taskertype.State{from}, To: d.To, Metadata: meta, Now: now})
		decisions = append(decisions, d)
	}
	if len(via) > 0 {
		if _, err := tx.TaskSetStateMany(ctx, via); err != nil {
			return err
		}
	}
	if len(final) == 0 {
		return nil
	}
	tasks, err := tx.TaskSetStateMany(ctx, final)
	if err != nil {
		return err
	}
	for i, t := range tasks {
		*events = append(*events, &taskertype.Event{Name: taskEventName[decisions[i].To], Task: t, At: now})
	}
	return nil
}

// runningEvents appends the events of a task that stays running after a
// pass: task.blocked and workflow.no_viable_steps (see FinalizeMany).
func runningEvents(task *taskertype.Task, p *taskerdriver.TaskProgress, stepBlocked bool, now time.Time, events *[]*taskertype.Event) {
	if task.State.Final() {
		return
	}
	if stepBlocked && p.Blocked > 0 {
		payload, _ := json.Marshal(map[string]any{"blocked_steps": p.Blocked, "runnable_steps": p.Runnable, "in_progress_steps": p.InProgress})
		*events = append(*events, &taskertype.Event{Name: "task.blocked", Task: task, Payload: payload, At: now})
	}
	if p.InProgress == 0 && p.Runnable > 0 && p.NextRunnableAt.After(now) {
		payload, _ := json.Marshal(map[string]any{"next_attempt_at": p.NextRunnableAt.UTC().Format(time.RFC3339Nano), "waiting_steps": p.Runnable})
		*events = append(*events, &taskertype.Event{Name: "workflow.no_viable_steps", Task: task, Payload: payload, At: now})
	}
}

// taskEventName names the event of a finalization's target state.
var taskEventName = map[taskertype.State]string{
	taskertype.StateComplete: "task.completed", taskertype.StateError: "task.failed",
	taskertype.StateResolvedManually: "task.resolved_manually", taskertype.StatePending: "task.retry_requested",
}

// checkMoves checks a decision's moves against the task state machine.
func checkMoves(task *taskertype.Task, d Decision) error {
	from := task.State
	for _, to := range []taskertype.State{d.Via, d.To} {
		if to == "" {
			continue
		}
		if err := statemachine.Task(from, to); err != nil {
			return fmt.Errorf("finalize task %d: %w", task.ID, err)
		}
		from = to
	}
	return nil
}

// Finalize applies the task outcome rule to the task after a change of its
// steps, inside tx, and appends the resulting events. It returns the task.
func Finalize(ctx context.Context, tx taskerdriver.Executor, taskID int64, now time.Time, events *[]*taskertype.Event) (*taskertype.Task, error) {
	// Lock the task first: two workers finishing the task's last steps at
	// once must not both count the other's step as still running.
	all, err := tx.TaskProgressMany(ctx, []int64{taskID})
	if err != nil {
		return nil, err
	}
	tp := all[taskID]
	if tp == nil {
		return nil, fmt.Errorf("finalize task %d: %w", taskID, taskerdriver.ErrNotFound)
	}
	return decide(ctx, tx, tp.Task, tp.Progress, now, events)
}

// decide moves a locked task as Decide says.
func decide(ctx context.Context, tx taskerdriver.Executor, task *taskertype.Task, prog *taskerdriver.TaskProgress, now time.Time, events *[]*taskertype.Event) (*taskertype.Task, error) {
	taskID := task.ID
	d := Decide(task.State, prog)
	if d.To == "" {
		return task, nil
	}
	if err := checkMoves(task, d); err != nil {
		return nil, err
	}
	meta := reasonMeta(d.Reason, map[string]any{"total_steps": prog.Total, "done_steps": prog.Done, "blocked_steps": prog.Blocked})
	from := task.State // the task is locked: it is in this state
	if d.Via != "" {
		if _, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: taskID, From: []taskertype.State{from}, To: d.Via, Metadata: meta, Now: now}}); err != nil {
			return nil, err
		}
		from = d.Via
	}
	moved, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: taskID, From: []taskertype.State{from}, To: d.To, Metadata: meta, Now: now}})
	if err != nil {
		return nil, err
	}
	task = moved[0]
	*events = append(*events, &taskertype.Event{Name: taskEventName[d.To], Task: task, At: now})
	return task, nil
}

func errorClass(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return reflect.TypeOf(err).String()
}
