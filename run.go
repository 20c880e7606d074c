package tasker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/taskerdriver"
)

// Start starts an in-process worker that claims and runs steps until Stop,
// and the maintenance services (lease rescue, retention, schedules) that
// run on the elected leader among the processes on the database. It first
// stores the schedules of registered templates (SyncTemplateSchedules).
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClientClosed
	}
	if c.worker != nil {
		return errors.New("tasker: client already started")
	}
	if err := c.registerOnStart(ctx); err != nil {
		return err
	}
	if err := c.SyncTemplateSchedules(ctx); err != nil {
		return err
	}
	c.worker, c.maint = c.newWorker()
	c.stopSubs = c.startSubscriptions(c.worker.ID())
	if err := c.maint.Start(ctx); err != nil {
		return err
	}
	return c.worker.Start(ctx)
}

// Stop stops the worker: no new steps are claimed, running handlers may
// finish until ctx is done, then they are cancelled and their steps released
// for another worker. The maintenance leadership, if this client held it, is
// resigned so that another process takes it over at once.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	w, m := c.worker, c.maint
	c.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Stop(ctx)
	m.Stop()
	c.trace.endAll() // attempts given back or left to the lease rescue
	c.mu.Lock()
	c.worker, c.maint = nil, nil
	stopSubs := c.stopSubs
	c.stopSubs = nil
	c.mu.Unlock()
	if stopSubs != nil {
		stopSubs()
	}
	return err
}

// ErrClientClosed is returned by Start and RunUntilIdle after Close.
var ErrClientClosed = errors.New("tasker: client closed")

// Close stops the worker if it runs (as Stop, with ctx bounding the wait for
// running handlers), ends every event subscription (the channels of
// Subscribe and SubscribeChanges are closed, SubscribeFunc's functions stop
// being called) and marks the client closed: Start and RunUntilIdle then
// return ErrClientClosed. It does not close the driver or its database
// handle: the caller opened them and closes them after Close. Reads and
// writes that need no worker (CreateTask, Task, ...) still work until then.
// Close is safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	err := c.Stop(ctx)
	c.bus.closeAll()
	return err
}

// RunUntilIdle runs steps in the calling goroutine until no step is ready at
// the client's current clock and none is running, then returns. It is the
// synchronous alternative to Start for tests and scripts (with a frozen clock
// it is exactly one pass of the original engine). It first runs one round of
// the maintenance services (lease rescue, retention) if this client is (or
// becomes) the maintenance leader. Do not call it while the client is
// started.
func (c *Client) RunUntilIdle(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClientClosed
	}
	if c.worker != nil {
		c.mu.Unlock()
		return errors.New("tasker: RunUntilIdle while the client is started")
	}
	w, m := c.newWorker()
	c.worker = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.worker = nil
		c.mu.Unlock()
	}()
	defer c.trace.endAll()
	if err := c.SyncTemplateSchedules(ctx); err != nil {
		return err
	}
	if err := m.RunDue(ctx); err != nil {
		return err
	}
	return w.Drain(ctx)
}

// newWorker returns the client's worker and maintainer.
func (c *Client) newWorker() (*orchestrator.Worker, *maintenance.Maintainer) {
	wc := c.cfg.Worker
	w := orchestrator.New(orchestrator.Config{
		Driver: c.driver, Run: c.run, Recorder: c.rec, Now: c.cfg.Now, Logger: c.logger, ID: c.workerID,
		Concurrency: wc.Concurrency, LeaseDuration: wc.LeaseDuration, PollInterval: wc.PollInterval,
		StepTimeout: wc.StepTimeout, Handlers: c.runnableHandlers, AsyncCommit: wc.AsyncCommit, Publish: c.publish, Describe: c.describeWorker,
		Passes: wc.Passes,
	})
	m := maintenance.New(maintenance.Config{
		Driver: c.driver, ID: c.workerID, Now: c.cfg.Now, Logger: c.logger, Interval: wc.RescueInterval, Publish: c.publish,
		Services: []maintenance.Service{
			&maintenance.Rescuer{Driver: c.driver, Recorder: c.rec, Logger: c.logger},
			&maintenance.Cleaner{Driver: c.driver, Retention: wc.Retention, Logger: c.logger},
			&maintenance.WorkerPruner{Driver: c.driver, Retention: WorkerRetention, Logger: c.logger},
			&maintenance.StatisticsKeeper{Driver: c.driver, Logger: c.logger},
			c.scheduler(),
		},
	})
	return w, m
}

