package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// noopArgs is River's no-op job.
type noopArgs struct{}

// Kind implements river.JobArgs.
func (noopArgs) Kind() string { return "tbench_noop" }

// noopWorker works noopArgs jobs by doing nothing.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

// Work implements river.Worker.
func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// riverPool opens a pool on dbURL with at least as many connections as
// Tasker's driver uses (taskerpgx.Open raises MaxConns to 8).
func riverPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = max(cfg.MaxConns, 8)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// measureRiverThroughput: 4 × o.tasks no-op jobs inserted, then drained by
// procs River worker processes.
func measureRiverThroughput(ctx context.Context, o *options, db *benchDB, procs, rep int, res *results) error {
	// An insert-only client (no queues, no workers).
	client, err := river.NewClient(riverpgxv5.New(db.pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	jobs := 4 * o.tasks
	created := time.Now()
	for inserted := 0; inserted < jobs; {
		batch := min(1000, jobs-inserted)
		params := make([]river.InsertManyParams, batch)
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
		inserted += batch
	}
	fmt.Printf("rep %d  (backlog: %d River jobs inserted in %v)\n", rep, jobs, time.Since(created).Round(time.Millisecond))
	elapsed, err := drain(ctx, o, db, "river", procs, jobs, riverJobsFinish)
	if err != nil {
		return err
	}
	fmt.Printf("rep %d  %-34s %d jobs in %v: %.0f jobs/s\n", rep, riverMetric(procs), jobs, elapsed.Round(time.Millisecond), float64(jobs)/elapsed.Seconds())
	res.add(riverMetric(procs), "jobs/s", float64(jobs)/elapsed.Seconds())
	return nil
}

// riverWorkerProcess is a River worker subprocess (see runWorker): one
// queue with MaxWorkers = -workers and the fetch timings of the flags,
// working the river mode's no-op jobs and the river-dag mode's diamond
// steps.
func riverWorkerProcess(ctx context.Context, o *options, logger *slog.Logger) error {
	pool, err := riverPool(ctx, o.workerDBURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := newRiverWorkerClient(pool, o, logger, func(workers *river.Workers) {
		river.AddWorker(workers, noopWorker{})
		river.AddWorker(workers, &diamondStepWorker{pool: pool}) // the river-dag mode's
	})
	if err != nil {
		return err
	}
	return serveWorker(ctx, client.Start, client.Stop)
}

// newRiverWorkerClient is a River client on pool working the workers add
// registers: one queue with MaxWorkers = -workers and the fetch timings of
// the flags.
func newRiverWorkerClient(pool *pgxpool.Pool, o *options, logger *slog.Logger, add func(*river.Workers)) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	add(workers)
	return river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{
		Logger:  logger,
		Workers: workers,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {
			MaxWorkers:        o.workers,
			FetchCooldown:     o.riverCool,
			FetchPollInterval: o.riverPoll,
		}},
	})
}
