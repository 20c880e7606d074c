package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker"
)

// burstPeer is what the burst measurement needs of an engine: submit
// diamond i (returning its key), the queries that tell when its diamonds are
// finished, and the completion time of every finished diamond by key.
type burstPeer struct {
	name      string
	submit    func(ctx context.Context, i int) (string, error)
	finish    finishQueries
	doneQuery string // rows of (key text, completion time timestamptz)
}

// measureBurst submits o.burst diamonds from o.burstGo goroutines
// to an engine whose in-process worker is already running, polls until all
// are complete, and reports steps/s (4 steps per diamond, from the first
// submission to the poll that saw the last diamond complete) and the p50,
// p95 and p99 per diamond (its completion time as recorded by the engine
// minus the time its submission began).
func measureBurst(ctx context.Context, o *options, db *benchDB, rep int, res *results, p burstPeer) error {
	ctx, cancel := context.WithTimeout(ctx, throughputTimeout)
	defer cancel()
	submitted := make([]time.Time, o.burst)
	keys := make([]string, o.burst)
	start := time.Now()
	err := parallel(o.burst, o.burstGo, func(i int) error {
		submitted[i] = time.Now()
		k, err := p.submit(ctx, i)
		keys[i] = k
		return err
	})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	submitDone := time.Since(start)
	elapsed, err := pollUntil(ctx, db, o.pollEvery, o.burst, p.finish, start)
	if err != nil {
		return err
	}
	rows, err := db.pool.Query(ctx, p.doneQuery)
	if err != nil {
		return err
	}
	done := map[string]time.Time{}
	var k string
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&k, &at}, func() error { done[k] = at; return nil }); err != nil {
		return err
	}
	lat := make([]time.Duration, 0, o.burst)
	for i, k := range keys {
		at, ok := done[k]
		if !ok {
			return fmt.Errorf("%s: no completion time of diamond %s", p.name, k)
		}
		lat = append(lat, at.Sub(submitted[i]))
	}
	steps := float64(4 * o.burst)
	fmt.Printf("rep %d  %-34s %d diamonds (submitted in %v) complete in %v: %.0f steps/s\n",
		rep, p.name, o.burst, submitDone.Round(time.Millisecond), elapsed.Round(time.Millisecond), steps/elapsed.Seconds())
	res.add(p.name+" steps/s", "steps/s", steps/elapsed.Seconds())
	res.addLatency(rep, p.name+" per diamond", lat)
	return nil
}

// measureTaskerBurst: the burst against a Tasker client with its in-process
// worker (concurrency -workers).
func measureTaskerBurst(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	c, closeFn, err := newTaskerClient(ctx, db.url, o, nil, workerLogger())
	if err != nil {
		return err
	}
	defer closeFn()
	if err := c.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = c.Stop(context.WithoutCancel(ctx)) }()
	return measureBurst(ctx, o, db, rep, res, burstPeer{
		name: burstTasker,
		submit: func(ctx context.Context, i int) (string, error) {
			t, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: tmplDiamond, Context: map[string]int{"n": i}})
			if err != nil {
				return "", err
			}
			return strconv.FormatInt(t.Task.ID, 10), nil
		},
		finish:    taskerFinish,
		doneQuery: `SELECT task_id::text, completed_at FROM tasker_tasks WHERE state = 'complete'`,
	})
}
