package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerlog"
	"github.com/tasker-go/tasker/taskertype"
)

// Result is the outcome of running one step's handler.
type Result = recorder.Result

// RunFunc runs the handler of a claimed step.
type RunFunc func(ctx context.Context, c *taskerdriver.ClaimedStep) Result

// Config configures a Worker. Zero values mean the documented defaults.
type Config struct {
	Driver taskerdriver.Driver
	Run    RunFunc
	// Recorder writes the worker's claims and results (required).
	Recorder *recorder.Recorder
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
	// StepTimeout is the default timeout of one attempt. Defaults to 5m.
	StepTimeout time.Duration
	// Handlers, when set, returns the handler names the worker runs: its
	// claims, and the wake time it reads, skip steps of other handlers,
	// which stay pending for a worker that has them. It is called once a
	// pass (handlers may be registered while the worker runs); nil or an
	// empty list means every handler.
	Handlers func() []string
	// AsyncCommit begins the worker's passes through the driver's
	// AsyncCommitExecutor when it has one (taskerdriver.AsyncCommitter).
	AsyncCommit bool
	// Passes is how many passes the worker runs at once (Start), each in
	// its own transaction: while one pass is in the database, the results
	// that arrive meanwhile are recorded, and the slots they free filled,
	// by another, instead of waiting for it. Defaults to 1; more helps
	// only a database that runs write transactions concurrently.
	Passes int
	// Publish receives the events of a transaction after it commits, in
	// order. Defaults to dropping them.
	Publish func([]*taskertype.Event)
	// Describe, when set, describes the worker for the registry of workers
	// seen: the worker records itself when it starts and then at most once
	// per heartbeat interval (LeaseDuration/3), outside its claim
	// transactions. The worker sets ID, Kind, StartedAt and Now.
	Describe func() taskerdriver.WorkerSeenParams
}

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
	c.StepTimeout = cmp.Or(c.StepTimeout, 5*time.Minute)
	c.Passes = max(c.Passes, 1)
	if c.Publish == nil {
		c.Publish = func([]*taskertype.Event) {}
	}
	return c
}

// flight is one step being executed.
type flight struct {
	claim   *taskerdriver.ClaimedStep
	cancel  context.CancelFunc
	started time.Time
	// dispatched is when the handler started on the wall clock (started
	// is on the worker's clock, which tests may freeze).
	dispatched time.Time
	// abandoned: the step is no longer ours (cancelled, rescued); drop the result.
	abandoned bool
	// release: the worker is shutting down; a cancelled attempt is given back.
	release bool
}

// finished is a flight whose handler returned (or timed out).
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
	rec  *recorder.Recorder

	mu       sync.Mutex
	inflight map[int64]*flight
	// reserved: slots held by ClaimFor calls whose transaction has not ended.
	reserved int
	// passReserved: slots held by the passes running (Config.Passes), each
	// until its claims run or it ends, so that two passes do not claim the
	// same free slots. ClaimFor does not count them: a creation's claim
	// competes with a pass as it did before passes ran concurrently.
	passReserved int
	done         []finished
	stopping     bool
	// exhausted: what the pass loops know of ready steps (w.mu).
	exhausted exhaustion
	// starved: a pass wanted to claim and found every free slot held by
	// another pass or a creation's claim (wakeStarved).
	starved bool
	// stopped is closed when stopping is set (setStopping): it wakes every
	// pass loop, where the wake channel wakes one.
	stopped chan struct{}

	wake chan struct{}
	// beatMu: one pass loop's heartbeat at a time (Config.Passes); it
	// guards nextBeat and nextSeen.
	beatMu   sync.Mutex
	nextBeat time.Time
	// started is when Start ran; nextSeen when the worker records itself
	// in the registry of workers next.
	started  time.Time
	nextSeen time.Time

	runCtx    context.Context
	runCancel context.CancelFunc
	loopDone  chan struct{}
	handlers  sync.WaitGroup
}

