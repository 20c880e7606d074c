package tasker_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
)

// BenchmarkMemoryActiveTasks measures the Go heap a running worker process
// holds for 10,000 active tasks (ARCHITECTURE §5: ≤ 1 MB). Each task is in
// progress: its first step failed and waits an hour for its retry, its
// second step waits for the first. The heap in use (after a GC) with the
// tasks active is compared with the heap of the same started client before
// they existed (after 100 warm-up tasks, so that caches and pools are
// already there). The database holds the tasks; the worker keeps state only
// for the steps it is running.
//
//	TASKER_TEST_DATABASE_URL=... go test -run '^$' -bench MemoryActiveTasks -benchtime 1x .
func BenchmarkMemoryActiveTasks(b *testing.B) {
	for _, drv := range testdb.Drivers {
		b.Run(drv, func(b *testing.B) {
			for range b.N {
				heap, rss, ok := activeTasksMemory(b, 10_000)
				b.ReportMetric(float64(heap), "heap-B/10k-tasks")
				if ok {
					b.ReportMetric(float64(rss), "rss-B/10k-tasks")
				}
			}
		})
	}
}

// activeTasksMemory returns the growth of the Go heap in use and of the
// resident set size (ok false where /proc is missing) caused by n active
// tasks.
// The RSS also counts memory outside the Go heap (SQLite's page cache,
// bounded by its cache_size) and never shrinks, so it is an upper bound.
func activeTasksMemory(b *testing.B, n int) (heapGrowth, rssGrowth int64, ok bool) {
	b.Helper()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("later", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
		return nil, tasker.RetryAfter(errors.New("not yet"), time.Hour)
	}))
	if err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "waiting", Steps: []tasker.StepTemplate{
		{Name: "first", Handler: "later", RetryLimit: 5}, {Name: "second", Handler: "later", DependsOn: []string{"first"}},
	}}, tasker.RegisterOptions{}); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	c, err := tasker.NewClient(ctx, testdb.Open(b), &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler),
		Worker: tasker.WorkerConfig{Concurrency: 64, PollInterval: 50 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Stop(context.Background()) }()
	waitBackoff := func(want int) {
		for {
			h, err := c.Health(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if h.Retries.InBackoff >= want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	create := func(count int) {
		for range count {
			if _, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "waiting"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapInuse)
	}
	create(100)
	waitBackoff(100)
	before, rssBefore := heap(), rss()
	create(n)
	waitBackoff(100 + n)
	after, rssAfter := heap(), rss()
	if rssBefore < 0 || rssAfter < 0 {
		return after - before, 0, false
	}
	return after - before, rssAfter - rssBefore, true
}

// rss reads VmRSS from /proc/self/status, in bytes (-1 when unavailable).
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}
