package taskerotel

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// otlpExporter is the OTLP span exporter of NewTraces: the OTLP/HTTP or
// gRPC client of the OpenTelemetry exporters (otlptracehttp.NewClient,
// otlptracegrpc.NewClient: endpoint, headers, compression, timeout, TLS and
// retries from OTEL_EXPORTER_OTLP_*, as otlptracehttp.New and
// otlptracegrpc.New read them) with the spans encoded here, straight from
// the ended spans (spanData) into protobuf bytes, where otlptrace.Exporter builds a
// tree of protobuf structs per span (a few dozen allocations) and marshals
// it by reflection. The bytes are the same message: each ResourceSpans
// given to the client carries its fields (resource, scope_spans,
// schema_url) as protobuf unknown fields, which the client's marshaling
// writes out as they are.
type otlpExporter struct {
	client otlptrace.Client

	mu     sync.Mutex
	groups []otlpGroup
	buf    []byte
}

// otlpGroup is the spans of one resource and instrumentation scope.
type otlpGroup struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []spanData
}

func newOTLPExporter(ctx context.Context, client otlptrace.Client) (*otlpExporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &otlpExporter{client: client}, nil
}

// ExportSpans encodes spans and uploads them.
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []spanData) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.groups = e.groups[:0]
	for _, s := range spans {
		if s == nil {
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		i := 0
		for i < len(e.groups) && (!sameResource(e.groups[i].res, res) || e.groups[i].scope != scope) {
			i++
		}
		if i == len(e.groups) {
			e.groups = append(e.groups, otlpGroup{res: res, scope: scope, spans: e.spans(i)})
		}
		e.groups[i].spans = append(e.groups[i].spans, s)
	}
	if len(e.groups) == 0 {
		return nil
	}
	// One ResourceSpans per resource, its scopes in the order first seen.
	var (
		rss  []*tracepb.ResourceSpans
		done = make([]bool, len(e.groups))
	)
	e.buf = e.buf[:0]
	for i := range e.groups {
		if done[i] {
			continue
		}
		start := len(e.buf)
		res := e.groups[i].res
		if res != nil {
			var at int
			e.buf, at = beginMessage(e.buf, 1) // resource
			for iter := res.Iter(); iter.Next(); {
				e.buf = appendKeyValue(e.buf, 1, iter.Attribute())
			}
			e.buf = endMessage(e.buf, at)
		}
		for j := i; j < len(e.groups); j++ {
			if done[j] || !sameResource(e.groups[j].res, res) {
				continue
			}
			done[j] = true
			e.buf = appendScopeSpans(e.buf, &e.groups[j])
			clear(e.groups[j].spans)
		}
		if res != nil {
			e.buf = appendString(e.buf, 3, res.SchemaURL())
		}
		rs := &tracepb.ResourceSpans{}
		rs.ProtoReflect().SetUnknown(protoreflect.RawFields(e.buf[start:len(e.buf):len(e.buf)]))
		rss = append(rss, rs)
	}
	if err := e.client.UploadTraces(ctx, rss); err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

// spans is a reusable span slice for group i.
func (e *otlpExporter) spans(i int) []spanData {
	if i < cap(e.groups) {
		return e.groups[:cap(e.groups)][i].spans[:0]
	}
	return nil
}

// Shutdown stops the client.
func (e *otlpExporter) Shutdown(ctx context.Context) error { return e.client.Stop(ctx) }

func sameResource(a, b *resource.Resource) bool {
	return a == b || (a != nil && b != nil && a.Equivalent() == b.Equivalent())
}

// The messages of opentelemetry/proto/{trace,common,resource}/v1, encoded
// as otlptrace.Exporter's structs marshal (proto3: zero scalars are left
// out; a oneof member and a set message field are always written).

// beginMessage writes the tag of the message field num and room for its
// length, which endMessage writes once the message is.
func beginMessage(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0, 0, 0, 0, 0), len(b)
}

