package taskerotel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracerProvider is the TracerProvider of NewTraces. Its spans behave as
// the OpenTelemetry SDK's (sdktrace.TracerProvider) do — the sampler's
// decision and trace state, the span limits of sdktrace.NewSpanLimits
// (OTEL_SPAN_*, OTEL_EVENT_*, OTEL_LINK_* variables), attributes
// de-duplicated with the last value winning, truncated and depth-limited,
// status precedence, exception events, panics recorded by a deferred End,
// child span counts — at a fraction of the SDK's cost per span: one
// allocation holds a span and its first attributes, and an ended span goes
// to the batch processor as it is, where the SDK copies its attributes
// three times, de-duplicates them through a map and snapshots the span.
// The engine makes one or two spans per step, so this cost is the tracing
// cost of a step (docs/benchmarks.md). TestProviderMatchesTheSDK checks the
// spans against the SDK's, operation by operation.
type tracerProvider struct {
	embedded.TracerProvider
	sampler  sdktrace.Sampler
	resource *resource.Resource
	limits   sdktrace.SpanLimits
	procs    []*batcher

	mu      sync.Mutex
	tracers map[instrumentation.Scope]*tracer
	stopped atomic.Bool
}

// sdkTracerName is the scope name the SDK gives a tracer asked for without
// one.
const sdkTracerName = "go.opentelemetry.io/otel/sdk/tracer"

func newTracerProvider(sampler sdktrace.Sampler, res *resource.Resource, procs []*batcher) *tracerProvider {
	return &tracerProvider{sampler: sampler, resource: res, limits: sdktrace.NewSpanLimits(), procs: procs,
		tracers: map[instrumentation.Scope]*tracer{}}
}

// Tracer returns the tracer of an instrumentation scope (a no-op one once
// the provider is shut down).
func (p *tracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	if p.stopped.Load() {
		return noop.NewTracerProvider().Tracer(name, opts...)
	}
	c := trace.NewTracerConfig(opts...)
	if name == "" {
		name = sdkTracerName
	}
	set := c.InstrumentationAttributes()
	if set.Len() > 0 {
		kvs := normKeyValues(set.ToSlice(), p.limits.AttributeValueDepthLimit)
		set = attribute.NewSet(kvs...)
	}
	is := instrumentation.Scope{Name: name, Version: c.InstrumentationVersion(), SchemaURL: c.SchemaURL(), Attributes: set}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped.Load() {
		return noop.NewTracerProvider().Tracer(name, opts...)
	}
	t := p.tracers[is]
	if t == nil {
		t = &tracer{p: p, scope: is}
		p.tracers[is] = t
	}
	return t
}

// ForceFlush exports every span ended before it, through every exporter
// (their errors joined); it stops when ctx is done.
func (p *tracerProvider) ForceFlush(ctx context.Context) error {
	return p.eachProcessor(ctx, (*batcher).ForceFlush)
}

// Shutdown stops making spans, exports those ended and stops the
// exporters (their errors joined); it stops when ctx is done. Calls after
// the first do nothing.
func (p *tracerProvider) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped.Swap(true) {
		return nil
	}
	return p.eachProcessor(ctx, (*batcher).Shutdown)
}

// eachProcessor calls fn for every processor, as long as ctx is not done,
// and joins their errors (as the SDK's provider does).
func (p *tracerProvider) eachProcessor(ctx context.Context, fn func(*batcher, context.Context) error) error {
	var err error
	for _, b := range p.procs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = errors.Join(err, fn(b, ctx))
	}
	return err
}

type tracer struct {
	embedded.Tracer
	p     *tracerProvider
	scope instrumentation.Scope
}

