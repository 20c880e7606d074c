package taskerhttp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tasker-go/tasker"
)

const callerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// A caller's traceparent on POST /tasker/tasks becomes the parent of the
// request's span (named by its route pattern), which is the parent of
// tasker.task.create; the task stores that trace and its steps join it.
func TestTraceparentHonouredOnCreate(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		c, err := tasker.NewClient(context.Background(), openTestDriver(t), &tasker.Config{
			Registry: testRegistry(t), TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)),
		})
		require.NoError(t, err)
		e := newEnvWithClient(t, c, nil)
		created := e.do("POST", "/tasker/tasks", map[string]any{"name": "order", "namespace": "ecommerce", "context": map[string]any{"order_id": 1}},
			"Traceparent", callerTraceparent, "Tracestate", "vendor=abc").want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		e.do("GET", "/tasker/tasks/1", nil).want(t, http.StatusOK) // another route, its own span name
		task, err := c.GetTask(t.Context(), idOf(created, "task_id"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(task.TraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-"), task.TraceParent)
		require.Equal(t, "vendor=abc", task.TraceState)
		require.NoError(t, c.RunUntilIdle(t.Context()))

		names := map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			names[s.Name] = s
			if strings.HasPrefix(s.Name, "GET ") { // requests sent without a traceparent: traces of their own
				continue
			}
			require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext.TraceID().String(), "span %s", s.Name)
		}
		srv, ok := names["POST /tasker/tasks"]
		require.True(t, ok, "the request's span is named by its route: %v", names)
		require.Equal(t, "00f067aa0ba902b7", srv.Parent.SpanID().String())
		require.Contains(t, names, "GET /tasker/tasks/{task_id}")
		create := names[tasker.SpanTaskCreate]
		require.Equal(t, srv.SpanContext.SpanID(), create.Parent.SpanID())
		require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-"+create.SpanContext.SpanID().String()+"-01", task.TraceParent)
		require.Equal(t, create.SpanContext.SpanID(), names[tasker.SpanStep].Parent.SpanID())
		require.Equal(t, create.SpanContext.SpanID(), names[tasker.SpanTask].Parent.SpanID())
	})
}

// Without a TracerProvider the server makes no span but still stores the
// caller's trace context with the task.
func TestTraceparentStoredWithoutProvider(t *testing.T) {
	e := newEnv(t)
	created := e.do("POST", "/tasker/tasks", map[string]any{"name": "order", "namespace": "ecommerce", "context": map[string]any{"order_id": 1}},
		"Traceparent", callerTraceparent).want(t, http.StatusCreated).json(t)["task"].(map[string]any)
	task, err := e.client.GetTask(t.Context(), idOf(created, "task_id"))
	require.NoError(t, err)
	require.Equal(t, callerTraceparent, task.TraceParent)
	require.Empty(t, task.TraceState)
	// A malformed traceparent is ignored, not an error.
	created = e.do("POST", "/tasker/tasks", map[string]any{"name": "order", "namespace": "ecommerce", "context": map[string]any{"order_id": 2}},
		"Traceparent", "garbage").want(t, http.StatusCreated).json(t)["task"].(map[string]any)
	task, err = e.client.GetTask(t.Context(), idOf(created, "task_id"))
	require.NoError(t, err)
	require.Empty(t, task.TraceParent)
}