// endMessage writes the length of the message begun at at, and moves the
// message next to it.
func endMessage(b []byte, at int) []byte {
	n := len(b) - at - 5
	var l [binaryMaxVarint]byte
	ln := protowire.AppendVarint(l[:0], uint64(n))
	copy(b[at+len(ln):], b[at+5:])
	copy(b[at:], ln)
	return b[:at+len(ln)+n]
}

const binaryMaxVarint = 10

func appendScopeSpans(b []byte, g *otlpGroup) []byte {
	b, at := beginMessage(b, 2) // scope_spans
	if g.scope != (instrumentation.Scope{}) {
		var sat int
		b, sat = beginMessage(b, 1)
		b = appendString(b, 1, g.scope.Name)
		b = appendString(b, 2, g.scope.Version)
		for iter := g.scope.Attributes.Iter(); iter.Next(); {
			b = appendKeyValue(b, 3, iter.Attribute())
		}
		b = endMessage(b, sat)
	}
	for _, s := range g.spans {
		b = appendSpan(b, s)
	}
	b = appendString(b, 3, g.scope.SchemaURL)
	return endMessage(b, at)
}

func appendSpan(b []byte, s spanData) []byte {
	b, at := beginMessage(b, 2) // spans
	sc, parent := s.SpanContext(), s.Parent()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, 1, tid[:])
	b = appendBytes(b, 2, sid[:])
	b = appendString(b, 3, sc.TraceState().String())
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, 4, psid[:])
	}
	b = appendString(b, 5, s.Name())
	b = appendVarint(b, 6, uint64(spanKind(s.SpanKind())))
	b = appendFixed64(b, 7, unixNano(s.StartTime()))
	b = appendFixed64(b, 8, unixNano(s.EndTime()))
	for _, kv := range s.Attributes() {
		b = appendKeyValue(b, 9, kv)
	}
	b = appendVarint(b, 10, uint64(clampUint32(s.DroppedAttributes())))
	for _, ev := range s.Events() {
		var eat int
		b, eat = beginMessage(b, 11)
		b = appendFixed64(b, 1, unixNano(ev.Time))
		b = appendString(b, 2, ev.Name)
		for _, kv := range ev.Attributes {
			b = appendKeyValue(b, 3, kv)
		}
		b = appendVarint(b, 4, uint64(clampUint32(ev.DroppedAttributeCount)))
		b = endMessage(b, eat)
	}
	b = appendVarint(b, 12, uint64(clampUint32(s.DroppedEvents())))
	for _, l := range s.Links() { // otlptrace.Exporter writes no trace_state for a link
		var lat int
		b, lat = beginMessage(b, 13)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = appendBytes(b, 1, ltid[:])
		b = appendBytes(b, 2, lsid[:])
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, 4, kv)
		}
		b = appendVarint(b, 5, uint64(clampUint32(l.DroppedAttributeCount)))
		b = protowire.AppendTag(b, 6, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		b = endMessage(b, lat)
	}
	b = appendVarint(b, 14, uint64(clampUint32(s.DroppedLinks())))
	st := s.Status()
	b = protowire.AppendTag(b, 15, protowire.BytesType) // written even when empty
	b = protowire.AppendVarint(b, uint64(sizeStatus(st)))
	b = appendString(b, 2, st.Description)
	b = appendVarint(b, 3, uint64(statusCode(st.Code)))
	b = protowire.AppendTag(b, 16, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, spanFlags(sc.TraceFlags(), parent))
	return endMessage(b, at)
}

func sizeStatus(st sdktrace.Status) int {
	return sizeString(2, st.Description) + sizeVarint(3, uint64(statusCode(st.Code)))
}

func sizeKeyValue(kv attribute.KeyValue) int {
	return sizeString(1, string(kv.Key)) + sizeField(2, sizeAnyValue(kv.Value))
}