// Start starts a span: a child of the span context in ctx (unless
// trace.WithNewRoot), recording when the sampler says so.
func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	if ctx == nil {
		ctx = context.Background()
	}
	if p, ok := trace.SpanFromContext(ctx).(*span); ok {
		p.addChild()
	}
	var psc trace.SpanContext
	if cfg.NewRoot() {
		ctx = trace.ContextWithSpanContext(ctx, psc)
	} else {
		psc = trace.SpanContextFromContext(ctx)
	}
	tid, sid := newIDs(psc.TraceID())
	res := t.p.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: ctx, TraceID: tid, Name: name, Kind: cfg.SpanKind(), Attributes: cfg.Attributes(), Links: cfg.Links(),
	})
	scc := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceState: res.Tracestate, TraceFlags: psc.TraceFlags() &^ trace.FlagsSampled}
	if res.Decision == sdktrace.RecordAndSample {
		scc.TraceFlags |= trace.FlagsSampled
	}
	sc := trace.NewSpanContext(scc)
	if res.Decision != sdktrace.RecordOnly && res.Decision != sdktrace.RecordAndSample {
		s := nonRecordingSpan{sc: sc, tp: t.p}
		return trace.ContextWithSpan(ctx, s), s
	}
	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s := &span{tracer: t, name: name, sc: sc, parent: psc, kind: trace.ValidateSpanKind(cfg.SpanKind()), start: start}
	s.attrs = s.attrBuf[:0]
	for _, l := range cfg.Links() {
		s.addLink(l)
	}
	s.setAttributes(res.Attributes)
	s.setAttributes(cfg.Attributes())
	return trace.ContextWithSpan(ctx, s), s
}

// newIDs returns a new span id, and the trace id: parent when valid, else
// a new one.
func newIDs(parent trace.TraceID) (trace.TraceID, trace.SpanID) {
	tid := parent
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return tid, sid
}

// spanAttrs is how many attributes a span holds without a second
// allocation: the engine's step span has ten (nine at its start and the
// outcome; a failure adds the error kind), and the span fits the 1 KiB
// allocation class.
const spanAttrs = 10

// span is a recording span. Its fields are written under mu until End;
// after End nothing writes them, and the exporter reads them.
type span struct {
	embedded.Span
	tracer *tracer

	mu         sync.Mutex
	name       string
	sc, parent trace.SpanContext
	kind       trace.SpanKind
	start, end time.Time
	ended      bool
	attrs      []attribute.KeyValue
	attrBuf    [spanAttrs]attribute.KeyValue
	// dupAttrs: attrs may hold a key twice (de-duplicated when read).
	dupAttrs                                  bool
	droppedAttrs, droppedEvents, droppedLinks int
	events                                    []sdktrace.Event
	links                                     []sdktrace.Link
	status                                    sdktrace.Status
	children                                  int
}

func (s *span) limits() *sdktrace.SpanLimits { return &s.tracer.p.limits }

// SpanContext returns the span's context.
func (s *span) SpanContext() trace.SpanContext { return s.sc }

// IsRecording reports whether the span has not ended.
func (s *span) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

// SetStatus sets the status: Ok is final, Unset never overrides, an
// Error's description is kept (others have none).
func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.status.Code > code {
		return
	}
	st := sdktrace.Status{Code: code}
	if code == codes.Error {
		st.Description = description
	}
	s.status = st
}

// SetName renames the span.
func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.name = name
	}
}

// SetAttributes sets attributes; a key set again keeps its last value.
func (s *span) SetAttributes(kvs ...attribute.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.setAttributes(kvs)
	}
}

// setAttributes adds kvs within the attribute count limit (the caller
// holds mu or owns the span): under the limit they are appended and
// de-duplicated when read; past it the span's attributes are
// de-duplicated first, then a key already set is updated and a new one is
// dropped and counted.
func (s *span) setAttributes(kvs []attribute.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	lim := s.limits()
	limit := lim.AttributeCountLimit
	if limit == 0 {
		s.droppedAttrs += len(kvs)
		return
	}
	over := limit > 0 && len(s.attrs)+len(kvs) > limit
	var at map[attribute.Key]int // past the limit on a large span: where each key stands
	if over {
		s.dedupAttrs()
		if len(s.attrs)+len(kvs) > smallAttrs {
			at = make(map[attribute.Key]int, len(s.attrs)+len(kvs))
			for i, kv := range s.attrs {
				at[kv.Key] = i
			}
		}
	}
	for _, kv := range kvs {
		if !kv.Valid() {
			s.droppedAttrs++
			continue
		}
		kv = normAttr(kv, lim.AttributeValueDepthLimit, lim.AttributeValueLengthLimit)
		if over {
			i, ok := at[kv.Key]
			if at == nil {
				i = indexOfKey(s.attrs, kv.Key)
				ok = i >= 0
			}
			if ok {
				s.attrs[i] = kv
				continue
			}
			if len(s.attrs) >= limit {
				s.droppedAttrs++
				continue
			}
			if at != nil {
				at[kv.Key] = len(s.attrs)
			}
		} else {
			s.dupAttrs = true
		}
		s.attrs = append(s.attrs, kv)
	}
}

