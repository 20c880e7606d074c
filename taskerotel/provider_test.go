package taskerotel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ptrError is an error whose Error method needs a non-nil receiver.
type ptrError struct{ msg string }

func (e *ptrError) Error() string { return e.msg }

// spanCollector is an exporter that keeps every span it is given.
type spanCollector struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan // as the SDK's exporters get them
	raw   []spanData              // as given
}

func (c *spanCollector) ExportSpans(_ context.Context, spans []spanData) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range spans {
		c.spans = append(c.spans, readOnly(s))
		c.raw = append(c.raw, s)
	}
	return nil
}

func (*spanCollector) Shutdown(context.Context) error { return nil }

// providerCase is a use of the tracing API; each span it makes has a name
// of its own.
type providerCase struct {
	name    string
	sampler sdktrace.Sampler // default AlwaysSample
	limits  *sdktrace.SpanLimits
	run     func(t *testing.T, tp trace.TracerProvider)
}

var (
	t0      = time.Unix(1_800_000_000, 0)
	traceID = trace.TraceID{0xa, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func remoteParent(t *testing.T, sampled bool) context.Context {
	ts, err := trace.ParseTraceState("k=v")
	require.NoError(t, err)
	cfg := trace.SpanContextConfig{TraceID: traceID, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceState: ts, Remote: true}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(cfg))
}

// everyType is an attribute of each type, with a map holding a key twice
// and a nested slice and map.
var everyType = []attribute.KeyValue{
	attribute.String("s", "héllo wörld"), attribute.String("empty", ""), attribute.Int64("i", -42),
	attribute.Bool("b", true), attribute.Float64("f", 2.5), attribute.StringSlice("ss", []string{"abcdef", "ü"}),
	attribute.Int64Slice("is", []int64{1, 2}), attribute.BoolSlice("bs", []bool{true}), attribute.Float64Slice("fs", []float64{0.5}),
	attribute.ByteSlice("raw", []byte("bytes!")), {Key: "nothing"},
	attribute.Slice("nested", attribute.StringValue("long string"), attribute.SliceValue(attribute.IntValue(1)),
		attribute.MapValue(attribute.String("deep", "value"))),
	attribute.Map("m", attribute.String("k", "first"), attribute.String("k", "last"), attribute.Int("n", 2),
		attribute.Map("inner", attribute.String("x", "1"), attribute.String("x", "2"))),
}

var providerCases = []providerCase{
	{name: "a span's life", run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("scope", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://example.com/s"),
			trace.WithInstrumentationAttributes(attribute.String("lib", "x"), attribute.StringSlice("tags", []string{"a"})))
		ctx, s := tr.Start(context.Background(), "first name", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(at(1)),
			trace.WithAttributes(everyType...), trace.WithAttributes(attribute.String("s", "again"), attribute.Key("").String("invalid")))
		require.True(t, s.IsRecording())
		s.SetName("life")
		s.SetAttributes(attribute.Int("i", 7), attribute.String("late", "yes"))
		s.SetAttributes()
		s.AddEvent("ev", trace.WithTimestamp(at(2)), trace.WithAttributes(everyType...))
		s.AddEvent("bare", trace.WithTimestamp(at(3)))
		s.AddLink(trace.Link{SpanContext: trace.SpanContextFromContext(remoteParent(t, true)), Attributes: everyType[:3]})
		s.AddLink(trace.Link{}) // empty: ignored
		s.SetStatus(codes.Error, "first")
		s.SetStatus(codes.Unset, "ignored")
		s.SetStatus(codes.Error, "second")
		_, child := tr.Start(ctx, "child", trace.WithTimestamp(at(4)))
		child.End(trace.WithTimestamp(at(5)))
		_, root := tr.Start(ctx, "new root", trace.WithNewRoot(), trace.WithTimestamp(at(4)))
		root.SetStatus(codes.Ok, "no description kept")
		root.SetStatus(codes.Error, "Ok is final")
		root.End(trace.WithTimestamp(at(5)))
		s.End(trace.WithTimestamp(at(9)))
		require.False(t, s.IsRecording())
		// After End: nothing changes, nothing is exported twice.
		s.SetAttributes(attribute.String("after", "end"))
		s.SetName("renamed after end")
		s.AddEvent("after end")
		s.SetStatus(codes.Ok, "")
		var typedNil *ptrError
		s.RecordError(typedNil) // ignored after End (its Error method is not called)
		s.End()
		_, _ = tr.Start(ctx, "child after end", trace.WithTimestamp(at(10)))
	}},
	{name: "errors and panics", run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("")
		_, s := tr.Start(context.Background(), "errors", trace.WithTimestamp(at(1)))
		s.RecordError(nil)
		s.RecordError(fmt.Errorf("wrapped: %w", errors.New("boom")), trace.WithTimestamp(at(2)), trace.WithAttributes(attribute.String("extra", "x")))
		s.RecordError(errors.New("with stack"), trace.WithTimestamp(at(3)), trace.WithStackTrace(true))
		s.End(trace.WithTimestamp(at(4)))
		require.Panics(t, func() {
			_, p := tr.Start(context.Background(), "panics", trace.WithTimestamp(at(5)))
			defer p.End(trace.WithTimestamp(at(6)))
			panic("handler exploded")
		})
	}},
	{name: "remote parent and trace state", sampler: sdktrace.ParentBased(sdktrace.NeverSample()), run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("scope")
		ctx, s := tr.Start(remoteParent(t, true), "sampled parent", trace.WithTimestamp(at(1)))
		_, c := tr.Start(ctx, "local child", trace.WithTimestamp(at(2)), trace.WithSpanKind(trace.SpanKind(99)))
		c.End(trace.WithTimestamp(at(3)))
		s.End(trace.WithTimestamp(at(4)))
		ctx, u := tr.Start(remoteParent(t, false), "unsampled parent")
		require.False(t, u.IsRecording())
		require.True(t, u.SpanContext().IsValid())
		require.Equal(t, traceID, u.SpanContext().TraceID())
		_, uc := tr.Start(ctx, "child of unsampled")
		require.Equal(t, traceID, uc.SpanContext().TraceID())
		uc.End()
		u.End()
		_, r := tr.Start(context.Background(), "root, not sampled")
		require.False(t, r.IsRecording())
		r.End()
	}},
	{name: "limits", limits: &sdktrace.SpanLimits{
		AttributeValueLengthLimit: 4, AttributeValueDepthLimit: 1, AttributeCountLimit: 5, EventCountLimit: 2, LinkCountLimit: 1,
		AttributePerEventCountLimit: 2, AttributePerLinkCountLimit: 1,
	}, run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("scope", trace.WithInstrumentationAttributes(everyType[len(everyType)-2:]...))
		_, s := tr.Start(context.Background(), "limited", trace.WithTimestamp(at(1)), trace.WithAttributes(everyType...),
			trace.WithLinks(trace.Link{SpanContext: trace.SpanContextFromContext(remoteParent(t, true)), Attributes: everyType[:3]},
				trace.Link{SpanContext: trace.SpanContextFromContext(remoteParent(t, false)), Attributes: everyType[3:4]}))
		s.SetAttributes(attribute.String("s", "updated even when full"), attribute.String("new", "dropped"))
		for i := range 4 {
			s.AddEvent(fmt.Sprint("event ", i), trace.WithTimestamp(at(2+i)), trace.WithAttributes(everyType...))
		}
		s.AddLink(trace.Link{SpanContext: trace.SpanContextFromContext(remoteParent(t, true))})
		s.End(trace.WithTimestamp(at(9)))
		_, many := tr.Start(context.Background(), "under the limit, de-duplicated when read", trace.WithTimestamp(at(1)),
			trace.WithAttributes(attribute.Int("a", 1), attribute.Int("b", 2), attribute.Int("a", 3)))
		many.SetAttributes(attribute.Int("b", 4))
		many.End(trace.WithTimestamp(at(2)))
	}},
	{name: "no attributes, events or links allowed", limits: &sdktrace.SpanLimits{
		AttributeValueLengthLimit: -1, AttributeValueDepthLimit: -1, AttributeCountLimit: 0, EventCountLimit: 0, LinkCountLimit: 0,
		AttributePerEventCountLimit: 0, AttributePerLinkCountLimit: 0,
	}, run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("scope")
		_, s := tr.Start(context.Background(), "nothing kept", trace.WithTimestamp(at(1)), trace.WithAttributes(everyType...),
			trace.WithLinks(trace.Link{SpanContext: trace.SpanContextFromContext(remoteParent(t, true))}))
		s.AddEvent("dropped", trace.WithAttributes(everyType...))
		s.End(trace.WithTimestamp(at(2)))
	}},
	{name: "past a large limit", limits: &sdktrace.SpanLimits{
		AttributeValueLengthLimit: -1, AttributeValueDepthLimit: -1, AttributeCountLimit: 100, EventCountLimit: -1, LinkCountLimit: -1,
		AttributePerEventCountLimit: -1, AttributePerLinkCountLimit: -1,
	}, run: func(t *testing.T, tp trace.TracerProvider) {
		var kvs []attribute.KeyValue
		for i := range 300 {
			kvs = append(kvs, attribute.Int(fmt.Sprint("k", i%150), i))
		}
		_, s := tp.Tracer("scope").Start(context.Background(), "large", trace.WithTimestamp(at(1)), trace.WithAttributes(kvs[:60]...))
		s.SetAttributes(kvs...)
		s.End(trace.WithTimestamp(at(2)))
	}},
	{name: "many attributes", run: func(t *testing.T, tp trace.TracerProvider) {
		tr := tp.Tracer("scope")
		var kvs []attribute.KeyValue
		for i := range 40 {
			kvs = append(kvs, attribute.Int(fmt.Sprint("k", i%25), i))
		}
		_, s := tr.Start(context.Background(), "many", trace.WithTimestamp(at(1)), trace.WithAttributes(kvs...))
		s.SetAttributes(kvs[:30]...)
		s.End(trace.WithTimestamp(at(2)))
	}},
}

