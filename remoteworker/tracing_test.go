package remoteworker_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/remoteworker"
	"github.com/tasker-go/tasker/taskerhttp"
)

// A remote step continues its task's trace: the claim answer carries the
// task's traceparent, the handler's context holds it, the worker's
// tasker.step span is a child of it, and the server's span of the result
// report is a child of the worker's span.
func TestRemoteWorkerContinuesTrace(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		serverExp, workerExp := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
		reg := tasker.NewRegistry()
		require.NoError(t, reg.RegisterTemplate(billingTemplate("traced_bill"), tasker.RegisterOptions{}))
		c, err := tasker.NewClient(t.Context(), testdb.Open(t), &tasker.Config{
			Registry: reg, Logger: slog.New(slog.DiscardHandler),
			Worker:         tasker.WorkerConfig{PollInterval: 50 * time.Millisecond},
			TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(serverExp)),
		})
		require.NoError(t, err)
		require.NoError(t, c.Start(t.Context()))
		t.Cleanup(func() { _ = c.Stop(context.Background()) })
		srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{WorkerToken: token}))
		t.Cleanup(srv.Close)
		e := &engine{client: c, url: srv.URL}

		seen := make(chan trace.SpanContext, 1)
		startWorker(t, e, remoteworker.Config{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(workerExp))},
			func(ctx context.Context, s *remoteworker.Step) (any, error) {
				require.NotEmpty(t, s.TraceParent)
				seen <- trace.SpanContextFromContext(ctx)
				return map[string]any{"charged": true}, nil
			})

		caller := sdktrace.NewTracerProvider().Tracer("caller")
		ctx, root := caller.Start(t.Context(), "caller")
		res, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "traced_bill"})
		require.NoError(t, err)
		require.Equal(t, tasker.StateComplete, waitFinal(t, c, res.Task.ID).State)
		root.End()
		traceID := root.SpanContext().TraceID()

		handlerSC := <-seen
		require.Equal(t, traceID, handlerSC.TraceID(), "the handler's context is in the task's trace")
		var step, create, report tracetest.SpanStub
		var taskSpan bool
		require.Eventually(t, func() bool { // the worker ends its span after its report returns
			for _, s := range workerExp.GetSpans() {
				if s.Name == tasker.SpanStep {
					step = s
				}
			}
			for _, s := range serverExp.GetSpans() {
				switch s.Name {
				case tasker.SpanTaskCreate:
					create = s
				case "POST /tasker/workers/steps/{step_id}/result":
					report = s
				case tasker.SpanTask:
					taskSpan = s.SpanContext.TraceID() == traceID
				}
			}
			return step.Name != "" && report.Name != "" && taskSpan
		}, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, traceID, step.SpanContext.TraceID())
		require.Equal(t, handlerSC.SpanID(), step.SpanContext.SpanID(), "the handler runs under the worker's step span")
		require.Equal(t, create.SpanContext.SpanID(), step.Parent.SpanID(), "the worker's span is a child of the stored context")
		require.Equal(t, traceID, report.SpanContext.TraceID())
		require.Equal(t, step.SpanContext.SpanID(), report.Parent.SpanID(), "the report request carries the worker's span")
	})
}
