package taskerotel

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// captureServer keeps the body of every OTLP/HTTP request.
func captureServer(t *testing.T) (url string, bodies func() [][]byte) {
	var (
		mu  sync.Mutex
		got [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() [][]byte { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

func decodeRequest(t *testing.T, body []byte) *collectortrace.ExportTraceServiceRequest {
	t.Helper()
	var req collectortrace.ExportTraceServiceRequest
	require.NoError(t, proto.Unmarshal(body, &req))
	// The stock exporter orders resources as a map's iteration does.
	slices.SortFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int { return strings.Compare(a.GetSchemaUrl(), b.GetSchemaUrl()) })
	return &req
}

// TestOTLPEncodingIsTheExporters: the bytes otlpExporter sends decode to
// the very message otlptracehttp's own exporter sends for the same spans
// (encodingSpans).
func TestOTLPEncodingIsTheExporters(t *testing.T) {
	spans := encodingSpans(t)

	stockURL, stockBodies := captureServer(t)
	stock, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpointURL(stockURL+"/v1/traces"))
	require.NoError(t, err)
	require.NoError(t, stock.ExportSpans(t.Context(), spans))
	require.NoError(t, stock.Shutdown(t.Context()))

	oursURL, oursBodies := captureServer(t)
	ours, err := newOTLPExporter(t.Context(), otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(oursURL+"/v1/traces")))
	require.NoError(t, err)
	for range 2 { // the second export reuses the buffers
		require.NoError(t, ours.ExportSpans(t.Context(), asSpanData(spans)))
	}
	require.NoError(t, ours.ExportSpans(t.Context(), nil))
	require.NoError(t, ours.Shutdown(t.Context()))

	want := decodeRequest(t, stockBodies()[0])
	got := oursBodies()
	require.Len(t, got, 2, "no request for no spans")
	for _, body := range got {
		require.Empty(t, cmpDiff(want, decodeRequest(t, body)))
	}
	// A grouping the stock exporter also makes: resource A's scopes in one
	// ResourceSpans, resource B's in another.
	require.Len(t, want.ResourceSpans, 2)
}

// traceService is an OTLP/gRPC receiver that keeps each request.
type traceService struct {
	collectortrace.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []*collectortrace.ExportTraceServiceRequest
}

func (s *traceService) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestOTLPEncodingOverGRPC: through the gRPC client, the same message as
// otlptracegrpc's own exporter.
func TestOTLPEncodingOverGRPC(t *testing.T) {
	spans := encodingSpans(t)
	export := func(ours bool) *collectortrace.ExportTraceServiceRequest {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := grpc.NewServer()
		svc := &traceService{}
		collectortrace.RegisterTraceServiceServer(srv, svc)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Stop()
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ln.Addr().String()), otlptracegrpc.WithInsecure()}
		var exp spanExporter
		if ours {
			exp, err = newOTLPExporter(t.Context(), otlptracegrpc.NewClient(opts...))
		} else {
			var stock *otlptrace.Exporter
			stock, err = otlptracegrpc.New(t.Context(), opts...)
			exp = sdkExporter{stock}
		}
		require.NoError(t, err)
		require.NoError(t, exp.ExportSpans(t.Context(), asSpanData(spans)))
		require.NoError(t, exp.Shutdown(t.Context()))
		svc.mu.Lock()
		defer svc.mu.Unlock()
		require.Len(t, svc.reqs, 1)
		b, err := proto.Marshal(svc.reqs[0])
		require.NoError(t, err)
		return decodeRequest(t, b)
	}
	require.Empty(t, cmpDiff(export(false), export(true)))
}

