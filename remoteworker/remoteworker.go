package remoteworker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/taskerwire"
)

// Config configures a Worker. Zero values mean the documented defaults.
type Config struct {
	// ServerURL is the server's base URL, such as "http://127.0.0.1:8080"
	// (a trailing "/tasker" is accepted). Required.
	ServerURL string
	// Token is the credential sent as "Authorization: Bearer <token>": the
	// server's worker token (tasker serve --worker-token), an API token
	// (tasker token create) or a JWT with the permission tasker.worker:work.
	// Required; when empty, New reads $TASKER_TOKEN.
	Token string
	// Queues are the queues to serve. Required.
	Queues []string
	// WorkerID names this worker in leases; default host-pid-random.
	WorkerID string
	// Concurrency is the most steps run at once; default 4, at most 100.
	Concurrency int
	// Lease is how long a claimed step is held without a heartbeat; default
	// 30s. Heartbeats run every Lease/3.
	Lease time.Duration
	// PollWait is how long one claim waits for a step (long polling);
	// default 20s, at most 30s.
	PollWait time.Duration
	// ShutdownGrace is how long running steps may finish after Run's
	// context is cancelled before their contexts are cancelled; default 30s.
	// A step that then fails is given back to the server (released: pending
	// again, the attempt not counted), as an in-process worker does.
	ShutdownGrace time.Duration
	// HTTPClient defaults to a client without a global timeout (each request
	// gets its own).
	HTTPClient *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// TracerProvider, when set, receives a tasker.step span for every
	// attempt, a child of the task's trace context. With or without it, the
	// handler's context carries the task's trace context (the claim's
	// traceparent and tracestate) and every request about the step sends
	// it, so the task stays one trace. The global provider is never used.
	TracerProvider trace.TracerProvider
}

// Step is a claimed step: its input document (the protocol's
// taskerwire.Step, whose fields it has).
type Step struct {
	taskerwire.Step

	mu          sync.Mutex
	events      []taskerwire.Event
	annotations []taskerwire.Annotation
}

// Publish publishes a custom event declared for this step (under
// custom_events of its template step). It is sent with the attempt's
// result and delivered once the result is recorded; the server refuses the
// result when the event is not declared.
func (s *Step) Publish(name string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("custom event %q: payload is not JSON-encodable: %w", name, err)
	}
	lockedAppend(&s.mu, &s.events, taskerwire.Event{Name: name, Payload: raw})
	return nil
}

func (s *Step) published() []taskerwire.Event { return lockedCopy(&s.mu, &s.events) }