// runnableHandlers is what the in-process worker claims: the handlers of
// Worker.Handlers, or else every handler registered now. Steps of other
// handlers stay pending for a worker that has them (the task view marks
// them waiting_for_handler) instead of failing here.
func (c *Client) runnableHandlers() []string {
	if hs := c.cfg.Worker.Handlers; len(hs) > 0 {
		return hs
	}
	return c.registry.handlerSnapshot()
}

// run executes one claimed step with its registered handler.
func (c *Client) run(ctx context.Context, cs *taskerdriver.ClaimedStep) orchestrator.Result {
	ctx, span := c.trace.startStep(ctx, cs)
	res := c.runStep(ctx, cs)
	c.trace.stepReturned(span, cs.Step.ID, res.Kind, res.Err != nil)
	return res
}

// runStep is run under the attempt's span.
func (c *Client) runStep(ctx context.Context, cs *taskerdriver.ClaimedStep) orchestrator.Result {
	h, ok := c.registry.Handler(cs.Step.Handler)
	if !ok {
		return orchestrator.Result{
			Err:       fmt.Errorf("no handler %q is registered in worker %s: register it, or run the step on a worker that has it", cs.Step.Handler, c.workerID),
			Permanent: false, Kind: "handler_not_found",
		}
	}
	sc := &StepContext{
		Task: cs.Task, Step: cs.Step, Attempt: cs.Step.Attempts, deps: cs.Dependencies, registry: c.registry, now: c.cfg.Now,
		Logger:   stepLogger(c.logger, cs),
		annotate: c.annotator(ctx, cs.Task.ID),
	}
	var redact func(string) string
	if len(cs.Step.HandlerConfig) > 0 {
		var err error
		if usesExactConfig(h) {
			sc.Config, err = decodeExact(cs.Step.HandlerConfig)
		} else {
			err = json.Unmarshal(cs.Step.HandlerConfig, &sc.Config)
		}
		if err != nil {
			return orchestrator.Result{Err: fmt.Errorf("decode handler_config: %w", err), Permanent: true}
		}
		lookup := c.cfg.Worker.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		if sc.Config, redact, err = expandConfig(sc.Config, lookup, c.workerID); err != nil {
			return orchestrator.Result{Err: err, Permanent: true}
		}
	}
	out, err := chainStep(ctx, c.cfg.StepMiddleware, sc, func(ctx context.Context) (any, error) { return h.Handle(ctx, sc) })
	sc.mu.Lock()
	published := sc.published
	sc.mu.Unlock()
	return redactFailure(resultOf(ctx, out, err, published), redact)
}

// resultOf turns what a handler (under the middleware chain) returned into
// the result the recorder writes: an error's kind, class, details, detail
// text and requested delay from the interfaces it implements, or the
// result encoded as JSON.
func resultOf(ctx context.Context, out any, err error, published []*Event) orchestrator.Result {
	if err != nil {
		res := orchestrator.Result{Err: err, Permanent: IsPermanent(err), Events: published}
		if de, ok := errors.AsType[DetailedError](err); ok {
			if d := de.Details(); json.Valid(d) {
				res.Details = d
			}
		}
		if te, ok := errors.AsType[DetailTextError](err); ok {
			res.Stack = te.DetailText()
		}
		if ce, ok := errors.AsType[ClassifiedError](err); ok {
			res.Class = ce.ErrorClass()
		}
		if d, ok := RetryAfterDelay(err); ok {
			res.RetryAfter = d
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			res.Kind = "timeout"
		}
		return res
	}
	raw, err := encodeResult(out)
	if err != nil {
		return orchestrator.Result{Err: err, Permanent: true, Events: published}
	}
	return orchestrator.Result{Results: raw, Events: published}
}
