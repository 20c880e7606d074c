package tasker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker"
)

// traceWorld is one database with two worker clients ("processes"), each
// with its own TracerProvider and in-memory exporter: A runs the Go steps
// (and creates the task), B runs the http and exec steps.
type traceWorld struct {
	a, b       *tasker.Client
	expA, expB *tracetest.InMemoryExporter
	clock      interface{ Advance(time.Duration) time.Time }
	headers    chan http.Header
	task       *tasker.Task
}

func newTraceWorld(t *testing.T, traced bool) *traceWorld {
	t.Helper()
	w := &traceWorld{expA: tracetest.NewInMemoryExporter(), expB: tracetest.NewInMemoryExporter(), headers: make(chan http.Header, 4)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.headers <- r.Header.Clone()
		_, _ = rw.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	tmpl := &tasker.TaskTemplate{Name: "traced", Version: "1.0.0", Steps: []tasker.StepTemplate{
		{Name: "first", Handler: "test", RetryLimit: 3},
		{Name: "call", Handler: "http", DependsOn: []string{"first"}, HandlerConfig: map[string]any{"url": srv.URL + "/hook", "method": "POST"}},
		{Name: "cmd", Handler: "exec", DependsOn: []string{"first"}, HandlerConfig: map[string]any{
			"command": []any{"sh", "-c", `printf '{"traceparent":"%s","tracestate":"%s"}' "$TRACEPARENT" "$TRACESTATE"`}}},
		{Name: "last", Handler: "test", DependsOn: []string{"call", "cmd"}},
	}}
	d := openTestDriver(t)
	clock := newFakeClock()
	w.clock = clock
	h := newFailer()
	h.fails["first"] = 1
	newClient := func(exp *tracetest.InMemoryExporter, handlers []string, id string) *tasker.Client {
		reg := tasker.NewRegistry()
		require.NoError(t, reg.RegisterHandler("test", h, false))
		require.NoError(t, reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
		cfg := &tasker.Config{Registry: reg, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), Backoff: tasker.Backoff{Jitter: new(0.0)},
			Worker: tasker.WorkerConfig{ID: id, Handlers: handlers}}
		if traced {
			cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		}
		c, err := tasker.NewClient(t.Context(), d, cfg)
		require.NoError(t, err)
		return c
	}
	w.a = newClient(w.expA, []string{"test"}, "worker-a")
	w.b = newClient(w.expB, []string{"http", "exec"}, "worker-b")
	return w
}

// run creates the task under ctx and runs it to completion, the Go steps on
// A and the http and exec steps on B, the first step failing once.
func (w *traceWorld) run(t *testing.T, ctx context.Context) {
	t.Helper()
	res, err := w.a.CreateTask(ctx, &tasker.TaskRequest{Name: "traced"})
	require.NoError(t, err)
	require.NoError(t, w.a.RunUntilIdle(t.Context())) // first fails, retry scheduled
	w.clock.Advance(time.Hour)
	require.NoError(t, w.a.RunUntilIdle(t.Context())) // first completes
	require.NoError(t, w.b.RunUntilIdle(t.Context())) // call and cmd
	require.NoError(t, w.a.RunUntilIdle(t.Context())) // last; the task completes
	task, err := w.a.GetTask(t.Context(), res.Task.ID)
	require.NoError(t, err)
	require.Equal(t, tasker.StateComplete, task.State)
	w.task = task
}

func spanAttrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func parseTraceparent(t *testing.T, tp string) (traceID, spanID string) {
	t.Helper()
	parts := strings.Split(tp, "-")
	require.Len(t, parts, 4, "traceparent %q", tp)
	return parts[1], parts[2]
}

// TestTraceOneTracePerTask: the caller's span, tasker.task.create, every
// attempt of every step on both worker clients and tasker.task are one
// trace; the http step's server and the exec command receive a traceparent
// of that trace, whose parent is their attempt's span.
func TestTraceOneTracePerTask(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		w := newTraceWorld(t, true)
		callerExp := tracetest.NewInMemoryExporter()
		caller := sdktrace.NewTracerProvider(sdktrace.WithSyncer(callerExp)).Tracer("caller")
		ctx, root := caller.Start(t.Context(), "caller", trace.WithSpanKind(trace.SpanKindClient))
		w.run(t, ctx)
		root.End()
		traceID := root.SpanContext().TraceID()

		spansA, spansB := w.expA.GetSpans(), w.expB.GetSpans()
		byName := map[string][]tracetest.SpanStub{}
		for _, s := range append(spansA, spansB...) {
			require.Equal(t, traceID, s.SpanContext.TraceID(), "span %s is in another trace", s.Name)
			byName[s.Name] = append(byName[s.Name], s)
		}
		require.Len(t, byName[tasker.SpanTaskCreate], 1)
		create := byName[tasker.SpanTaskCreate][0]
		require.Equal(t, root.SpanContext().SpanID(), create.Parent.SpanID())
		require.Equal(t, w.task.ID, spanAttrs(create)[tasker.AttrTaskID].AsInt64())

		steps := map[string][]tracetest.SpanStub{}
		for _, s := range byName[tasker.SpanStep] {
			a := spanAttrs(s)
			require.Equal(t, create.SpanContext.SpanID(), s.Parent.SpanID(), "a step span is a child of the task's stored context")
			require.Equal(t, w.task.ID, a[tasker.AttrTaskID].AsInt64())
			require.Equal(t, "default", a[tasker.AttrNamespace].AsString())
			require.Equal(t, "traced", a[tasker.AttrName].AsString())
			require.Equal(t, "1.0.0", a[tasker.AttrVersion].AsString())
			steps[a[tasker.AttrStepName].AsString()] = append(steps[a[tasker.AttrStepName].AsString()], s)
		}
		require.Len(t, steps["first"], 2)
		require.Len(t, steps["call"], 1)
		require.Len(t, steps["cmd"], 1)
		require.Len(t, steps["last"], 1)

		failed, retried := spanAttrs(steps["first"][0]), spanAttrs(steps["first"][1])
		if failed[tasker.AttrAttempt].AsInt64() == 2 {
			steps["first"][0], steps["first"][1] = steps["first"][1], steps["first"][0]
			failed, retried = retried, failed
		}
		require.Equal(t, int64(1), failed[tasker.AttrAttempt].AsInt64())
		require.Equal(t, tasker.OutcomeRetry, failed[tasker.AttrOutcome].AsString())
		require.Equal(t, "retryable", failed[tasker.AttrErrorKind].AsString())
		require.Equal(t, "worker-a", failed[tasker.AttrWorkerID].AsString())
		require.Equal(t, "test", failed[tasker.AttrHandler].AsString())
		var events []string
		for _, ev := range steps["first"][0].Events {
			events = append(events, ev.Name)
			if ev.Name == "step.retry_scheduled" {
				ea := map[attribute.Key]attribute.Value{}
				for _, kv := range ev.Attributes {
					ea[kv.Key] = kv.Value
				}
				require.Positive(t, ea[tasker.AttrBackoffMS].AsInt64())
				require.Equal(t, "exponential", ea[tasker.AttrBackoffType].AsString())
				require.NotEmpty(t, ea[tasker.AttrNextAttemptAt].AsString())
			}
		}
		require.Equal(t, []string{"step.failed", "step.retry_scheduled"}, events)
		require.Equal(t, int64(2), retried[tasker.AttrAttempt].AsInt64())
		require.Equal(t, tasker.OutcomeCompleted, retried[tasker.AttrOutcome].AsString())
		for _, name := range []string{"call", "cmd"} {
			a := spanAttrs(steps[name][0])
			require.Equal(t, "worker-b", a[tasker.AttrWorkerID].AsString(), name)
			require.Equal(t, tasker.OutcomeCompleted, a[tasker.AttrOutcome].AsString(), name)
		}
		for _, s := range spansB {
			require.Equal(t, tasker.SpanStep, s.Name, "B makes only step spans")
		}

		// The service the http step called joins the trace under the step's span.
		hdr := <-w.headers
		tid, parent := parseTraceparent(t, hdr.Get("Traceparent"))
		require.Equal(t, traceID.String(), tid)
		require.Equal(t, steps["call"][0].SpanContext.SpanID().String(), parent)
		// So does the exec command, through TRACEPARENT.
		cmdStep := stepByName(t, w.a, w.task.ID, "cmd")
		var got struct{ Traceparent, Tracestate string }
		require.NoError(t, json.Unmarshal(cmdStep.Results, &got))
		tid, parent = parseTraceparent(t, got.Traceparent)
		require.Equal(t, traceID.String(), tid)
		require.Equal(t, steps["cmd"][0].SpanContext.SpanID().String(), parent)

		// The task's span: from its creation to its completion, ended by
		// the worker that finalized it, under the stored context.
		require.Len(t, byName[tasker.SpanTask], 1)
		ts := byName[tasker.SpanTask][0]
		require.Equal(t, create.SpanContext.SpanID(), ts.Parent.SpanID())
		require.Equal(t, string(tasker.StateComplete), spanAttrs(ts)[tasker.AttrTaskState].AsString())
		require.True(t, ts.StartTime.Equal(w.task.CreatedAt), "starts at the task's creation")
		require.True(t, ts.EndTime.Equal(w.task.CompletedAt), "ends at its completion")
	})
}

