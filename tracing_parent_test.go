package tasker

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTaskContextParsesOncePerTask: a task's stored trace context is parsed
// for its first step and reused for the others (tracestate included), the
// entry goes when the task's span is made, and a changed stored context is
// parsed again.
func TestTaskContextParsesOncePerTask(t *testing.T) {
	tr := newTracing(nil, "w")
	task := &Task{ID: 7, TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "k=v"}
	want := trace.SpanContextFromContext(TaskTraceContext(context.Background(), task))
	if !want.IsValid() || want.TraceState().Get("k") != "v" {
		t.Fatalf("TaskTraceContext: %v", want)
	}
	for range 3 {
		got := trace.SpanContextFromContext(tr.taskContext(context.Background(), task, false))
		if !got.Equal(want) || !got.IsRemote() {
			t.Fatalf("taskContext = %v, want the remote %v", got, want)
		}
	}
	if len(tr.parents) != 1 {
		t.Fatalf("%d cached parents, want 1", len(tr.parents))
	}
	changed := *task
	changed.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
	if got := trace.SpanContextFromContext(tr.taskContext(context.Background(), &changed, false)); got.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("a changed stored context is not parsed again: %v", got)
	}
	if got := trace.SpanContextFromContext(tr.taskContext(context.Background(), task, true)); !got.Equal(want) {
		t.Fatalf("taskContext(done) = %v, want %v", got, want)
	}
	if len(tr.parents) != 0 {
		t.Fatalf("the final task's entry stayed: %v", tr.parents)
	}
	bad := &Task{ID: 8, TraceParent: "not a traceparent"}
	if got := trace.SpanContextFromContext(tr.taskContext(context.Background(), bad, false)); got.IsValid() {
		t.Fatalf("an invalid stored context gave %v", got)
	}
	for id := range int64(maxParents + 10) {
		tr.taskContext(context.Background(), &Task{ID: id + 100, TraceParent: task.TraceParent}, false)
	}
	if len(tr.parents) > maxParents {
		t.Fatalf("%d cached parents, more than %d", len(tr.parents), maxParents)
	}
}