// New returns a Worker.
func New(cfg Config) *Worker {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	exec := cfg.Driver.Executor()
	if a, ok := cfg.Driver.(taskerdriver.AsyncCommitter); ok && cfg.AsyncCommit {
		exec = a.AsyncCommitExecutor()
	}
	return &Worker{
		cfg:       cfg,
		exec:      exec,
		rec:       cfg.Recorder,
		inflight:  map[int64]*flight{},
		wake:      make(chan struct{}, 1),
		stopped:   make(chan struct{}),
		runCtx:    ctx,
		runCancel: cancel,
	}
}

// ID returns the worker's lease owner id.
func (w *Worker) ID() string { return w.cfg.ID }

// free is how many slots a pass may claim: those no handler, creation's
// claim (reserved) or other pass (passReserved) holds. The caller holds
// w.mu.
func (w *Worker) free() int {
	return max(w.cfg.Concurrency-len(w.inflight)-w.reserved-w.passReserved, 0)
}

// wakeStarved wakes a pass loop when a pass found no slot free to claim
// (starved) and slots held meanwhile were let go unfilled: what that pass
// was woken for (a steps-ready notification) is looked at again. The
// caller holds w.mu.
func (w *Worker) wakeStarved() {
	if w.starved {
		w.starved = false
		w.signal()
	}
}

// setStopping marks the worker stopping; the caller holds w.mu.
func (w *Worker) setStopping() {
	if !w.stopping {
		w.stopping = true
		close(w.stopped)
	}
}

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
	w.started = w.cfg.Now()
	w.seen(ctx, w.started)
	var loops sync.WaitGroup
	for range w.cfg.Passes {
		loops.Go(func() { w.loop(ctx) })
	}
	go func() {
		loops.Wait()
		close(w.loopDone)
	}()
	return nil
}