// encodingSpans are spans of every attribute type, events, links, statuses,
// remote and local parents, trace state, dropped counts, two resources and
// several scopes.
func encodingSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid := func(b byte) trace.SpanID { return trace.SpanID{1, 2, 3, 4, 5, 6, 7, b} }
	ts, err := trace.ParseTraceState("k=v,x=y")
	require.NoError(t, err)
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(9), TraceFlags: trace.FlagsSampled, Remote: true})
	local := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(8), TraceFlags: trace.FlagsSampled})
	resA := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.40.0", attribute.String("service.name", "a"), attribute.Int("n", 3))
	resB := resource.NewSchemaless(attribute.String("service.name", "b"))
	scope1 := instrumentation.Scope{Name: "github.com/tasker-go/tasker"}
	scope2 := instrumentation.Scope{Name: "other", Version: "1.2.3", SchemaURL: "https://example.com/s",
		Attributes: attribute.NewSet(attribute.Bool("x", true))}
	now := time.Unix(1_800_000_000, 123456789)
	attrs := []attribute.KeyValue{
		attribute.String("s", "v"), attribute.String("empty", ""), attribute.Int64("i", -42), attribute.Int64("zero", 0),
		attribute.Bool("t", true), attribute.Bool("f", false), attribute.Float64("d", 2.5), attribute.Float64("dz", 0),
		attribute.StringSlice("ss", []string{"a", ""}), attribute.Int64Slice("is", []int64{1, -1, 0}),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Float64Slice("fs", []float64{0.5}),
		attribute.StringSlice("none", []string{}), {Key: "nothing"},
		attribute.Slice("mixed", attribute.StringValue("x"), attribute.IntValue(1)),
		attribute.Map("m", attribute.String("k", "v"), attribute.Int("n", 2)),
		attribute.ByteSlice("raw", []byte{0, 1, 2}),
	}
	stubs := tracetest.SpanStubs{
		{Name: "tasker.step", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(1), TraceFlags: trace.FlagsSampled, TraceState: ts}),
			Parent: remote, SpanKind: trace.SpanKindConsumer, StartTime: now, EndTime: now.Add(time.Millisecond), Attributes: attrs,
			Events: []sdktrace.Event{{Name: "step.failed", Time: now, Attributes: attrs[:3], DroppedAttributeCount: 2}, {Name: "bare"}},
			Links:  []sdktrace.Link{{SpanContext: local, Attributes: attrs[:1], DroppedAttributeCount: 1}, {SpanContext: remote}},
			Status: sdktrace.Status{Code: codes.Error, Description: "boom"}, DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5,
			Resource: resA, InstrumentationScope: scope1},
		{Name: "tasker.task", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(2), TraceFlags: trace.FlagsSampled}),
			Parent: local, SpanKind: trace.SpanKindInternal, StartTime: now, EndTime: now.Add(time.Second),
			Status: sdktrace.Status{Code: codes.Ok}, Resource: resA, InstrumentationScope: scope1},
		{Name: "", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(3)}),
			Resource: resA, InstrumentationScope: scope2},
		{Name: "b-root", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(4), TraceFlags: trace.FlagsSampled}),
			SpanKind: trace.SpanKindServer, StartTime: now, EndTime: now, Resource: resB, InstrumentationScope: scope1},
		{Name: "no-scope", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(5), TraceFlags: trace.FlagsSampled}),
			SpanKind: trace.SpanKindProducer, StartTime: now, EndTime: now, Resource: resB},
		{Name: "tasker.step", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(6), TraceFlags: trace.FlagsSampled}),
			Parent: local, SpanKind: trace.SpanKindClient, StartTime: now, EndTime: now, Attributes: attrs[:2], Resource: resA, InstrumentationScope: scope1},
	}
	return stubs.Snapshots()
}

// asSpanData is spans as the batcher queues them.
func asSpanData(spans []sdktrace.ReadOnlySpan) []spanData {
	out := make([]spanData, len(spans))
	for i, s := range spans {
		out[i] = s
	}
	return out
}

func cmpDiff(want, got proto.Message) string {
	if proto.Equal(want, got) {
		return ""
	}
	return "messages differ:\nwant " + prototext.Format(want) + "\ngot  " + prototext.Format(got)
}

// TestOTLPEncodingOfProviderSpans: spans made by tracerProvider (every
// attribute type, events, links, statuses, children, a remote parent)
// encode, through otlpExporter, to the very message the stock exporter
// sends for them.
func TestOTLPEncodingOfProviderSpans(t *testing.T) {
	col := &spanCollector{}
	tp := newTracerProvider(sdktrace.AlwaysSample(), resource.NewSchemaless(attribute.String("service.name", "t")),
		[]*batcher{newBatcher(col, bspSettings{maxQueue: 100, maxBatch: 100, delay: time.Hour})})
	for _, c := range providerCases {
		if c.sampler == nil && c.limits == nil {
			c.run(t, tp)
		}
	}
	require.NoError(t, tp.Shutdown(t.Context()))
	spans := col.raw
	require.NotEmpty(t, spans)
	require.IsType(t, endedSpan{}, spans[0], "the provider's own spans, not copies")

	stockURL, stockBodies := captureServer(t)
	stock, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpointURL(stockURL+"/v1/traces"))
	require.NoError(t, err)
	require.NoError(t, sdkExporter{stock}.ExportSpans(t.Context(), spans))
	oursURL, oursBodies := captureServer(t)
	ours, err := newOTLPExporter(t.Context(), otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(oursURL+"/v1/traces")))
	require.NoError(t, err)
	require.NoError(t, ours.ExportSpans(t.Context(), spans))
	require.Empty(t, cmpDiff(decodeRequest(t, stockBodies()[0]), decodeRequest(t, oursBodies()[0])))
}