// dedupAttrs leaves one attribute per key, where the key first stood,
// with its last value.
func (s *span) dedupAttrs() {
	if s.dupAttrs {
		s.attrs = dedupKeyValues(s.attrs)
		s.dupAttrs = false
	}
}

// AddEvent adds an event (attributes de-duplicated and depth-limited, at
// most AttributePerEventCountLimit of them; the oldest event goes past
// EventCountLimit).
func (s *span) AddEvent(name string, opts ...trace.EventOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.addEvent(name, opts...)
	}
}

func (s *span) addEvent(name string, opts ...trace.EventOption) {
	c := trace.NewEventConfig(opts...)
	lim := s.limits()
	ev := sdktrace.Event{Name: name, Time: c.Timestamp()}
	ev.Attributes, ev.DroppedAttributeCount = limitKeyValues(c.Attributes(), lim.AttributeValueDepthLimit, lim.AttributePerEventCountLimit)
	s.events, s.droppedEvents = addEvicting(s.events, ev, lim.EventCountLimit, s.droppedEvents)
}

// RecordError adds an exception event for err (nil: none), with its type
// and message, and its stack trace when asked (trace.WithStackTrace).
func (s *span) RecordError(err error, opts ...trace.EventOption) {
	if err == nil || !s.IsRecording() {
		return
	}
	opts = append(opts, trace.WithAttributes(semconv.ExceptionType(typeName(err)), semconv.ExceptionMessage(err.Error())))
	if c := trace.NewEventConfig(opts...); c.StackTrace() {
		opts = append(opts, trace.WithAttributes(semconv.ExceptionStacktrace(stackTrace())))
	}
	s.AddEvent(semconv.ExceptionEventName, opts...)
}

// AddLink links the span to another (an empty link is ignored).
func (s *span) AddLink(l trace.Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.addLink(l)
	}
}

func (s *span) addLink(l trace.Link) {
	if !l.SpanContext.IsValid() && len(l.Attributes) == 0 && l.SpanContext.TraceState().Len() == 0 {
		return
	}
	lim := s.limits()
	sl := sdktrace.Link{SpanContext: l.SpanContext}
	sl.Attributes, sl.DroppedAttributeCount = limitKeyValues(l.Attributes, lim.AttributeValueDepthLimit, lim.AttributePerLinkCountLimit)
	s.links, s.droppedLinks = addEvicting(s.links, sl, lim.LinkCountLimit, s.droppedLinks)
}

func (s *span) addChild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.children++
	}
}

// TracerProvider returns the span's provider.
func (s *span) TracerProvider() trace.TracerProvider { return s.tracer.p }

// End ends the span (at the time given by trace.WithTimestamp, else now)
// and hands it to the batch processors when sampled. Deferred while the
// goroutine panics, it records the panic as an exception event and lets
// the panic go on.
func (s *span) End(opts ...trace.SpanEndOption) {
	et := s.start.Add(time.Since(s.start)) // monotonic when start is
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	c := trace.NewSpanEndConfig(opts...)
	if r := recover(); r != nil {
		defer panic(r)
		eo := []trace.EventOption{trace.WithAttributes(semconv.ExceptionType(typeName(r)), semconv.ExceptionMessage(fmt.Sprint(r)))}
		if c.StackTrace() {
			eo = append(eo, trace.WithAttributes(semconv.ExceptionStacktrace(stackTrace())))
		}
		s.addEvent(semconv.ExceptionEventName, eo...)
	}
	s.end = et
	if ts := c.Timestamp(); !ts.IsZero() {
		s.end = ts
	}
	s.ended = true
	s.dedupAttrs()
	s.mu.Unlock()
	if !s.sc.IsSampled() {
		return
	}
	for _, b := range s.tracer.p.procs {
		b.enqueue(endedSpan{s})
	}
}

