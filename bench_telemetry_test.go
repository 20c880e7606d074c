//go:build unix

package tasker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskermetrics"
)

// telemetryMode is what BenchmarkTelemetryOverhead turns on.
type telemetryMode struct {
	name            string
	metrics, traces bool
}

var telemetryModes = []telemetryMode{{"off", false, false}, {"metrics", true, false}, {"traces", false, true}, {"both", true, true}}

// BenchmarkTelemetryOverhead measures what the telemetry costs: sustained
// steps per second draining a backlog of 500 diamond tasks of no-op steps
// (one worker, as BenchmarkThroughput), with telemetry off, with the
// Prometheus metrics on (taskermetrics: hook, step middleware, database
// gauges attached), with tracing on (always-on sampler, batch span processor
// exporting OTLP/HTTP to a local sink: 1 create, 4 step and 1 task span per
// task, each encoded and sent), and with both. Each iteration drains one
// backlog per mode, in an order that rotates, so that a shared machine's
// drift hits every mode alike. It reports each mode's steps/s and CPU per
// step, and each mode's elapsed cost against off in percent. Run:
//
//	go test -run '^$' -bench TelemetryOverhead -benchtime 8x .
//
// (results: docs/benchmarks.md)
func BenchmarkTelemetryOverhead(b *testing.B) {
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	took := make([]time.Duration, len(telemetryModes))
	cpu := make([]time.Duration, len(telemetryModes))
	n := 0
	for b.Loop() {
		for k := range telemetryModes {
			i := (k + n) % len(telemetryModes)
			t, c := drainWithTelemetry(b, telemetryModes[i], sink.URL)
			took[i] += t
			cpu[i] += c
		}
		n++
	}
	if received.Load() == 0 {
		b.Fatal("the OTLP sink received nothing")
	}
	steps := float64(500 * 4 * n)
	for i, m := range telemetryModes {
		b.ReportMetric(steps/took[i].Seconds(), m.name+"-steps/s")
		b.ReportMetric(float64(cpu[i].Microseconds())/steps, m.name+"-cpu-µs/step")
		if i > 0 {
			b.ReportMetric(100*(took[i].Seconds()-took[0].Seconds())/took[0].Seconds(), m.name+"-cost-%")
		}
	}
}

// drainWithTelemetry creates 500 diamond tasks, then times a worker
// draining them with mode's telemetry; it returns the elapsed and the
// process CPU time (the sink's included) of the drain.
func drainWithTelemetry(b *testing.B, mode telemetryMode, sinkURL string) (time.Duration, time.Duration) {
	var (
		m  *taskermetrics.Metrics
		tp *sdktrace.TracerProvider
	)
	c, closeDB := newBenchClient(b, 64, func(cfg *tasker.Config) {
		if mode.metrics {
			m = taskermetrics.New(nil)
			m.Instrument(cfg)
		}
		if mode.traces {
			exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sinkURL+"/v1/traces"))
			if err != nil {
				b.Fatal(err)
			}
			tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
			cfg.TracerProvider = tp
		}
	})
	if m != nil {
		if err := m.Attach(c); err != nil {
			b.Fatal(err)
		}
	}
	ids := createDiamonds(b, c, 500)
	start, cpu0 := time.Now(), processCPU()
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	waitComplete(b, c, ids)
	took := time.Since(start)
	_ = c.Stop(context.Background())
	closeDB()
	if tp != nil {
		if err := tp.Shutdown(context.Background()); err != nil { // exports what is left
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	if m != nil { // the metrics counted every step
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if !strings.Contains(rec.Body.String(), `tasker_step_completed_total{name="diamond",namespace="default",step="d",version="0.1.0"} 500`) {
			b.Fatalf("metrics missed steps:\n%s", rec.Body.String())
		}
	}
	return took, cpu
}

// processCPU is the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
