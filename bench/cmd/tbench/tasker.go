package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// Templates. "diamond" has no-op steps; "diamond_rec" and "chain_rec" have
// steps that record when their handler starts and ends (a mutex and a map
// write: still no-op for the engine).
const (
	tmplDiamond    = "diamond"
	tmplDiamondRec = "diamond_rec"
	tmplChainRec   = "chain_rec"
)

// recKey names one step of one task.
type recKey struct {
	task int64
	step string
}

// stamp is when a step's handler started and ended.
type stamp struct{ start, end time.Time }

// recorder keeps the stamps of the recording handler.
type recorder struct {
	mu sync.Mutex
	m  map[recKey]stamp
}

func (r *recorder) put(k recKey, s stamp) {
	r.mu.Lock()
	r.m[k] = s
	r.mu.Unlock()
}

// take returns and forgets the stamps of a task's steps.
func (r *recorder) take(task int64, steps ...string) (map[string]stamp, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]stamp, len(steps))
	for _, s := range steps {
		k := recKey{task, s}
		st, ok := r.m[k]
		if !ok {
			return nil, fmt.Errorf("task %d: no stamps of step %s", task, s)
		}
		out[s] = st
		delete(r.m, k)
	}
	return out, nil
}

// newRegistry registers the handlers ("noop", and "rec" recording into rec
// when rec is not nil) and the three templates.
func newRegistry(rec *recorder) (*tasker.Registry, error) {
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
		return nil, nil
	}))
	reg.MustRegisterHandler("rec", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		start := time.Now()
		if rec != nil {
			rec.put(recKey{s.Task.ID, s.Step.Name}, stamp{start: start, end: time.Now()})
		}
		return nil, nil
	}))
	diamond := func(name, handler string) *tasker.TaskTemplate {
		return &tasker.TaskTemplate{Name: name, Steps: []tasker.StepTemplate{
			{Name: "a", Handler: handler},
			{Name: "b", Handler: handler, DependsOn: []string{"a"}},
			{Name: "c", Handler: handler, DependsOn: []string{"a"}},
			{Name: "d", Handler: handler, DependsOn: []string{"b", "c"}},
		}}
	}
	for _, t := range []*tasker.TaskTemplate{
		diamond(tmplDiamond, "noop"),
		diamond(tmplDiamondRec, "rec"),
		{Name: tmplChainRec, Steps: []tasker.StepTemplate{
			{Name: "a", Handler: "rec"},
			{Name: "b", Handler: "rec", DependsOn: []string{"a"}},
		}},
	} {
		if err := reg.RegisterTemplate(t, tasker.RegisterOptions{}); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// newTaskerClient opens a Tasker client on dbURL. Migrations have been
// applied by the coordinator.
func newTaskerClient(ctx context.Context, dbURL string, o *options, rec *recorder, logger *slog.Logger) (*tasker.Client, func(), error) {
	reg, err := newRegistry(rec)
	if err != nil {
		return nil, nil, err
	}
	drv, err := taskerpgx.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	c, err := tasker.NewClient(ctx, drv, &tasker.Config{
		Registry: reg, Logger: logger, SkipMigrate: true,
		Worker: tasker.WorkerConfig{Concurrency: o.workers, AsyncCommit: o.asyncCommit, Passes: o.passes},
	})
	if err != nil {
		_ = drv.Close()
		return nil, nil, err
	}
	return c, func() { _ = drv.Close() }, nil
}

// measureCreate: sequential diamond task creations, no worker running.
func measureCreate(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	c, closeFn, err := newTaskerClient(ctx, db.url, o, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer closeFn()
	lat := make([]time.Duration, 0, o.n)
	for i := range o.warmup + o.n {
		start := time.Now()
		if _, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: tmplDiamond, Context: map[string]int{"n": i}}); err != nil {
			return err
		}
		if i >= o.warmup {
			lat = append(lat, time.Since(start))
		}
	}
	res.addLatency(rep, createTasker, lat)
	return nil
}