// endedSpan is an ended span as the exporters read it (spanData): nothing
// writes a span once it has ended, so they read it without its lock. A
// live span has no such methods.
type endedSpan struct{ s *span }

func (e endedSpan) SpanContext() trace.SpanContext { return e.s.sc }

func (e endedSpan) Name() string                                { return e.s.name }
func (e endedSpan) Parent() trace.SpanContext                   { return e.s.parent }
func (e endedSpan) SpanKind() trace.SpanKind                    { return e.s.kind }
func (e endedSpan) StartTime() time.Time                        { return e.s.start }
func (e endedSpan) EndTime() time.Time                          { return e.s.end }
func (e endedSpan) Status() sdktrace.Status                     { return e.s.status }
func (e endedSpan) DroppedAttributes() int                      { return e.s.droppedAttrs }
func (e endedSpan) ChildSpanCount() int                         { return e.s.children }
func (e endedSpan) Resource() *resource.Resource                { return e.s.tracer.p.resource }
func (e endedSpan) InstrumentationScope() instrumentation.Scope { return e.s.tracer.scope }
func (e endedSpan) Events() []sdktrace.Event                    { return e.s.events }
func (e endedSpan) Links() []sdktrace.Link                      { return e.s.links }

// Attributes returns the span's attributes (nil when none, as the SDK's).
func (e endedSpan) Attributes() []attribute.KeyValue {
	if len(e.s.attrs) == 0 {
		return nil
	}
	return e.s.attrs
}

// DroppedEvents is the number of events dropped by the limit; as the SDK
// reports it, zero when the span kept no event.
func (e endedSpan) DroppedEvents() int {
	if len(e.s.events) == 0 {
		return 0
	}
	return e.s.droppedEvents
}

// DroppedLinks is as DroppedEvents, for links.
func (e endedSpan) DroppedLinks() int {
	if len(e.s.links) == 0 {
		return 0
	}
	return e.s.droppedLinks
}

// nonRecordingSpan is a span the sampler dropped: it carries its context
// to children and records nothing.
type nonRecordingSpan struct {
	embedded.Span
	sc trace.SpanContext
	tp trace.TracerProvider
}

func (s nonRecordingSpan) SpanContext() trace.SpanContext        { return s.sc }
func (nonRecordingSpan) IsRecording() bool                       { return false }
func (nonRecordingSpan) SetStatus(codes.Code, string)            {}
func (nonRecordingSpan) SetName(string)                          {}
func (nonRecordingSpan) SetAttributes(...attribute.KeyValue)     {}
func (nonRecordingSpan) AddEvent(string, ...trace.EventOption)   {}
func (nonRecordingSpan) AddLink(trace.Link)                      {}
func (nonRecordingSpan) RecordError(error, ...trace.EventOption) {}
func (nonRecordingSpan) End(...trace.SpanEndOption)              {}
func (s nonRecordingSpan) TracerProvider() trace.TracerProvider  { return s.tp }

// addEvicting appends v to q, dropping the oldest entry (and counting it)
// when q holds limit entries already; a negative limit is no limit.
func addEvicting[T any](q []T, v T, limit, dropped int) ([]T, int) {
	switch {
	case limit == 0:
		return q, dropped + 1
	case limit > 0 && len(q) >= limit:
		copy(q, q[1:])
		q[len(q)-1] = v
		return q, dropped + 1
	}
	return append(q, v), dropped
}

// typeName names the type of v as the SDK's exception events do:
// package path and name, or the type's literal for unnamed types.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// stackTrace is the calling goroutine's stack, its first 2 KiB as the
// SDK records it.
func stackTrace() string {
	buf := make([]byte, 2048)
	return string(buf[:runtime.Stack(buf, false)])
}