// Annotate records an annotation of the step's task: annotationType names
// its type (1 to 64 of A-Z a-z 0-9 . _ -) and annotation must encode as a
// JSON object. It is sent with the attempt's result, whatever its outcome,
// and stored when the result is recorded; the server refuses the result
// when an annotation is invalid (and the attempt then fails saying why).
func (s *Step) Annotate(annotationType string, annotation any) error {
	raw, err := json.Marshal(annotation)
	if err != nil {
		return fmt.Errorf("annotation %q: not JSON-encodable: %w", annotationType, err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("annotation %q: must be a JSON object, such as {\"invoice\": \"INV-1\"}", annotationType)
	}
	lockedAppend(&s.mu, &s.annotations, taskerwire.Annotation{Type: annotationType, Annotation: raw})
	return nil
}

func (s *Step) recorded() []taskerwire.Annotation { return lockedCopy(&s.mu, &s.annotations) }

// lockedAppend appends v to the list holding mu (a handler may publish
// and annotate from several goroutines).
func lockedAppend[T any](mu *sync.Mutex, list *[]T, v T) {
	mu.Lock()
	defer mu.Unlock()
	*list = append(*list, v)
}

// lockedCopy returns a copy of the list, read holding mu.
func lockedCopy[T any](mu *sync.Mutex, list *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	return append([]T(nil), *list...)
}

// DecodeContext decodes the task context into v.
func (s *Step) DecodeContext(v any) error {
	if err := json.Unmarshal(s.Context, v); err != nil {
		return fmt.Errorf("decode task context: %w", err)
	}
	return nil
}

// DecodeConfig decodes the step's handler_config into v. It is the
// configuration as stored: a ${VAR} reference arrives as written (the server
// never expands one for a remote worker); expand it with this process's
// environment if the step needs the value.
func (s *Step) DecodeConfig(v any) error {
	if err := json.Unmarshal(s.Config, v); err != nil {
		return fmt.Errorf("decode handler_config: %w", err)
	}
	return nil
}

// DependencyResult decodes the result of the parent step name into v.
func (s *Step) DependencyResult(name string, v any) error {
	raw, ok := s.Dependencies[name]
	if !ok {
		return fmt.Errorf("step %q is not a dependency of %q", name, s.StepName)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode result of %q: %w", name, err)
	}
	return nil
}

// Handler runs one attempt of a step and returns its JSON-encodable result.
type Handler func(ctx context.Context, s *Step) (any, error)

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the step is not retried.
func Permanent(err error) error { return &permanentError{err} }

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable after d.
func RetryAfter(err error, d time.Duration) error { return &retryAfterError{err, d} }

// ErrLeaseLost is returned by Report when the server refused a result
// because the worker no longer held the attempt.
var ErrLeaseLost = errors.New("lease lost")

// maxClaim is the server's largest claim (limit).
const maxClaim = 100

// Worker claims and runs steps. Create it with New.
type Worker struct {
	cfg     Config
	base    string
	handler Handler

	mu sync.Mutex
	// running holds the attempts being run, by step id. An entry is removed
	// only by its own attempt (compared by pointer): a newer attempt of the
	// same step, claimed while an old one still runs, keeps its entry.
	running map[int64]*attempt
}

// attempt is one step attempt being run.
type attempt struct {
	step   *Step
	cancel context.CancelFunc
	// lost is set when the lease was lost (heartbeat answer) or the attempt
	// was given up (timeout): its result is not reported.
	lost bool
	// released is set when the shutdown grace ran out: a failed attempt is
	// given back (not counted) instead of reported.
	released bool
}

// New checks cfg and returns a Worker.
func New(cfg Config, h Handler) (*Worker, error) {
	if h == nil {
		return nil, errors.New("remoteworker: nil handler")
	}
	base := strings.TrimRight(cfg.ServerURL, "/")
	base = strings.TrimSuffix(base, "/tasker")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("remoteworker: ServerURL %q must start with http:// or https://", cfg.ServerURL)
	}
	cfg.Token = cmp.Or(cfg.Token, os.Getenv("TASKER_TOKEN"))
	if cfg.Token == "" {
		return nil, errors.New("remoteworker: Token is required (or $TASKER_TOKEN): the server's --worker-token, or an API token or JWT with tasker.worker:work")
	}
	if len(cfg.Queues) == 0 {
		return nil, errors.New("remoteworker: Queues is required: name the queues to serve")
	}
	if cfg.WorkerID == "" {
		host, _ := os.Hostname()
		cfg.WorkerID = fmt.Sprintf("%s-%d-%08x", cmp.Or(host, "worker"), os.Getpid(), rand.Uint32())
	}
	cfg.Concurrency = min(cmp.Or(cfg.Concurrency, 4), maxClaim)
	cfg.Lease = cmp.Or(cfg.Lease, 30*time.Second)
	cfg.PollWait = min(cmp.Or(cfg.PollWait, 20*time.Second), 30*time.Second)
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, 30*time.Second)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{cfg: cfg, base: base, handler: h, running: map[int64]*attempt{}}, nil
}

// ID returns the worker id used in leases.
func (w *Worker) ID() string { return w.cfg.WorkerID }

