package tasker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

// Benchmarks of the targets in ARCHITECTURE §5 on the embedded SQLite driver
// (on PostgreSQL with TASKER_BENCH_DRIVER=postgres, on a fresh database of
// the server of TASKER_TEST_DATABASE_URL).
// Run: go test -run x -bench . -benchtime 3s .   (results: docs/benchmarks.md)

func benchClient(b *testing.B, concurrency int) *tasker.Client {
	c, _ := newBenchClient(b, concurrency)
	return c
}

// newBenchClient returns a client on a fresh database (SQLite, or
// PostgreSQL with TASKER_BENCH_DRIVER=postgres) with the diamond template
// of no-op steps; configure, when given, changes its config before the
// client is made. closeDB closes its database's connections (also done
// when b ends), for a benchmark that makes many clients.
func newBenchClient(b testing.TB, concurrency int, configure ...func(*tasker.Config)) (c *tasker.Client, closeDB func()) {
	b.Helper()
	var (
		d   taskerdriver.Driver
		err error
	)
	if os.Getenv("TASKER_BENCH_DRIVER") == "postgres" {
		d, err = taskerpgx.Open(context.Background(), pgtest.URL(b))
	} else {
		d, err = taskersqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	}
	if err != nil {
		b.Fatal(err)
	}
	closeDB = sync.OnceFunc(func() { _ = d.Close() })
	b.Cleanup(closeDB)
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	if err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "diamond", Steps: []tasker.StepTemplate{
		{Name: "a", Handler: "noop"}, {Name: "b", Handler: "noop", DependsOn: []string{"a"}},
		{Name: "c", Handler: "noop", DependsOn: []string{"a"}}, {Name: "d", Handler: "noop", DependsOn: []string{"b", "c"}},
	}}, tasker.RegisterOptions{}); err != nil {
		b.Fatal(err)
	}
	cfg := &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), Worker: tasker.WorkerConfig{Concurrency: concurrency}}
	for _, f := range configure {
		f(cfg)
	}
	c, err = tasker.NewClient(context.Background(), d, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c, closeDB
}

func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// BenchmarkCreateTask measures creating a 4-step diamond task through the Go
// API (one transaction: task, steps, edges, transitions).
func BenchmarkCreateTask(b *testing.B) {
	c := benchClient(b, 1)
	ctx := b.Context()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "diamond", Context: map[string]int{"n": 1}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkDiamondLatency measures one 4-step diamond task (A → B, C → D)
// with no-op steps end to end, created one at a time against a running
// worker: from CreateTask to the task being complete.
func BenchmarkDiamondLatency(b *testing.B) {
	c := benchClient(b, 16)
	ctx := b.Context()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Stop(context.Background()) }()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "diamond"})
		if err != nil {
			b.Fatal(err)
		}
		t, err := c.WaitTask(ctx, res.Task.ID)
		if err != nil || !t.Complete() {
			b.Fatalf("task %d: %v %v", res.Task.ID, t.State, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkThroughput measures sustained steps per second: a backlog of
// diamond tasks with no-op steps drained by one worker process, with 0 and
// with 10 event subscribers (each receiving every event).
func BenchmarkThroughput(b *testing.B) {
	for _, subs := range []int{0, 10} {
		b.Run(fmt.Sprintf("tasks=500/subscribers=%d", subs), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				c := benchClient(b, 64)
				var stops []func()
				for range subs {
					stops = append(stops, c.SubscribeFunc(func(context.Context, *tasker.Event) error { return nil }, "*"))
				}
				total += drain(b, c, createDiamonds(b, c, 500))
				for _, stop := range stops {
					stop()
				}
				if n := c.DroppedEvents(); n > 0 {
					b.Fatalf("%d events dropped", n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(500*4*b.N)/total.Seconds(), "steps/s")
		})
	}
}

// createDiamonds creates n diamond tasks (the backlog of the throughput
// benchmarks) and returns their ids.
func createDiamonds(b testing.TB, c *tasker.Client, n int) []int64 {
	b.Helper()
	ids := make([]int64, n)
	for i := range ids {
		res, err := c.CreateTask(context.Background(), &tasker.TaskRequest{Name: "diamond"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = res.Task.ID
	}
	return ids
}

// drain starts c's worker, waits until the tasks of ids are complete and
// stops it; it returns the time from the start to the last completion,
// measured with b's timer running. It is called, and returns, with the
// timer stopped.
func drain(b *testing.B, c *tasker.Client, ids []int64) time.Duration {
	b.Helper()
	b.StartTimer()
	start := time.Now()
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	waitComplete(b, c, ids)
	elapsed := time.Since(start)
	b.StopTimer()
	_ = c.Stop(context.Background())
	return elapsed
}

// waitComplete waits until every task of ids is complete.
func waitComplete(b testing.TB, c *tasker.Client, ids []int64) {
	b.Helper()
	for _, id := range ids {
		if t, err := c.WaitTask(context.Background(), id); err != nil || !t.Complete() {
			b.Fatalf("task %d: %v", id, err)
		}
	}
}

// BenchmarkThroughputPastWaitingSteps measures what steps that no worker
// has the handler for cost the workers that pass over them: before a
// backlog of 500 diamonds, it creates N one-step tasks of a handler no
// worker registers (older tasks, so every claim, in task order, passes
// over them), then drains the diamonds. Compare steps/s with waiting=0.
func BenchmarkThroughputPastWaitingSteps(b *testing.B) {
	for _, waiting := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("tasks=500/waiting=%d", waiting), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				c, _ := newBenchClient(b, 64, func(cfg *tasker.Config) {
					if err := cfg.Registry.RegisterTemplate(&tasker.TaskTemplate{Name: "elsewhere",
						Steps: []tasker.StepTemplate{{Name: "x", Handler: "absent"}}}, tasker.RegisterOptions{AllowUnknownHandlers: true}); err != nil {
						b.Fatal(err)
					}
				})
				ctx := b.Context()
				for i := range waiting {
					if _, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "elsewhere", Context: map[string]any{"i": i}}); err != nil {
						b.Fatal(err)
					}
				}
				total += drain(b, c, createDiamonds(b, c, 500))
				b.StartTimer()
			}
			b.ReportMetric(float64(500*4*b.N)/total.Seconds(), "steps/s")
		})
	}
}
