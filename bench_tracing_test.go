//go:build unix

package tasker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
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
	drain := func(traced bool) (time.Duration, time.Duration) {
		var tp *sdktrace.TracerProvider
		c := newBenchClient(b, 64, func(cfg *tasker.Config) {
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
		start, cpu0 := time.Now(), processCPU()
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
		return took, processCPU() - cpu0
	}
	var off, on, offCPU, onCPU time.Duration
	n := 0
	add := func(traced bool) {
		took, cpu := drain(traced)
		if traced {
			on, onCPU = on+took, onCPU+cpu
		} else {
			off, offCPU = off+took, offCPU+cpu
		}
	}
	for b.Loop() {
		// Alternate the order so that drift on a shared machine hits both.
		add(n%2 == 1)
		add(n%2 == 0)
		n++
	}
	if received.Load() == 0 {
		b.Fatal("the OTLP sink received nothing")
	}
	steps := float64(500 * 4 * n)
	b.ReportMetric(steps/off.Seconds(), "off-steps/s")
	b.ReportMetric(steps/on.Seconds(), "on-steps/s")
	b.ReportMetric(100*(on.Seconds()-off.Seconds())/off.Seconds(), "cost-%")
	// CPU time of the process per step (the sink's included), which the
	// other jobs of a shared machine disturb less than elapsed time.
	b.ReportMetric(float64(offCPU.Microseconds())/steps, "off-cpu-µs/step")
	b.ReportMetric(float64(onCPU.Microseconds())/steps, "on-cpu-µs/step")
}

// processCPU is the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
