package taskerotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanData is an ended span as the batch processor queues it and the
// exporters read it: the exported methods of sdktrace.ReadOnlySpan, which
// tracerProvider's ended spans implement (endedSpan) and the SDK's satisfy.
type spanData interface {
	Name() string
	SpanContext() trace.SpanContext
	Parent() trace.SpanContext
	SpanKind() trace.SpanKind
	StartTime() time.Time
	EndTime() time.Time
	Attributes() []attribute.KeyValue
	Links() []sdktrace.Link
	Events() []sdktrace.Event
	Status() sdktrace.Status
	InstrumentationScope() instrumentation.Scope
	Resource() *resource.Resource
	DroppedAttributes() int
	DroppedLinks() int
	DroppedEvents() int
	ChildSpanCount() int
}

// spanExporter exports ended spans: otlpExporter, or an SDK exporter
// through sdkExporter.
type spanExporter interface {
	ExportSpans(ctx context.Context, spans []spanData) error
	Shutdown(ctx context.Context) error
}

// sdkExporter hands spans to an exporter of the SDK (the console exporter,
// the stock OTLP exporter), which takes the SDK's read-only spans: each
// span is copied into one (tracetest.SpanStub.Snapshot, the SDK's only
// public way to make one). These exporters are not on the hot path.
type sdkExporter struct{ exp sdktrace.SpanExporter }

func (e sdkExporter) ExportSpans(ctx context.Context, spans []spanData) error {
	ro := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		ro[i] = readOnly(s)
	}
	return e.exp.ExportSpans(ctx, ro)
}

func (e sdkExporter) Shutdown(ctx context.Context) error { return e.exp.Shutdown(ctx) }

// readOnly is s as the SDK's read-only span.
func readOnly(s spanData) sdktrace.ReadOnlySpan {
	if ro, ok := s.(sdktrace.ReadOnlySpan); ok {
		return ro
	}
	return tracetest.SpanStub{
		Name: s.Name(), SpanContext: s.SpanContext(), Parent: s.Parent(), SpanKind: s.SpanKind(),
		StartTime: s.StartTime(), EndTime: s.EndTime(), Attributes: s.Attributes(), Events: s.Events(), Links: s.Links(),
		Status: s.Status(), DroppedAttributes: s.DroppedAttributes(), DroppedEvents: s.DroppedEvents(),
		DroppedLinks: s.DroppedLinks(), ChildSpanCount: s.ChildSpanCount(), Resource: s.Resource(),
		InstrumentationScope: s.InstrumentationScope(),
	}.Snapshot()
}