// seen records the worker in the registry of workers seen when it is due
// (at most once per heartbeat interval). A failure is logged: the registry
// is for operators, never a reason to stop working.
func (w *Worker) seen(ctx context.Context, now time.Time) {
	if w.cfg.Describe == nil || now.Before(w.nextSeen) {
		return
	}
	w.nextSeen = now.Add(w.cfg.LeaseDuration / 3)
	p := w.cfg.Describe()
	p.ID, p.Kind, p.StartedAt, p.Now = w.cfg.ID, taskertype.WorkerInProcess, w.started, now
	if err := w.exec.WorkerSeen(ctx, &p); err != nil {
		w.cfg.Logger.WarnContext(ctx, "orchestrator: cannot record the worker in the registry of workers", "error", err)
	}
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
	w.setStopping()
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
// recorded. Config.Passes loops run at once, over the same results and
// slots and the same knowledge of what is ready (w.exhausted); each runs
// the heartbeat when due (the loop that launched steps wakes for it,
// whichever it is). Once the worker is stopping, a loop ends when no
// handler runs and no result waits, after its own pass succeeded (a loop
// whose pass failed writes its results again), and wakes another loop as
// it ends, so that every loop ends.
func (w *Worker) loop(startCtx context.Context) {
	ctx := context.WithoutCancel(startCtx)
	startDone := startCtx.Done()
	stopped := w.stopped
	ready, unsub := w.cfg.Driver.Listener().Subscribe(taskerdriver.TopicStepsReady)
	defer unsub()
	failures := 0
	// wakeAt is when a step is next ready by its retry time, as the last
	// read of it said (zero: none). A pass that records results does not
	// read it, so it is kept until the next read: a retry is not left to
	// the poll interval because other results came first.
	var wakeAt time.Time
	// notified: the last wake-up was a steps-ready notification, so the
	// next pass claims without first reading whether a step is ready.
	notified := false
	for {
		w.gather()
		now := w.cfg.Now()
		w.mu.Lock()
		if !wakeAt.IsZero() && !now.Before(wakeAt) {
			w.exhausted.clear()
		}
		seq := w.exhausted.start()
		exhausted := w.exhausted.active(now)
		w.mu.Unlock()
		if exhausted && !notified {
			select {
			case <-ready: // sent while the loop did not wait
				notified = true
			default:
			}
		}
		pass, err := w.runOnce(ctx, notified, exhausted)
		notified = false
		w.mu.Lock()
		switch {
		case err != nil:
			w.exhausted.clear()
		case pass.wakeRead: // nothing was ready
			w.exhausted.set(seq, now.Add(w.cfg.PollInterval))
		case pass.claimedAt.IsZero(): // no claim: what the last one found stands
		case pass.saturated:
			w.exhausted.clear()
		default:
			w.exhausted.set(seq, pass.claimedAt.Add(w.cfg.PollInterval))
		}
		stopping, inflight, pending := w.stopping, len(w.inflight), len(w.done)
		w.mu.Unlock()
		if pass.wakeRead {
			wakeAt = pass.nextWake
		} else if pass.claimedAt.Compare(wakeAt) >= 0 {
			wakeAt = time.Time{} // reached when the pass claimed: it claimed what it could
		}
		if r := pass.retryAt; !r.IsZero() && (wakeAt.IsZero() || r.Before(wakeAt)) {
			wakeAt = r // a retry this pass scheduled: claimed when due, whatever the passes between skip
		}
		if stopping && inflight == 0 && pending == 0 && err == nil {
			w.signal() // another loop, asleep, ends too
			return
		}
		if err != nil {
			failures++
			if stopping && failures > 5 {
				w.cfg.Logger.ErrorContext(ctx, "orchestrator: cannot record results while stopping; giving up (their steps will be rescued when their leases expire)",
					"error", err, "results", pending+inflight)
				w.signal()
				return
			}
			delay := min(time.Duration(1<<min(failures, 6))*50*time.Millisecond, 5*time.Second)
			w.cfg.Logger.WarnContext(ctx, "orchestrator: worker pass failed; retrying", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-w.wake:
			case <-stopped:
				stopped = nil
			}
			continue
		}
		failures = 0
		w.heartbeat(ctx)
		if pass.saturated || pending > 0 {
			continue // there may be more ready work, or results to record
		}
		wait := w.cfg.PollInterval
		if !stopping && !wakeAt.IsZero() {
			wait = min(wait, max(wakeAt.Sub(w.cfg.Now()), time.Millisecond))
		}
		if inflight > 0 {
			wait = min(wait, w.cfg.LeaseDuration/3)
		}
		timer := time.NewTimer(wait)
		select {
		case <-w.wake:
		case <-ready:
			notified = true
			w.mu.Lock()
			w.exhausted.clear()
			w.mu.Unlock()
		case <-timer.C:
			w.mu.Lock()
			w.exhausted.clear() // the poll: look again
			w.mu.Unlock()
		case <-stopped:
			stopped = nil
		case <-startDone:
			startDone = nil
			w.mu.Lock()
			w.setStopping()
			w.mu.Unlock()
		}
		timer.Stop()
	}
}

// exhaustion is the pass loops' knowledge that nothing more is ready: the
// last claim (or read of the next wake-up) found no more ready steps than
// it took, and nothing has said since that more may be (a steps-ready
// notification, a retry time reached, the poll, a saturated claim, a failed
// pass). Until then, a pass whose results ready no step
// (recorder.ReadiesNothing) skips the claim, a statement that would find
// nothing: the last pass of every task. It lasts one poll interval at most,
// so that steps made ready by time alone (a retry due) are claimed within
// it even by a worker that never idles. The loops share it (Config.Passes):
// a loop whose own last claim found nothing must not skip a claim after
// another loop's claim found more. A pass that started before the last
// clear does not set it: what it found is older than what cleared it.
// The caller holds w.mu.
type exhaustion struct {
	until time.Time
	// started counts the passes started; cleared is started at the last
	// clear.
	started, cleared uint64
}

// start counts a pass that starts and returns its number.
func (e *exhaustion) start() uint64 {
	e.started++
	return e.started
}

func (e *exhaustion) clear() {
	e.until = time.Time{}
	e.cleared = e.started
}

// set records that pass number seq found nothing more ready, until until.
func (e *exhaustion) set(seq uint64, until time.Time) {
	if seq > e.cleared {
		e.until = until
	}
}

func (e *exhaustion) active(now time.Time) bool { return now.Before(e.until) }

// gatherWindow bounds how long a pass waits for handlers that started
// together with one that finished (see gather).
const gatherWindow = 250 * time.Microsecond

// gather waits, at most gatherWindow, for the handlers that started less
// than gatherWindow before one that has finished, so that results arriving
// together (a diamond's middle steps, a fan-out's branches with quick
// handlers) are recorded by one pass, one transaction, instead of one pass
// each behind the other. It does not wait when no result is waiting or
// when every running handler has run longer than that.
func (w *Worker) gather() {
	deadline := time.Now().Add(gatherWindow)
	for {
		w.mu.Lock()
		waiting := len(w.done) > 0
		young := 0
		for _, f := range w.inflight {
			if time.Since(f.dispatched) < gatherWindow {
				young++
			}
		}
		w.mu.Unlock()
		left := time.Until(deadline)
		if !waiting || young == 0 || left <= 0 {
			return
		}
		t := time.NewTimer(left)
		select {
		case <-w.wake: // a handler finished (or Stop: runOnce reads stopping)
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain runs passes until no step is ready at the current clock and no
// handler is running: "one pass with the clock frozen". It must not be used
// while the worker runs in the background.
func (w *Worker) Drain(ctx context.Context) error {
	for {
		pass, err := w.runOnce(ctx, false, false)
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
	// nextWake is when the next step becomes ready (zero: none), when
	// wakeRead: the pass read it (it had nothing to record and found
	// nothing ready).
	nextWake time.Time
	wakeRead bool
	// claimedAt is the time (the worker's clock) at which the pass
	// claimed; zero when it did not.
	claimedAt time.Time
	// retryAt is the earliest retry time of the failed attempts the pass
	// recorded (zero: none).
	retryAt time.Time
}

// runOnce records finished attempts (with the task outcomes they decide)
// and claims new steps in one transaction, then starts the claimed
// handlers. When there is nothing to record and nothing is ready, it only
// reads (no write transaction). After a steps-ready notification
// (notified) it claims at once, and reads when the next step is ready only
// if it claimed nothing. When the last claim found nothing more
// (exhausted) and not notified since, a pass of results that ready no
// step does not claim.
func (w *Worker) runOnce(ctx context.Context, notified, exhausted bool) (passResult, error) {
	now := w.cfg.Now()
	w.mu.Lock()
	done := w.done
	w.done = nil
	free := w.free()
	stopping := w.stopping
	// A wake-up sent before now is answered by this pass: handlers signal
	// under w.mu after adding their result, and Stop sets stopping before it
	// signals. Left in the channel, it would start a pass with nothing to do.
	select {
	case <-w.wake:
	default:
	}
	w.mu.Unlock()

	if len(done) == 0 {
		if stopping || free <= 0 {
			if !stopping && notified {
				w.mu.Lock()
				w.starved = true // the slots are held: look again when they are let go
				w.mu.Unlock()
			}
			return passResult{}, nil
		}
		if !notified {
			if res, idle, err := w.nextWake(ctx, now); idle || err != nil {
				return res, err
			}
		}
	}

	attempts, released := w.sort(done)
	// Nothing was ready at the last look, and these results ready nothing.
	needless := exhausted && !notified && recorder.ReadiesNothing(attempts)
	claiming := !stopping && free > 0 && !needless
	// The slots a pass claims are its own until its claims run (or it
	// ends): another pass running meanwhile (Config.Passes) claims only
	// slots freed since. A pass that does not claim holds none.
	held := 0
	if claiming {
		w.mu.Lock()
		held = min(free, w.free())
		w.passReserved += held
		if held == 0 {
			w.starved = true // another pass or a creation's claim holds the slots
		}
		w.mu.Unlock()
		claiming = held > 0
	}
	defer func() {
		if held > 0 {
			w.mu.Lock()
			w.passReserved -= held
			w.wakeStarved()
			w.mu.Unlock()
		}
	}()
	if !claiming && len(done) == 0 {
		return passResult{}, nil // another pass took the free slots
	}
	var b recorder.Batch
	var (
		claims   []*taskerdriver.ClaimedStep
		recorded []recorder.Recorded
	)
	err := w.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		if _, err := w.rec.Release(ctx, tx, w.cfg.ID, released, map[string]any{"worker": w.cfg.ID}, now, &b); err != nil {
			return err
		}
		var claim *taskerdriver.StepClaimParams
		if claiming {
			claim = &taskerdriver.StepClaimParams{
				Now: now, Limit: held, Owner: w.cfg.ID, LeaseExpiresAt: now.Add(w.cfg.LeaseDuration), Handlers: w.claimHandlers(),
			}
		}
		var err error
		if recorded, claims, err = w.rec.RecordAndClaim(ctx, tx, now, attempts, claim, &b); err != nil {
			return err
		}
		return w.rec.WriteOutbox(ctx, tx, &b)
	})
	if err != nil {
		if len(attempts) > 0 && errors.Is(err, taskerdriver.ErrValueRejected) {
			// One result the database refuses must not stall the worker:
			// record them one by one, failing the ones it refuses.
			w.cfg.Logger.WarnContext(ctx, "orchestrator: the database refused a pass's results; recording them one by one", "error", err)
			w.isolate(ctx, attempts)
			return passResult{}, nil
		}
		// Put the results back so that nothing is lost; the next pass retries.
		w.mu.Lock()
		w.done = append(done, w.done...)
		w.mu.Unlock()
		return passResult{}, err
	}
	res := passResult{claimed: len(claims), saturated: claiming && len(claims) == held}
	// Steps claimed by a pass that raced with Stop are given back unrun.
	w.mu.Lock()
	w.passReserved -= held
	if len(claims) < held {
		w.wakeStarved()
	}
	held = 0
	if gaveBack, err := w.launch(ctx, claims, b.Events, now); gaveBack {
		return passResult{}, err
	}
	if claiming {
		res.claimedAt = now
	}
	res.retryAt = recorder.RetryAt(recorded)
	if notified && len(claims) == 0 && claiming {
		// The notification found nothing to claim (a failed attempt's
		// retry, announced at once, is ready later): learn when the next
		// step is ready, as a pass without it would have.
		wake, _, err := w.nextWake(ctx, now)
		if len(done) == 0 {
			return wake, err
		}
		res.nextWake, res.wakeRead = wake.nextWake, wake.wakeRead
		return res, err
	}
	return res, nil
}

// ClaimFor lets the caller's transaction tx claim, for this worker, the
// ready steps of the tasks it creates: the process that creates a task
// runs its first steps without a pass, a commit and a wake-up of their own
// (create-and-claim). It reserves the worker's free slots and calls create
// with the claim to make (nil: none, when the worker does not run in the
// background (Start), is stopping or has no free slot); create returns
// what it claimed. The returned function must be called once tx has
// ended: committed, it starts the claimed handlers and publishes the
// claim's events; otherwise it only frees the slots held.
func (w *Worker) ClaimFor(ctx context.Context, tx taskerdriver.ExecutorTx, create func(claim *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error)) (after func(committed bool), err error) {
	w.mu.Lock()
	free := w.cfg.Concurrency - len(w.inflight) - w.reserved
	if w.loopDone == nil || w.stopping || free <= 0 {
		w.mu.Unlock()
		if _, err := create(nil); err != nil {
			return nil, err
		}
		return func(bool) {}, nil
	}
	w.reserved += free
	w.mu.Unlock()
	now := w.cfg.Now()
	var b recorder.Batch
	claims, err := create(&taskerdriver.StepClaimParams{Now: now, Limit: free, Owner: w.cfg.ID,
		LeaseExpiresAt: now.Add(w.cfg.LeaseDuration), Handlers: w.claimHandlers()})
	if err == nil {
		recorder.Claimed(claims, now, &b)
		err = w.rec.WriteOutbox(ctx, tx, &b)
	}
	if err != nil {
		w.mu.Lock()
		w.reserved -= free
		w.mu.Unlock()
		return nil, err
	}
	return func(committed bool) {
		w.mu.Lock()
		w.reserved -= free
		if !committed || len(claims) < free {
			w.wakeStarved()
		}
		if !committed || len(claims) == 0 {
			w.mu.Unlock()
			return
		}
		if _, err := w.launch(context.WithoutCancel(ctx), claims, b.Events, w.cfg.Now()); err != nil {
			w.cfg.Logger.WarnContext(ctx, "orchestrator: cannot give back steps claimed while stopping; they will be rescued when their leases expire", "error", err)
		}
	}, nil
}

// launch starts the handlers of claimed steps, or, when Stop has begun,
// gives the steps back unrun (gaveBack), then publishes the events of the
// transaction that claimed them (what it recorded did happen). Register
// the claims as running under the lock that Stop takes to set stopping:
// once Stop waits for the handlers, no new one can start. The caller
// holds w.mu; launch releases it.
func (w *Worker) launch(ctx context.Context, claims []*taskerdriver.ClaimedStep, events []*taskertype.Event, now time.Time) (gaveBack bool, err error) {
	if w.stopping && len(claims) > 0 {
		w.mu.Unlock()
		w.cfg.Publish(events)
		return true, w.giveBack(ctx, claims, now)
	}
	w.handlers.Add(len(claims))
	for _, c := range claims {
		w.dispatch(c)
	}
	w.mu.Unlock()
	w.cfg.Publish(events)
	return false, nil
}

// nextWake reads when the next step is ready; idle: none is ready at now.
func (w *Worker) nextWake(ctx context.Context, now time.Time) (res passResult, idle bool, err error) {
	next, err := w.exec.StepNextWake(ctx, &taskerdriver.StepNextWakeParams{Now: now, Handlers: w.claimHandlers()})
	if err != nil {
		return passResult{}, false, err
	}
	if next.IsZero() || next.After(now) {
		return passResult{nextWake: next, wakeRead: true}, true, nil
	}
	return passResult{}, false, nil
}

// claimHandlers is what the worker claims: Config.Handlers' list, nil for all.
func (w *Worker) claimHandlers() []string {
	if w.cfg.Handlers == nil {
		return nil
	}
	return w.cfg.Handlers()
}

// sort splits finished attempts into those to record and the steps to give
// back (cancelled by the shutdown); results of abandoned steps are dropped.
func (w *Worker) sort(done []finished) (attempts []recorder.Attempt, released []int64) {
	for _, d := range done {
		step := d.f.claim.Step
		switch {
		case d.f.abandoned:
		case d.f.release && (d.res.Kind == "cancelled" || errors.Is(d.res.Err, context.Canceled)):
			// Cancelled by the shutdown: give the attempt back. (A handler
			// that failed on its own while the worker was stopping is a
			// real failure, recorded.)
			released = append(released, step.ID)
		default:
			attempts = append(attempts, recorder.Attempt{Step: step, Task: d.f.claim.Task, Owner: w.cfg.ID,
				Started: d.f.started, Ended: d.endsAt, Result: d.res, Children: d.f.claim.Children})
		}
	}
	return attempts, released
}

// giveBack returns claimed steps that were never started to pending, the
// attempt not counted, and publishes their step.initialize_requested.
func (w *Worker) giveBack(ctx context.Context, claims []*taskerdriver.ClaimedStep, now time.Time) error {
	ids := make([]int64, len(claims))
	for i, c := range claims {
		ids[i] = c.Step.ID
	}
	var b recorder.Batch
	err := w.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		if _, err := w.rec.Release(ctx, tx, w.cfg.ID, ids, map[string]any{"worker": w.cfg.ID, "started": false}, now, &b); err != nil {
			return err
		}
		return w.rec.WriteOutbox(ctx, tx, &b)
	})
	if err == nil {
		w.cfg.Publish(b.Events)
	}
	return err
}

// isolate records finished attempts one per transaction (with their
// finalization and events). An attempt whose result the database refuses
// is recorded as a permanent failure that says so; one that cannot be
// recorded at all is dropped (its lease expires and the rescue fails it).
func (w *Worker) isolate(ctx context.Context, attempts []recorder.Attempt) {
	for _, a := range attempts {
		err := w.recordAlone(ctx, a)
		if err != nil && errors.Is(err, taskerdriver.ErrValueRejected) {
			a.Result = Result{Err: fmt.Errorf("the database refused the step's result or error, so it was not stored (%s): make the handler return values the database can store", err.Error()),
				Permanent: true, Kind: "permanent"}
			err = w.recordAlone(ctx, a)
		}
		if err != nil {
			w.cfg.Logger.ErrorContext(ctx, "orchestrator: cannot record a step's attempt; it will be rescued when its lease expires",
				"task_id", a.Step.TaskID, "step", a.Step.Name, "step_id", a.Step.ID, "attempt", a.Step.Attempts, "error", err)
		}
	}
}

// recordAlone records one finished attempt in its own transaction.
func (w *Worker) recordAlone(ctx context.Context, a recorder.Attempt) error {
	now := w.cfg.Now()
	var b recorder.Batch
	err := w.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		if _, err := w.rec.Record(ctx, tx, now, []recorder.Attempt{a}, &b); err != nil {
			return err
		}
		return w.rec.WriteOutbox(ctx, tx, &b)
	})
	if err != nil {
		return err
	}
	w.cfg.Publish(b.Events)
	return nil
}