// Run claims and runs steps until ctx is cancelled, then lets running steps
// finish for up to ShutdownGrace (cancelling and releasing them after it)
// and returns once their results are reported. Cancelling ctx aborts a
// claim waiting in its long poll at once; steps in a claim's answer that
// arrived as ctx was cancelled are released unstarted, not run. Errors talking to the server are logged
// and retried with backoff; Run returns nil after a shutdown. A claim the
// server refuses for the credential (401, or 403: the token lacks
// tasker.worker:work or the server takes no remote workers) will not succeed
// by retrying: Run stops as after a shutdown and returns an error matching
// ErrUnauthorized that says why.
func (w *Worker) Run(ctx context.Context) error {
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	var wg sync.WaitGroup
	slots := make(chan struct{}, w.cfg.Concurrency)
	beatDone := make(chan struct{})
	go func() { defer close(beatDone); w.heartbeats(runCtx) }()

	failures := 0
	var refused error
	for ctx.Err() == nil && refused == nil {
		free := 0
		select { // wait for at least one free slot, or the shutdown
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		free++
	fill:
		for free < w.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		steps, err := w.claim(ctx, free)
		if err == nil && ctx.Err() != nil {
			// Claimed as the worker was told to stop: give the steps back
			// unstarted (pending again, the attempt not counted).
			for range free {
				<-slots
			}
			for _, s := range steps {
				w.release(runCtx, s, "claimed as the worker stopped")
			}
			break
		}
		for range free - len(steps) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, ErrUnauthorized) {
				w.cfg.Logger.Error("remoteworker: the server refused the credential; stopping", "error", err)
				refused = err
				break
			}
			failures++
			delay := min(time.Duration(1<<min(failures, 6))*100*time.Millisecond, 10*time.Second)
			w.cfg.Logger.Warn("remoteworker: claim failed; retrying", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		failures = 0
		for _, s := range steps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				w.run(runCtx, s)
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.ShutdownGrace):
		w.mu.Lock()
		for _, a := range w.running {
			a.released = true
			a.cancel()
		}
		w.mu.Unlock()
		<-done
	}
	cancelRun()
	<-beatDone
	return refused
}

// run executes one step and reports its outcome. A handler that outlives the
// step's timeout is given up: the timeout is reported and its eventual
// result dropped.
func (w *Worker) run(ctx context.Context, s *Step) {
	ctx, span := w.startSpan(ctx, s)
	if span != nil {
		defer span.End()
	}
	timeout := time.Duration(s.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := &attempt{step: s, cancel: cancel}
	w.mu.Lock()
	w.running[s.StepID] = a
	w.mu.Unlock()
	type outcome struct {
		out any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		out, err := w.safeHandle(sctx, s)
		done <- outcome{out, err}
	}()
	var res outcome
	select {
	case res = <-done:
	case <-sctx.Done():
		select {
		case res = <-done: // the handler honoured its context
		case <-time.After(100 * time.Millisecond):
			res = outcome{err: sctx.Err()}
		}
	}
	w.mu.Lock()
	lost, released := a.lost, a.released
	if w.running[s.StepID] == a {
		delete(w.running, s.StepID)
	}
	w.mu.Unlock()
	if lost {
		w.cfg.Logger.Info("remoteworker: step lost its lease; result dropped", "step_id", s.StepID, "attempt", s.Attempt)
		return
	}
	if released && res.err != nil {
		// Stopped by the shutdown: give the attempt back, not counted.
		w.release(ctx, s, "stopped by the shutdown")
		return
	}
	body := &taskerwire.Result{WorkerID: w.cfg.WorkerID, Attempt: s.Attempt, Events: s.published(), Annotations: s.recorded()}
	err := res.err
	if err == nil {
		raw, merr := json.Marshal(res.out)
		if merr == nil {
			body.Results = raw
			refusal := w.reportRetrying(ctx, s, body)
			if refusal == "" {
				if span != nil {
					span.SetAttributes(attribute.String("tasker.step.outcome", "completed"))
				}
				return
			}
			// The server refused the result itself (too large, not
			// storable): fail the attempt permanently, saying why, rather
			// than letting it be rescued and refused again.
			err = Permanent(errors.New("the server refused the step's result: " + refusal))
			body.Events, body.Annotations = nil, nil // they may be what was refused
		} else {
			err = Permanent(fmt.Errorf("encode step result as JSON: %w", merr))
		}
		body.Results = nil
	}
	if errors.Is(err, context.DeadlineExceeded) && sctx.Err() != nil && ctx.Err() == nil {
		err = &kindError{err: fmt.Errorf("step timed out after %s: %w", timeout, err), kind: "timeout"}
	}
	body.Error = errorBody(err)
	if refusal := w.reportRetrying(ctx, s, body); refusal != "" && (len(body.Events) > 0 || len(body.Annotations) > 0) {
		// The server refused the failure with what the attempt recorded
		// (an undeclared event, an invalid annotation): report it without
		// them, permanently, saying why, rather than letting the step be
		// rescued and refused again.
		err = Permanent(fmt.Errorf("%w; the server refused the step's result: %s", err, refusal))
		body.Events, body.Annotations, body.Error = nil, nil, errorBody(err)
		w.reportRetrying(ctx, s, body)
	}
	if span != nil {
		span.SetAttributes(attribute.String("tasker.step.outcome", "failed"), attribute.String("tasker.error.kind", body.Error.Kind))
		span.SetStatus(codes.Error, body.Error.Message)
	}
}

// release gives a claimed attempt back without a result.
func (w *Worker) release(ctx context.Context, s *Step, why string) {
	err := w.post(ctx, taskerwire.ReleasePath(s.StepID),
		taskerwire.ReleaseRequest{WorkerID: w.cfg.WorkerID, Attempt: s.Attempt}, nil, w.requestTimeout())
	if err != nil {
		w.cfg.Logger.Warn("remoteworker: could not release a step on shutdown; it will be rescued when its lease expires",
			"step_id", s.StepID, "attempt", s.Attempt, "why", why, "error", err)
		return
	}
	w.cfg.Logger.Info("remoteworker: step released on shutdown", "step_id", s.StepID, "attempt", s.Attempt, "why", why)
}

type kindError struct {
	err  error
	kind string
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

type panicError struct {
	v     any
	stack string
}

func (e *panicError) Error() string { return fmt.Sprintf("handler panic: %v", e.v) }

func (w *Worker) safeHandle(ctx context.Context, s *Step) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v: v, stack: string(debug.Stack())}
		}
	}()
	return w.handler(ctx, s)
}

