package tasker

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// TracerName is the instrumentation scope of the spans the engine makes.
const TracerName = "github.com/tasker-go/tasker"

// Span names (see docs/observability.md, "Traces").
const (
	SpanTaskCreate = "tasker.task.create"
	SpanTask       = "tasker.task"
	SpanStep       = "tasker.step"
)

// Attribute keys of the engine's spans.
const (
	AttrTaskID        = attribute.Key("tasker.task.id")
	AttrNamespace     = attribute.Key("tasker.task.namespace")
	AttrName          = attribute.Key("tasker.task.name")
	AttrVersion       = attribute.Key("tasker.task.version")
	AttrTaskState     = attribute.Key("tasker.task.state")
	AttrDuplicate     = attribute.Key("tasker.task.duplicate")
	AttrStepID        = attribute.Key("tasker.step.id")
	AttrStepName      = attribute.Key("tasker.step.name")
	AttrAttempt       = attribute.Key("tasker.step.attempt")
	AttrHandler       = attribute.Key("tasker.step.handler")
	AttrWorkerID      = attribute.Key("tasker.worker.id")
	AttrOutcome       = attribute.Key("tasker.step.outcome")
	AttrErrorKind     = attribute.Key("tasker.error.kind")
	AttrNextAttemptAt = attribute.Key("tasker.step.next_attempt_at")
	AttrBackoffMS     = attribute.Key("tasker.step.backoff_ms")
	AttrBackoffType   = attribute.Key("tasker.step.backoff_type")
)

// Outcomes of a tasker.step span (attribute tasker.step.outcome).
const (
	OutcomeCompleted = "completed"
	// OutcomeRetry: the attempt failed and the step will be retried.
	OutcomeRetry = "retry"
	// OutcomeFailed: the attempt failed and the step will not be retried.
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
	// OutcomeUnrecorded: the attempt's result was never recorded by this
	// process (the worker stopped, or its lease was lost to another worker).
	OutcomeUnrecorded = "unrecorded"
)

// traceProp is the propagator of the task's trace context: W3C trace
// context, whatever the global propagator is.
var traceProp propagation.TextMapPropagator = propagation.TraceContext{}

// stepSpanTTL is how long a step span whose handler returned waits for its
// attempt's outcome to commit before it is ended as unrecorded.
const stepSpanTTL = time.Minute

// tracing makes the engine's spans. With a nil tracer (no TracerProvider)
// it makes none, but the trace context of a caller is still stored with a
// task and handed to its steps' handlers.
type tracing struct {
	tracer   trace.Tracer
	workerID string

	mu      sync.Mutex
	open    map[int64]*openStep // by step id: attempts whose outcome has not committed yet
	inserts int
	// parents caches the span context of each task's stored trace context
	// (by task id), parsed once for all of its steps' spans; an entry goes
	// when the task's span ends here, all of them when maxParents is reached.
	parents map[int64]taskParent
}

// openStep is a tasker.step span waiting for its attempt's outcome.
type openStep struct {
	span     trace.Span
	attempt  int
	returned time.Time // when the handler returned; zero while it runs
	// attrs backs the span's start attributes (one allocation with the
	// openStep's).
	attrs [9]attribute.KeyValue
}

// taskParent is a task's stored trace context and its parsed span context.
type taskParent struct {
	traceparent, tracestate string
	sc                      trace.SpanContext
}

// maxParents bounds tracing.parents (tasks finished by other workers never
// leave it otherwise).
const maxParents = 4096

func newTracing(tp trace.TracerProvider, workerID string) *tracing {
	t := &tracing{workerID: workerID, open: map[int64]*openStep{}, parents: map[int64]taskParent{}}
	if tp != nil {
		t.tracer = tp.Tracer(TracerName)
	}
	return t
}

// startCreate starts the tasker.task.create span (none without a tracer).
func (t *tracing) startCreate(ctx context.Context, req *TaskRequest) (context.Context, trace.Span) {
	if t.tracer == nil || req == nil {
		return ctx, nil
	}
	return t.tracer.Start(ctx, SpanTaskCreate, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrNamespace.String(cmpOr(req.Namespace, "default")), AttrName.String(req.Name), AttrVersion.String(req.Version)))
}

// endCreate ends the tasker.task.create span with the create's outcome.
func endCreate(span trace.Span, res *CreateResult, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else if res != nil && res.Task != nil {
		span.SetAttributes(AttrTaskID.Int64(res.Task.ID), AttrVersion.String(res.Task.Version), AttrDuplicate.Bool(res.Duplicate))
	}
	span.End()
}