func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeKeyValue(kv)))
	b = appendString(b, 1, string(kv.Key))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeAnyValue(kv.Value)))
	return appendAnyValue(b, kv.Value)
}

// sizeAnyValue is the size of an AnyValue's fields; a oneof member is
// written even when it is its type's zero.
func sizeAnyValue(v attribute.Value) int {
	switch v.Type() {
	case attribute.BOOL:
		return protowire.SizeTag(2) + 1
	case attribute.INT64:
		return protowire.SizeTag(3) + protowire.SizeVarint(uint64(v.AsInt64())) //nolint:gosec // two's complement, as protobuf's int64
	case attribute.FLOAT64:
		return protowire.SizeTag(4) + protowire.SizeFixed64()
	case attribute.STRING:
		return protowire.SizeTag(1) + protowire.SizeBytes(len(v.AsString()))
	case attribute.BYTESLICE:
		return protowire.SizeTag(7) + protowire.SizeBytes(len(v.AsByteSlice()))
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		n := 0
		eachElement(v, func(e attribute.Value) { n += sizeField(1, sizeAnyValue(e)) })
		return sizeField(5, n)
	case attribute.MAP:
		n := 0
		for _, kv := range v.AsMap() {
			n += sizeField(1, sizeKeyValue(kv))
		}
		return sizeField(6, n)
	case attribute.EMPTY:
		return 0
	}
	return protowire.SizeTag(1) + protowire.SizeBytes(len("INVALID"))
}

func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		return protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		return protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), uint64(v.AsInt64())) //nolint:gosec // two's complement, as protobuf's int64
	case attribute.FLOAT64:
		return protowire.AppendFixed64(protowire.AppendTag(b, 4, protowire.Fixed64Type), math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), v.AsString())
	case attribute.BYTESLICE:
		return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), v.AsByteSlice())
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		n := 0
		eachElement(v, func(e attribute.Value) { n += sizeField(1, sizeAnyValue(e)) })
		b = protowire.AppendVarint(protowire.AppendTag(b, 5, protowire.BytesType), uint64(n))
		eachElement(v, func(e attribute.Value) {
			b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.BytesType), uint64(sizeAnyValue(e)))
			b = appendAnyValue(b, e)
		})
		return b
	case attribute.MAP:
		n := 0
		for _, kv := range v.AsMap() {
			n += sizeField(1, sizeKeyValue(kv))
		}
		b = protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.BytesType), uint64(n))
		for _, kv := range v.AsMap() {
			b = appendKeyValue(b, 1, kv)
		}
		return b
	case attribute.EMPTY:
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), "INVALID")
}

// eachElement calls fn with each element of a slice value as a value.
func eachElement(v attribute.Value, fn func(attribute.Value)) {
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, e := range v.AsBoolSlice() {
			fn(attribute.BoolValue(e))
		}
	case attribute.INT64SLICE:
		for _, e := range v.AsInt64Slice() {
			fn(attribute.Int64Value(e))
		}
	case attribute.FLOAT64SLICE:
		for _, e := range v.AsFloat64Slice() {
			fn(attribute.Float64Value(e))
		}
	case attribute.STRINGSLICE:
		for _, e := range v.AsStringSlice() {
			fn(attribute.StringValue(e))
		}
	case attribute.SLICE:
		for _, e := range v.AsSlice() {
			fn(e)
		}
	}
}

func sizeField(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return sizeField(num, len(s))
}

func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
}

func unixNano(t interface{ UnixNano() int64 }) uint64 {
	return uint64(max(0, t.UnixNano())) //nolint:gosec // not negative
}

func clampUint32(v int) uint32 {
	return uint32(min(max(v, 0), math.MaxUint32)) //nolint:gosec // clamped
}

func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

func spanKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

// spanFlags: the W3C trace flags, and whether the parent (or the linked
// span) is remote, which is always known here.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	flags := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		flags |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return flags
}