func (w *Worker) inTx(ctx context.Context, fn func(tx taskerdriver.ExecutorTx) error) error {
	return recorder.InTx(ctx, w.exec, fn)
}

// dispatch starts the handler of a claimed step. The caller holds w.mu and
// has added the step to w.handlers.
func (w *Worker) dispatch(c *taskerdriver.ClaimedStep) {
	timeout := cmp.Or(retrypolicy.DecodeStepPolicy(c.Step.Policy).Timeout, w.cfg.StepTimeout)
	// Every record logged with the step's context (by the engine, the
	// middleware or the handler, through a taskerlog handler) names it.
	ctx, cancel := context.WithCancel(taskerlog.WithAttrs(w.runCtx, slog.Int64(taskerlog.KeyTaskID, c.Task.ID),
		slog.String(taskerlog.KeyStep, c.Step.Name), slog.Int(taskerlog.KeyAttempt, c.Step.Attempts)))
	f := &flight{claim: c, cancel: cancel, started: w.cfg.Now(), dispatched: time.Now()}
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
		w.signal() // under w.mu: see runOnce
		w.mu.Unlock()
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

// heartbeat extends the leases of running steps when due and abandons those
// the worker no longer owns.
func (w *Worker) heartbeat(ctx context.Context) {
	if !w.beatMu.TryLock() {
		return // another pass loop beats now
	}
	defer w.beatMu.Unlock()
	now := w.cfg.Now()
	w.seen(ctx, now)
	if now.Before(w.nextBeat) {
		return
	}
	w.nextBeat = now.Add(w.cfg.LeaseDuration / 3)
	w.mu.Lock()
	ids := make([]int64, 0, len(w.inflight))
	asked := make(map[int64]*flight, len(w.inflight))
	for id, f := range w.inflight {
		ids = append(ids, id)
		asked[id] = f
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
		// Only the attempt it asked about: another pass loop may have
		// recorded it and claimed the step again meanwhile.
		if f := w.inflight[id]; f != nil && f == asked[id] && !keep[id] {
			f.abandoned = true
			f.cancel()
		}
	}
}