func errorBody(err error) *taskerwire.Error {
	root := err
	for u := errors.Unwrap(root); u != nil; u = errors.Unwrap(root) {
		root = u
	}
	body := &taskerwire.Error{Message: err.Error(), Class: fmt.Sprintf("%T", root)}
	var pe *permanentError
	var ra *retryAfterError
	var ke *kindError
	var pa *panicError
	switch {
	case errors.As(err, &pe):
		body.Kind = "permanent"
	case errors.As(err, &ra):
		body.RetryAfter = ra.delay
	case errors.As(err, &ke):
		body.Kind = ke.kind
	}
	if errors.As(err, &pa) {
		body.Class, body.Detail = "panic", pa.stack
	}
	return body
}

// reportRetrying sends a result, retrying transport and server errors until
// the lease would have expired. It returns the server's refusal when the
// server refused the report itself (a 4xx other than lease_lost), else "".
func (w *Worker) reportRetrying(ctx context.Context, s *Step, body *taskerwire.Result) string {
	deadline := time.Now().Add(w.cfg.Lease)
	for n := 1; ; n++ {
		err := w.post(ctx, taskerwire.ResultPath(s.StepID), body, nil, w.requestTimeout())
		var ce *clientError
		switch {
		case err == nil:
			return ""
		case errors.Is(err, ErrLeaseLost):
			w.cfg.Logger.Warn("remoteworker: result refused: the lease was lost", "step_id", s.StepID, "attempt", s.Attempt, "error", err)
			return ""
		case errors.As(err, &ce):
			w.cfg.Logger.Error("remoteworker: result refused", "step_id", s.StepID, "attempt", s.Attempt, "error", err)
			return ce.Error()
		case errors.Is(err, ErrUnauthorized):
			// Retrying with the same credential cannot succeed; the step
			// is rescued when its lease expires.
			w.cfg.Logger.Error("remoteworker: result refused: the server refused the credential", "step_id", s.StepID, "attempt", s.Attempt, "error", err)
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.cfg.Logger.Error("remoteworker: giving up reporting a result; the step will be rescued when its lease expires",
				"step_id", s.StepID, "attempt", s.Attempt, "error", err)
			return ""
		}
		delay := min(time.Duration(n)*200*time.Millisecond, 2*time.Second)
		w.cfg.Logger.Warn("remoteworker: report failed; retrying", "step_id", s.StepID, "error", err, "retry_in", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
	}
}

// requestTimeout bounds a heartbeat or result request: a third of the lease,
// so that a hung request cannot outlast it.
func (w *Worker) requestTimeout() time.Duration {
	return max(w.cfg.Lease/3, time.Second)
}

// heartbeats extends the leases of running steps every Lease/3 and cancels
// the steps the server says are lost.
func (w *Worker) heartbeats(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		ids := make([]int64, 0, len(w.running))
		for id, a := range w.running {
			if !a.lost {
				ids = append(ids, id)
			}
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		var out taskerwire.HeartbeatResponse
		err := w.post(ctx, taskerwire.PathHeartbeat, taskerwire.HeartbeatRequest{
			WorkerID: w.cfg.WorkerID, StepIDs: ids, Lease: w.cfg.Lease,
		}, &out, w.requestTimeout())
		if err != nil {
			w.cfg.Logger.Warn("remoteworker: heartbeat failed", "error", err)
			continue
		}
		w.mu.Lock()
		for _, id := range out.Lost {
			if a, ok := w.running[id]; ok {
				a.lost = true
				a.cancel()
			}
		}
		w.mu.Unlock()
	}
}

// claim sends one claim (a long poll). Cancelling ctx aborts it while no
// answer has begun to arrive; an answer that has is read to the end, so that
// the steps it holds can be released rather than left leased to a worker
// that stopped.
func (w *Worker) claim(ctx context.Context, limit int) ([]*Step, error) {
	var out struct {
		Steps []*Step `json:"steps"` // a taskerwire.ClaimResponse, with this package's Step
	}
	var answering atomic.Bool
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if !answering.Load() {
			cancel()
		}
	})
	defer stop()
	cctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{GotFirstResponseByte: func() { answering.Store(true) }})
	err := w.post(cctx, taskerwire.PathClaim, taskerwire.ClaimRequest{
		WorkerID: w.cfg.WorkerID, Queues: w.cfg.Queues, Limit: limit, Lease: w.cfg.Lease, Wait: w.cfg.PollWait,
	}, &out, w.cfg.PollWait+30*time.Second)
	return out.Steps, err
}

