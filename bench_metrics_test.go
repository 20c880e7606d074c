package tasker_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskermetrics"
)

// BenchmarkThroughputMetrics measures the cost of the Prometheus metrics
// (package taskermetrics: the hook on every event, the step middleware, the
// database gauges attached): sustained steps per second draining a backlog
// of 500 diamond tasks, with the metrics off and on. Each iteration drains
// one backlog of each, in alternating order, so that both see the same
// machine (a shared machine's speed drifts). It reports both rates and
// on/off in percent.
// Run: go test -run x -bench ThroughputMetrics -benchtime 10x .
// (results: docs/benchmarks.md)
func BenchmarkThroughputMetrics(b *testing.B) {
	var off, on time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			off += drainWithMetrics(b, false)
			on += drainWithMetrics(b, true)
		} else {
			on += drainWithMetrics(b, true)
			off += drainWithMetrics(b, false)
		}
		i++
	}
	steps := float64(500 * 4 * i)
	b.ReportMetric(steps/off.Seconds(), "off-steps/s")
	b.ReportMetric(steps/on.Seconds(), "on-steps/s")
	b.ReportMetric(100*off.Seconds()/on.Seconds(), "on/off-%")
}

// drainWithMetrics creates 500 diamond tasks, then times a worker draining
// them, with the metrics on or off.
func drainWithMetrics(b *testing.B, on bool) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	var m *taskermetrics.Metrics
	c := newBenchClient(b, 64, func(cfg *tasker.Config) {
		if on {
			m = taskermetrics.New(nil)
			m.Instrument(cfg)
		}
	})
	if m != nil {
		if err := m.Attach(c); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	ids := make([]int64, 500)
	for i := range ids {
		res, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "diamond"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = res.Task.ID
	}
	b.StartTimer()
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
	b.StopTimer()
	_ = c.Stop(context.Background())
	if m != nil { // the metrics counted every step
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if !strings.Contains(rec.Body.String(), `tasker_step_completed_total{name="diamond",namespace="default",step="d",version="0.1.0"} 500`) {
			b.Fatalf("metrics missed steps:\n%s", rec.Body.String())
		}
	}
	return took
}
