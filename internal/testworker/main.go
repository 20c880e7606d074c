package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testworker/mixeddag"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testworker:", err)
		os.Exit(1)
	}
}

func durationEnv(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

type handler struct {
	pool   *pgxpool.Pool
	worker string
	sleep  time.Duration
	logger *slog.Logger
	// running counts handler calls, so that the process exits only after
	// each has recorded its end.
	running sync.WaitGroup
}

func (h *handler) Handle(ctx context.Context, s *tasker.StepContext) (any, error) {
	h.running.Add(1)
	defer h.running.Done()
	// The records must be written even when ctx is cancelled: a run that
	// started is always recorded, and so is its end.
	db := context.WithoutCancel(ctx)
	var runID int64
	if err := h.pool.QueryRow(db, `INSERT INTO testworker_runs (step_id, task_id, step_name, attempt, worker, started_at)
		VALUES ($1, $2, $3, $4, $5, clock_timestamp()) RETURNING id`,
		s.Step.ID, s.Task.ID, s.Step.Name, s.Attempt, h.worker).Scan(&runID); err != nil {
		return nil, fmt.Errorf("record run start: %w", err)
	}
	end := func(outcome string) error {
		_, err := h.pool.Exec(db, `UPDATE testworker_runs SET ended_at = clock_timestamp(), outcome = $2 WHERE id = $1`, runID, outcome)
		if err != nil {
			h.logger.Error("testworker: record run end", "run", runID, "error", err)
		}
		return err
	}
	timer := time.NewTimer(h.sleep)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		_ = end("cancelled")
		return nil, err
	}
	var in struct {
		FailC bool `json:"fail_c"`
	}
	if err := s.DecodeContext(&in); err != nil {
		_ = end("permanent")
		return nil, tasker.PermanentError(err)
	}
	switch {
	case s.Step.Name == "branch_c" && in.FailC:
		_ = end("permanent")
		return nil, tasker.PermanentError(errors.New("branch_c: the task asks for a permanent failure"))
	case (s.Step.Name == "branch_a" || s.Step.Name == "join") && s.Attempt == 1:
		_ = end("fail")
		return nil, fmt.Errorf("%s: fails on its first attempt", s.Step.Name)
	}
	if err := end("ok"); err != nil {
		return nil, err
	}
	return map[string]any{"step": s.Step.Name, "attempt": s.Attempt, "worker": h.worker}, nil
}

func run() error {
	id := flag.String("id", os.Getenv("TESTWORKER_ID"), "worker id")
	flag.Parse()
	if *id == "" {
		return errors.New("no worker id: give -id or TESTWORKER_ID")
	}
	url := os.Getenv("TASKER_DATABASE_URL")
	if url == "" {
		return errors.New("TASKER_DATABASE_URL is not set")
	}
	var sleep, drain, lease, rescue, poll time.Duration
	for _, d := range []struct {
		env  string
		def  time.Duration
		dest *time.Duration
	}{
		{"TESTWORKER_SLEEP", 100 * time.Millisecond, &sleep},
		{"TESTWORKER_DRAIN", 5 * time.Second, &drain},
		{"TESTWORKER_LEASE", 2 * time.Second, &lease},
		{"TESTWORKER_RESCUE", 500 * time.Millisecond, &rescue},
		{"TESTWORKER_POLL", 200 * time.Millisecond, &poll},
	} {
		v, err := durationEnv(d.env, d.def)
		if err != nil {
			return err
		}
		*d.dest = v
	}
	concurrency, passes := 8, 1
	for _, n := range []struct {
		env  string
		dest *int
	}{{"TESTWORKER_CONCURRENCY", &concurrency}, {"TESTWORKER_PASSES", &passes}} {
		if v := os.Getenv(n.env); v != "" {
			var err error
			if *n.dest, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("%s: %w", n.env, err)
			}
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", *id)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	drv, err := taskerpgx.Open(context.Background(), url)
	if err != nil {
		return err
	}
	defer func() { _ = drv.Close() }()
	h := &handler{pool: drv.Pool(), worker: *id, sleep: sleep, logger: logger}
	reg := tasker.NewRegistry()
	if err := reg.RegisterHandler(mixeddag.HandlerName, h, false); err != nil {
		return err
	}
	if err := reg.RegisterTemplate(mixeddag.Template(), tasker.RegisterOptions{}); err != nil {
		return err
	}
	client, err := tasker.NewClient(context.Background(), drv, &tasker.Config{
		Registry: reg, Logger: logger,
		Backoff: tasker.Backoff{Base: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Worker: tasker.WorkerConfig{
			ID: *id, Concurrency: concurrency, LeaseDuration: lease, RescueInterval: rescue, PollInterval: poll,
			Passes: passes,
		},
	})
	if err != nil {
		return err
	}
	// The worker's own context is not ctx: the signal must lead to Stop
	// with a drain timeout, not to an abrupt end of the loop.
	if err := client.Start(context.Background()); err != nil {
		return err
	}
	fmt.Printf("READY %s\n", *id)
	<-ctx.Done()
	logger.Info("testworker: stopping", "drain", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := client.Stop(sctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	h.running.Wait()
	fmt.Printf("STOPPED %s\n", *id)
	return nil
}