// TestProviderMatchesTheSDK: for each case, tracerProvider's spans are
// those the SDK's TracerProvider makes for the same calls (with the same
// sampler, limits and resource): names, kinds, parents, trace flags and
// state, times, attributes, events, links, statuses, dropped and child
// counts, scopes, resources. The ids differ (both random): spans are
// matched by name and parents compared by name.
func TestProviderMatchesTheSDK(t *testing.T) {
	res := resource.NewSchemaless(attribute.String("service.name", "test"))
	for _, c := range providerCases {
		t.Run(c.name, func(t *testing.T) {
			sampler := c.sampler
			if sampler == nil {
				sampler = sdktrace.AlwaysSample()
			}
			limits := sdktrace.NewSpanLimits()
			if c.limits != nil {
				limits = *c.limits
			}
			mem := tracetest.NewInMemoryExporter()
			sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithResource(res),
				sdktrace.WithRawSpanLimits(limits), sdktrace.WithSyncer(mem))
			c.run(t, sdk)
			want := comparable(t, mem.GetSpans().Snapshots()) // before Shutdown, which empties mem
			require.NoError(t, sdk.Shutdown(t.Context()))

			col := &spanCollector{}
			ours := newTracerProvider(sampler, res, []*batcher{newBatcher(col, bspSettings{maxQueue: 1000, maxBatch: 100, delay: time.Hour})})
			ours.limits = limits
			c.run(t, ours)
			require.NoError(t, ours.Shutdown(t.Context()))

			got := comparable(t, col.spans)
			require.NotEmpty(t, want)
			require.Equal(t, want, got)
		})
	}
}