// runOneAtATime creates tasks of template one at a time against a started
// in-process worker and waits for each to complete; measure is called with
// each measured task's id and end-to-end latency.
func runOneAtATime(ctx context.Context, o *options, db *benchDB, template string, rec *recorder,
	measure func(taskID int64, e2e time.Duration) error) (*cpuMeter, error) {
	c, closeFn, err := newTaskerClient(ctx, db.url, o, rec, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer closeFn()
	var cpu *cpuMeter
	err = oneAtATime(ctx, o, c, template, func(measured bool) {
		if measured && cpu == nil {
			cpu = startCPU(ctx, db)
		}
	}, measure)
	return cpu, err
}

// oneAtATime starts c's worker, then creates tasks of template one at a
// time and waits for each to complete; before is called ahead of each
// (measured: it is not a warm-up), measure after each measured one.
func oneAtATime(ctx context.Context, o *options, c *tasker.Client, template string, before func(measured bool),
	measure func(taskID int64, e2e time.Duration) error) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = c.Stop(context.WithoutCancel(ctx)) }()
	for i := range o.warmup + o.n {
		before(i >= o.warmup)
		start := time.Now()
		created, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: template})
		if err != nil {
			return err
		}
		t, err := c.WaitTask(ctx, created.Task.ID)
		if err != nil {
			return err
		}
		e2e := time.Since(start)
		if !t.Complete() {
			return fmt.Errorf("task %d ended %s", t.ID, t.State)
		}
		if i < o.warmup {
			continue
		}
		if err := measure(t.ID, e2e); err != nil {
			return err
		}
	}
	return nil
}

// measureDiamond: diamond tasks end to end, one at a time, and D's join
// latency.
func measureDiamond(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	rec := &recorder{m: map[recKey]stamp{}}
	e2e := make([]time.Duration, 0, o.n)
	join := make([]time.Duration, 0, o.n)
	cpu, err := runOneAtATime(ctx, o, db, tmplDiamondRec, rec, func(id int64, d time.Duration) error {
		st, err := rec.take(id, "a", "b", "c", "d")
		if err != nil {
			return err
		}
		lastParent := st["b"].end
		if st["c"].end.After(lastParent) {
			lastParent = st["c"].end
		}
		e2e = append(e2e, d)
		join = append(join, st["d"].start.Sub(lastParent))
		return nil
	})
	if err != nil {
		return err
	}
	res.addLatency(rep, diamondTasker, e2e)
	res.addLatency(rep, "Tasker diamond join (D after B, C)", join)
	cpu.report(ctx, rep, res, "Tasker diamond", "diamond", o.n)
	return nil
}

// measureChain: the dependent-step start latency B.start − A.end of chain
// tasks run one at a time.
func measureChain(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	rec := &recorder{m: map[recKey]stamp{}}
	dep := make([]time.Duration, 0, o.n)
	_, err := runOneAtATime(ctx, o, db, tmplChainRec, rec, func(id int64, _ time.Duration) error {
		st, err := rec.take(id, "a", "b")
		if err != nil {
			return err
		}
		dep = append(dep, st["b"].start.Sub(st["a"].end))
		return nil
	})
	if err != nil {
		return err
	}
	res.addLatency(rep, chainTasker, dep)
	return nil
}

// taskerWorkerProcess is a Tasker worker subprocess (see runWorker).
func taskerWorkerProcess(ctx context.Context, o *options, logger *slog.Logger) error {
	c, closeFn, err := newTaskerClient(ctx, o.workerDBURL, o, nil, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	return serveWorker(ctx, func(ctx context.Context) error { return c.Start(ctx) },
		func(ctx context.Context) error { return c.Stop(ctx) })
}

// serveWorker implements the subprocess protocol: print "ready", call start
// when a line arrives on stdin, call stop when stdin is closed.
func serveWorker(ctx context.Context, start, stop func(context.Context) error) error {
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	if !in.Scan() {
		return nil // the coordinator went away before the start
	}
	if path := os.Getenv("TBENCH_WORKER_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if err := start(ctx); err != nil {
		return err
	}
	for in.Scan() {
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return stop(stopCtx)
}