// TestTraceCallerContextWithoutProvider: without a TracerProvider the
// engine makes no span, but the caller's trace context is still stored and
// continued by the http and exec handlers.
func TestTraceCallerContextWithoutProvider(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		w := newTraceWorld(t, false)
		caller := sdktrace.NewTracerProvider().Tracer("caller")
		ctx, root := caller.Start(t.Context(), "caller")
		w.run(t, ctx)
		root.End()
		require.Empty(t, w.expA.GetSpans())
		require.Empty(t, w.expB.GetSpans())
		wantTP, _ := tasker.TraceContext(ctx)
		require.Equal(t, wantTP, w.task.TraceParent)
		require.Equal(t, wantTP, (<-w.headers).Get("Traceparent"))
		var got struct{ Traceparent string }
		require.NoError(t, json.Unmarshal(stepByName(t, w.a, w.task.ID, "cmd").Results, &got))
		require.Equal(t, wantTP, got.Traceparent)
	})
}

// TestTraceStepSpanEndsAtFinalFailure: a permanent failure ends its span
// as failed at once; the task's span ends in error.
func TestTraceStepSpanEndsAtFinalFailure(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		e := newEnvWith(t, func(c *tasker.Config) {
			c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		}, template("default", "perm", "1.0.0", stepDef{name: "only", limit: 3}))
		e.h.permanent["only"] = true
		task := e.create("perm", nil)
		require.NoError(t, e.client.RunUntilIdle(e.ctx))
		require.Equal(t, tasker.StateError, e.task(task.ID).State)
		var step, taskSpan *tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			switch s.Name {
			case tasker.SpanStep:
				step = &s
			case tasker.SpanTask:
				taskSpan = &s
			}
		}
		require.NotNil(t, step)
		require.Equal(t, tasker.OutcomeFailed, spanAttrs(*step)[tasker.AttrOutcome].AsString())
		require.Equal(t, "permanent", spanAttrs(*step)[tasker.AttrErrorKind].AsString())
		require.NotNil(t, taskSpan)
		require.Equal(t, string(tasker.StateError), spanAttrs(*taskSpan)[tasker.AttrTaskState].AsString())
		require.Equal(t, "Error", taskSpan.Status.Code.String())
	})
}

func stepByName(t *testing.T, c *tasker.Client, taskID int64, name string) *tasker.Step {
	t.Helper()
	steps, err := c.ListSteps(t.Context(), taskID)
	require.NoError(t, err)
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q", name)
	return nil
}