// comparableSpan is a span with its ids replaced by names.
type comparableSpan struct {
	tracetest.SpanStub
	Parent    string
	Remote    bool
	SameTrace bool // the trace id is the parent's, or the test's remote one
}

// comparable returns spans as comparableSpans, by name; times that are
// not the test's (now: exception events) become zero and stack traces a
// marker.
func comparable(t *testing.T, spans []sdktrace.ReadOnlySpan) []comparableSpan {
	names := map[trace.SpanID]string{}
	traces := map[trace.SpanID]trace.TraceID{}
	for _, s := range spans {
		names[s.SpanContext().SpanID()] = s.Name()
		traces[s.SpanContext().SpanID()] = s.SpanContext().TraceID()
	}
	var out []comparableSpan
	for _, s := range spans {
		stub := tracetest.SpanStubFromReadOnlySpan(s)
		cs := comparableSpan{Parent: names[s.Parent().SpanID()], Remote: s.Parent().IsRemote()}
		if !s.Parent().IsValid() {
			cs.Parent = "-"
		} else if cs.Parent == "" {
			cs.Parent = s.Parent().SpanID().String()
		}
		tid := s.SpanContext().TraceID()
		cs.SameTrace = tid == traceID || (s.Parent().IsValid() && tid == s.Parent().TraceID())
		require.True(t, s.SpanContext().IsValid(), s.Name())
		flags, state := s.SpanContext().TraceFlags(), s.SpanContext().TraceState()
		stub.SpanContext = trace.NewSpanContext(trace.SpanContextConfig{TraceFlags: flags, TraceState: state})
		stub.Parent = trace.SpanContext{}
		stub.InstrumentationLibrary = stub.InstrumentationScope //nolint:staticcheck // the SDK fills both
		for i, ev := range stub.Events {
			if ev.Time.Before(t0) || ev.Time.After(at(1000)) {
				stub.Events[i].Time = time.Time{}
			}
			attrs := slices.Clone(ev.Attributes)
			for j, kv := range attrs {
				if kv.Key == semconv.ExceptionStacktraceKey {
					require.True(t, strings.HasPrefix(kv.Value.AsString(), "goroutine "), kv.Value.AsString())
					attrs[j] = kv.Key.String("<stack>")
				}
			}
			stub.Events[i].Attributes = attrs
		}
		cs.SpanStub = stub
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b comparableSpan) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TestProviderLimitsFromEnv: NewTraces' provider takes the span limits of
// the environment, as the SDK's does.
func TestProviderLimitsFromEnv(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	t.Setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2")
	t.Setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3")
	var out strings.Builder
	traces, err := NewTraces(t.Context(), &Options{Console: &out})
	require.NoError(t, err)
	_, s := traces.TracerProvider().Tracer("t").Start(context.Background(), "limited",
		trace.WithAttributes(attribute.String("a", "abcdef"), attribute.Int("b", 1), attribute.Int("c", 2)))
	s.End()
	require.NoError(t, traces.Shutdown(t.Context()))
	require.Contains(t, out.String(), `"Value":"abc"`)
	require.NotContains(t, out.String(), `"Key":"c"`)
	require.Contains(t, out.String(), `"DroppedAttributes":1`)
}

// TestProviderConcurrentUse: spans started, changed and ended from many
// goroutines while the batcher exports them, and changed again after they
// ended (ignored), are each exported once with what they had when they
// ended (run with -race: the exporter reads an ended span without its
// lock).
func TestProviderConcurrentUse(t *testing.T) {
	col := &spanCollector{}
	tp := testProvider(sdktrace.AlwaysSample(), newBatcher(col, bspSettings{maxQueue: 100_000, maxBatch: 7, delay: time.Millisecond}))
	tr := tp.Tracer("concurrent")
	ctx, parent := tr.Start(context.Background(), "parent")
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				_, s := tr.Start(ctx, "child", trace.WithAttributes(attribute.Int("g", g)))
				s.SetAttributes(attribute.Int("i", i))
				s.AddEvent("e")
				s.End()
				s.SetAttributes(attribute.String("after", "end"))
				s.AddEvent("after end")
				s.SetName("after end")
			}
		})
	}
	wg.Wait()
	parent.End()
	require.NoError(t, tp.Shutdown(t.Context()))
	col.mu.Lock()
	defer col.mu.Unlock()
	require.Len(t, col.spans, goroutines*each+1)
	seen := map[[2]int64]bool{}
	for _, s := range col.spans {
		if s.Name() == "parent" {
			require.Equal(t, goroutines*each, s.ChildSpanCount())
			continue
		}
		require.Equal(t, "child", s.Name())
		require.Len(t, s.Attributes(), 2)
		require.Len(t, s.Events(), 1)
		key := [2]int64{s.Attributes()[0].Value.AsInt64(), s.Attributes()[1].Value.AsInt64()}
		require.False(t, seen[key], "exported twice: %v", key)
		seen[key] = true
	}
}