// ErrUnauthorized matches the error of a request the server refused for its
// credential: 401 (no valid credential: check Config.Token) or 403 (the
// credential lacks tasker.worker:work, or the server takes no remote
// workers). Run stops on it.
var ErrUnauthorized = errors.New("remoteworker: the server refused the credential")

// clientError is a 4xx answer other than lease_lost: retrying will not help.
type clientError struct {
	status int
	msg    string
}

func (e *clientError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.msg) }

// post sends body as JSON and decodes a 2xx answer into out (when not nil).
func (w *Worker) post(ctx context.Context, path string, body, out any, timeout time.Duration) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, w.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.cfg.Token)
	traceProp.Inject(rctx, propagation.HeaderCarrier(req.Header))
	res, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
	var e taskerwire.ErrorResponse
	_ = json.Unmarshal(data, &e)
	msg := cmp.Or(e.Error.Message, strings.TrimSpace(string(data)))
	switch {
	case e.Error.Code == taskerwire.CodeLeaseLost:
		return fmt.Errorf("%w: %s", ErrLeaseLost, msg)
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (HTTP %d): %s", ErrUnauthorized, res.StatusCode, msg)
	case res.StatusCode/100 == 4:
		return &clientError{status: res.StatusCode, msg: msg}
	}
	return fmt.Errorf("HTTP %d: %s", res.StatusCode, msg)
}

// traceProp carries the task's trace context: W3C trace context.
var traceProp propagation.TextMapPropagator = propagation.TraceContext{}

// startSpan joins ctx to the step's task trace (the claim's traceparent and
// tracestate) and, with a TracerProvider, starts the attempt's span.
func (w *Worker) startSpan(ctx context.Context, s *Step) (context.Context, trace.Span) {
	if s.TraceParent != "" {
		carrier := propagation.MapCarrier{"traceparent": s.TraceParent}
		if s.TraceState != "" {
			carrier["tracestate"] = s.TraceState
		}
		ctx = traceProp.Extract(ctx, carrier)
	}
	if w.cfg.TracerProvider == nil {
		return ctx, nil
	}
	return w.cfg.TracerProvider.Tracer("github.com/tasker-go/tasker/remoteworker").Start(ctx, "tasker.step",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.Int64("tasker.task.id", s.TaskID), attribute.String("tasker.task.namespace", s.Namespace),
			attribute.String("tasker.task.name", s.TaskName), attribute.String("tasker.task.version", s.Version),
			attribute.Int64("tasker.step.id", s.StepID), attribute.String("tasker.step.name", s.StepName),
			attribute.Int("tasker.step.attempt", s.Attempt), attribute.String("tasker.step.handler", "remote"),
			attribute.String("tasker.step.queue", s.Queue), attribute.String("tasker.worker.id", w.cfg.WorkerID)))
}