// TraceContext returns the W3C traceparent and tracestate of the span
// context in ctx (empty when it has none): what is stored with a task
// created under ctx.
func TraceContext(ctx context.Context) (traceparent, tracestate string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	carrier := propagation.MapCarrier{}
	traceProp.Inject(ctx, carrier)
	return carrier["traceparent"], carrier["tracestate"]
}

// WithTraceContext returns ctx with the span context of a W3C traceparent
// and tracestate as its remote parent; ctx unchanged when traceparent is
// empty or invalid.
func WithTraceContext(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	carrier := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		carrier["tracestate"] = tracestate
	}
	return traceProp.Extract(ctx, carrier)
}

// TaskTraceContext returns ctx joined to the trace of task: its stored trace
// context as the remote parent.
func TaskTraceContext(ctx context.Context, task *Task) context.Context {
	if task == nil {
		return ctx
	}
	return WithTraceContext(ctx, task.TraceParent, task.TraceState)
}

// startStep joins ctx to the task's trace and starts the attempt's
// tasker.step span (none without a tracer); the span stays open until the
// attempt's outcome commits (onEvent) or stepSpanTTL after the handler
// returned (stepReturned).
func (t *tracing) startStep(ctx context.Context, cs *taskerdriver.ClaimedStep) (context.Context, trace.Span) {
	ctx = t.taskContext(ctx, cs.Task, false)
	if t.tracer == nil {
		return ctx, nil
	}
	o := &openStep{attempt: cs.Step.Attempts, attrs: [...]attribute.KeyValue{
		AttrTaskID.Int64(cs.Task.ID), AttrNamespace.String(cs.Task.Namespace), AttrName.String(cs.Task.Name),
		AttrVersion.String(cs.Task.Version), AttrStepID.Int64(cs.Step.ID), AttrStepName.String(cs.Step.Name),
		AttrAttempt.Int(cs.Step.Attempts), AttrHandler.String(cs.Step.Handler), AttrWorkerID.String(t.workerID),
	}}
	ctx, o.span = t.tracer.Start(ctx, SpanStep, stepSpanKind, trace.WithAttributes(o.attrs[:]...))
	span := o.span
	t.mu.Lock()
	if prev := t.open[cs.Step.ID]; prev != nil { // an earlier attempt never recorded here
		endUnrecorded(prev.span)
	}
	t.open[cs.Step.ID] = o
	t.inserts++
	if t.inserts%64 == 0 {
		t.sweepLocked(time.Now())
	}
	t.mu.Unlock()
	return ctx, span
}

var stepSpanKind = trace.WithSpanKind(trace.SpanKindConsumer)

// taskContext returns ctx with the span context of task's stored trace
// context as its remote parent (as TaskTraceContext), parsing it once per
// task: later calls reuse the parse. done: the task is final, its entry goes.
func (t *tracing) taskContext(ctx context.Context, task *Task, done bool) context.Context {
	if task == nil || task.TraceParent == "" {
		if task != nil && done {
			t.mu.Lock()
			delete(t.parents, task.ID)
			t.mu.Unlock()
		}
		return ctx
	}
	t.mu.Lock()
	p, ok := t.parents[task.ID]
	if done {
		delete(t.parents, task.ID)
	}
	t.mu.Unlock()
	if !ok || p.traceparent != task.TraceParent || p.tracestate != task.TraceState {
		p = taskParent{traceparent: task.TraceParent, tracestate: task.TraceState,
			sc: trace.SpanContextFromContext(WithTraceContext(context.Background(), task.TraceParent, task.TraceState))}
		if !done {
			t.mu.Lock()
			if len(t.parents) >= maxParents {
				clear(t.parents)
			}
			t.parents[task.ID] = p
			t.mu.Unlock()
		}
	}
	if !p.sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, p.sc)
}

// stepReturned notes that the handler of step id returned res.
func (t *tracing) stepReturned(span trace.Span, id int64, kind string, failed bool) {
	if span == nil {
		return
	}
	if failed && kind != "" {
		span.SetAttributes(AttrErrorKind.String(kind))
	}
	t.mu.Lock()
	if o := t.open[id]; o != nil && o.span == span {
		o.returned = time.Now()
	}
	t.mu.Unlock()
}

// sweepLocked ends the spans of attempts whose handler returned more than
// stepSpanTTL before now and whose outcome never committed here.
func (t *tracing) sweepLocked(now time.Time) {
	for id, o := range t.open {
		if !o.returned.IsZero() && now.Sub(o.returned) > stepSpanTTL {
			endUnrecorded(o.span)
			delete(t.open, id)
		}
	}
}