// failingExporter fails every export with err and counts the spans given.
type failingExporter struct {
	err   error
	mu    sync.Mutex
	spans int
}

func (e *failingExporter) ExportSpans(_ context.Context, spans []spanData) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.spans += len(spans)
	return e.err
}

func (e *failingExporter) Shutdown(context.Context) error { return e.err }

// TestProviderFlushAndShutdownReachEveryExporter: as the SDK's, ForceFlush
// and Shutdown go through every exporter when one fails, and return the
// errors joined; with ctx done they return its error.
func TestProviderFlushAndShutdownReachEveryExporter(t *testing.T) {
	first, second := &failingExporter{err: errors.New("first down")}, &failingExporter{err: errors.New("second down")}
	settings := bspSettings{maxQueue: 10, maxBatch: 10, delay: time.Hour}
	tp := newTracerProvider(sdktrace.AlwaysSample(), resource.Empty(), []*batcher{newBatcher(first, settings), newBatcher(second, settings)})
	_, s := tp.Tracer("t").Start(context.Background(), "one")
	s.End()
	err := tp.ForceFlush(t.Context())
	require.ErrorContains(t, err, "first down")
	require.ErrorContains(t, err, "second down")
	require.Equal(t, 1, first.spans)
	require.Equal(t, 1, second.spans)
	err = tp.Shutdown(t.Context())
	require.ErrorContains(t, err, "first down")
	require.ErrorContains(t, err, "second down")
	require.NoError(t, tp.Shutdown(t.Context()), "a second Shutdown does nothing")

	done, cancel := context.WithCancel(context.Background())
	cancel()
	tp2 := testProvider(sdktrace.AlwaysSample(), newBatcher(&spanCollector{}, settings))
	require.ErrorIs(t, tp2.ForceFlush(done), context.Canceled)
	require.ErrorIs(t, tp2.Shutdown(done), context.Canceled)
}

