package tasker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tasker-go/tasker"
)

// BenchmarkTracingOverhead measures sustained steps per second (a backlog of
// 500 diamond tasks with no-op steps drained by one worker, as
// BenchmarkThroughput) with tracing off and on in the same run. On: an
// always-on sampler and a batch span processor exporting OTLP/HTTP to a
// local sink, so every task makes 1 create, 4 step and 1 task spans and
// every one is encoded and sent. Run:
//
//	go test -run x -bench TracingOverhead -benchtime 20x .
func BenchmarkTracingOverhead(b *testing.B) {
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	// drain runs one backlog, traced or not, and returns how long the
	// worker took to finish it.
	drain := func(traced bool) time.Duration {
		var tp *sdktrace.TracerProvider
		c := newBenchClientWith(b, 64, func(cfg *tasker.Config) {
			if !traced {
				return
			}
			exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
			if err != nil {
				b.Fatal(err)
			}
			tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
			cfg.TracerProvider = tp
		})
		ctx := b.Context()
		ids := make([]int64, 500)
		for i := range ids {
			res, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "diamond"})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = res.Task.ID
		}
		start := time.Now()
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			if t, err := c.WaitTask(ctx, id); err != nil || !t.Complete() {
				b.Fatalf("task %d: %v", id, err)
			}
		}
		took := time.Since(start)
		_ = c.Stop(context.Background())
		if tp != nil {
			if err := tp.Shutdown(context.Background()); err != nil { // exports what is left
				b.Fatal(err)
			}
		}
		return took
	}
	var off, on time.Duration
	n := 0
	for b.Loop() {
		// Alternate the order so that drift on a shared machine hits both.
		if n%2 == 0 {
			off += drain(false)
			on += drain(true)
		} else {
			on += drain(true)
			off += drain(false)
		}
		n++
	}
	if received.Load() == 0 {
		b.Fatal("the OTLP sink received nothing")
	}
	steps := float64(500 * 4 * n)
	b.ReportMetric(steps/off.Seconds(), "off-steps/s")
	b.ReportMetric(steps/on.Seconds(), "on-steps/s")
	b.ReportMetric(100*(on.Seconds()-off.Seconds())/off.Seconds(), "cost-%")
}