// endAll ends every open step span as unrecorded (the worker stopped).
func (t *tracing) endAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, o := range t.open {
		endUnrecorded(o.span)
		delete(t.open, id)
	}
}

func endUnrecorded(span trace.Span) {
	span.SetAttributes(AttrOutcome.String(OutcomeUnrecorded))
	span.End()
}

// take removes and returns the open span of ev's step attempt.
func (t *tracing) take(ev *Event, keep bool) *openStep {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open[ev.Step.ID]
	if o == nil || (ev.Attempt != 0 && ev.Attempt != o.attempt) {
		return nil
	}
	if !keep {
		delete(t.open, ev.Step.ID)
	}
	return o
}

// onEvent ends the spans that committed events close: a step attempt's
// span when its outcome commits, with a span event for the retry it
// schedules, and the tasker.task span when the task reaches a final state.
func (t *tracing) onEvent(ev *Event) {
	if t.tracer == nil {
		return
	}
	if ev.Step != nil {
		t.onStepEvent(ev)
		return
	}
	if ev.Task == nil {
		return
	}
	if ch, ok := StateChangeOf(ev); ok && ch.Step == nil && ch.To.Final() {
		t.taskSpan(ev)
	}
}

func (t *tracing) onStepEvent(ev *Event) {
	switch ev.Name {
	case taskertype.EventStepCompleted:
		if o := t.take(ev, false); o != nil {
			o.span.SetAttributes(AttrOutcome.String(OutcomeCompleted))
			o.span.End(trace.WithTimestamp(ev.At))
		}
	case taskertype.EventStepFailed:
		retry := !ev.Step.Blocked && ev.Step.State == StateError
		o := t.take(ev, retry) // a retry's span ends with its step.backoff event
		if o == nil {
			return
		}
		outcome := OutcomeFailed
		if retry {
			outcome = OutcomeRetry
		}
		o.span.SetAttributes(AttrOutcome.String(outcome))
		if ev.Error != nil {
			o.span.SetAttributes(AttrErrorKind.String(ev.Error.Kind))
			o.span.SetStatus(codes.Error, ev.Error.Message)
			o.span.AddEvent("step.failed", trace.WithTimestamp(ev.At), trace.WithAttributes(
				AttrErrorKind.String(ev.Error.Kind), attribute.String("exception.message", ev.Error.Message)))
		}
		if !retry {
			o.span.End(trace.WithTimestamp(ev.At))
		}
	case taskertype.EventStepBackoff:
		o := t.take(ev, false)
		if o == nil {
			return
		}
		var p struct {
			NextAttemptAt string `json:"next_attempt_at"`
			BackoffMS     int64  `json:"backoff_ms"`
			BackoffType   string `json:"backoff_type"`
		}
		_ = json.Unmarshal(ev.Payload, &p)
		o.span.AddEvent("step.retry_scheduled", trace.WithTimestamp(ev.At), trace.WithAttributes(
			AttrNextAttemptAt.String(p.NextAttemptAt), AttrBackoffMS.Int64(p.BackoffMS), AttrBackoffType.String(p.BackoffType),
			attribute.String("tasker.step.next_attempt", strconv.Itoa(ev.Attempt+1))))
		o.span.End(trace.WithTimestamp(ev.At))
	case taskertype.EventStepCancelled, taskertype.EventStepResolvedManually:
		if o := t.take(&Event{Step: ev.Step}, false); o != nil {
			o.span.SetAttributes(AttrOutcome.String(OutcomeCancelled))
			o.span.AddEvent(ev.Name, trace.WithTimestamp(ev.At))
			o.span.End(trace.WithTimestamp(ev.At))
		}
	}
}

// taskSpan emits the tasker.task span of a task that reached a final state:
// it starts at the task's creation and ends now, a child of the task's
// stored trace context (the tasker.task.create span, or the caller's span).
func (t *tracing) taskSpan(ev *Event) {
	task := ev.Task
	ctx := t.taskContext(context.Background(), task, true)
	_, span := t.tracer.Start(ctx, SpanTask, trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(task.CreatedAt),
		trace.WithAttributes(AttrTaskID.Int64(task.ID), AttrNamespace.String(task.Namespace), AttrName.String(task.Name),
			AttrVersion.String(task.Version), AttrTaskState.String(string(task.State)), AttrWorkerID.String(t.workerID)))
	switch task.State {
	case StateError:
		span.SetStatus(codes.Error, "task failed: a step failed and will not be retried")
	case StateComplete:
		span.SetStatus(codes.Ok, "")
	}
	span.AddEvent(ev.Name, trace.WithTimestamp(ev.At))
	span.End(trace.WithTimestamp(ev.At))
}