// decisionSampler returns its decision for every span.
type decisionSampler sdktrace.SamplingDecision

func (d decisionSampler) ShouldSample(sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return sdktrace.SamplingResult{Decision: sdktrace.SamplingDecision(d)}
}

func (decisionSampler) Description() string { return "decision" }

// TestProviderSamplingDecisions: a span records when the sampler says
// RecordOnly or RecordAndSample and only then (an unknown decision does not
// record), is exported only when sampled, as with the SDK.
func TestProviderSamplingDecisions(t *testing.T) {
	for _, d := range []sdktrace.SamplingDecision{sdktrace.Drop, sdktrace.RecordOnly, sdktrace.RecordAndSample, 7} {
		mem := tracetest.NewInMemoryExporter()
		sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(decisionSampler(d)), sdktrace.WithSyncer(mem))
		col := &spanCollector{}
		ours := testProvider(decisionSampler(d), newBatcher(col, bspSettings{maxQueue: 10, maxBatch: 10, delay: time.Hour}))
		_, want := sdk.Tracer("t").Start(context.Background(), "s")
		_, got := ours.Tracer("t").Start(context.Background(), "s")
		require.Equal(t, want.IsRecording(), got.IsRecording(), "decision %d", d)
		require.Equal(t, want.SpanContext().IsSampled(), got.SpanContext().IsSampled(), "decision %d", d)
		want.End()
		got.End()
		require.NoError(t, ours.Shutdown(t.Context()))
		require.Len(t, col.spans, len(mem.GetSpans()), "decision %d", d)
	}
}
