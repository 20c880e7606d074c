//go:build unix

package tasker

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/tasker-go/tasker/internal/proctest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerotel"
	"github.com/tasker-go/tasker/taskertype"
)

// BenchmarkStepTracing measures the tracing work of one step alone, as
// the engine does it for a diamond task (per task: the tasker.task.create
// span, four tasker.step spans each started, returned and ended by its
// committed step.completed event, and the tasker.task span), with the
// provider taskerotel builds (always-on sampler, OTLP/HTTP protobuf, its
// batch span processor) exporting to a sink in this process that discards
// the bytes (the queue holds every span: none is dropped). It reports the process's CPU per step (the export goroutine's
// included, the sink's handler too) and the allocations per step; one op is
// one step. BenchmarkTelemetryOverhead measures the same work inside the
// engine; this one tells what the tracing code and the export path cost
// without the database's noise. Run:
//
//	go test -run '^$' -bench StepTracing -benchtime 20000x .
func BenchmarkStepTracing(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER_ARG"} {
		b.Setenv(k, "")
	}
	// A loop makes spans faster than they are exported: a queue that holds
	// them all, so that none is dropped and all are exported (at Shutdown
	// for the last ones) within the measured CPU.
	b.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4000000")
	b.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	b.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	b.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.URL+"/v1/traces")
	traces, err := taskerotel.NewTraces(context.Background(), &taskerotel.Options{ServiceName: "tasker-bench"})
	if err != nil {
		b.Fatal(err)
	}
	tr := newTracing(traces.TracerProvider(), "worker-1")
	names := [4]string{"a", "b", "c", "d"}
	var (
		task *Task
		id   int64
	)
	runtime.GC()
	cpu0 := proctest.CPU()
	b.ReportAllocs()
	for b.Loop() {
		k := id % 4
		if k == 0 { // a new task
			ctx, span := tr.startCreate(context.Background(), &TaskRequest{Name: "diamond"})
			task = &Task{ID: id/4 + 1, Namespace: "default", Name: "diamond", Version: "0.1.0", State: StateInProgress, CreatedAt: time.Now()}
			task.TraceParent, task.TraceState = TraceContext(ctx)
			endCreate(span, &CreateResult{Task: task}, nil)
		}
		step := &Step{ID: id + 1, TaskID: task.ID, Name: names[k], Handler: "noop", Attempts: 1, State: StateComplete}
		_, span := tr.startStep(context.Background(), &taskerdriver.ClaimedStep{Task: task, Step: step})
		tr.stepReturned(span, step.ID, "", false)
		tr.onEvent(&Event{Name: taskertype.EventStepCompleted, Task: task, Step: step, Attempt: 1, At: time.Now()})
		if k == 3 {
			done := *task
			done.State = StateComplete
			tr.onEvent(&Event{Name: taskertype.EventTaskCompleted, Task: &done, At: time.Now()})
		}
		id++
	}
	if err := traces.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((proctest.CPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/step")
}
