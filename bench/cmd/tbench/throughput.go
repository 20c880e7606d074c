package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasker-go/tasker"
)

// throughputTimeout bounds one throughput measurement.
const throughputTimeout = 5 * time.Minute

// measureTaskerThroughput: a backlog of o.tasks diamond tasks drained by
// procs Tasker worker processes.
func measureTaskerThroughput(ctx context.Context, o *options, db *benchDB, procs, rep int, res *results) error {
	c, closeFn, err := newTaskerClient(ctx, db.url, o, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	created := time.Now()
	err = parallel(o.tasks, 4, func(i int) error {
		_, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: tmplDiamond, Context: map[string]int{"n": i}})
		return err
	})
	closeFn()
	if err != nil {
		return fmt.Errorf("create backlog: %w", err)
	}
	fmt.Printf("rep %d  (backlog: %d diamond tasks created in %v)\n", rep, o.tasks, time.Since(created).Round(time.Millisecond))
	elapsed, err := drain(ctx, o, db, "tasker", procs, o.tasks, taskerFinish)
	if err != nil {
		return err
	}
	steps := float64(4 * o.tasks)
	fmt.Printf("rep %d  %-34s %d steps in %v: %.0f steps/s\n", rep, taskerMetric(procs), 4*o.tasks, elapsed.Round(time.Millisecond), steps/elapsed.Seconds())
	res.add(taskerMetric(procs), "steps/s", steps/elapsed.Seconds())
	return nil
}

// parallel runs fn(0..n-1) on the given number of goroutines and returns the
// first error.
func parallel(n, goroutines int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// workerProc is a running worker subprocess.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startWorkers starts procs worker subprocesses of kind ("tasker" or
// "river") and waits until each has printed "ready".
func startWorkers(ctx context.Context, o *options, db *benchDB, kind string, procs int) ([]*workerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var ws []*workerProc
	for range procs {
		cmd := exec.CommandContext(ctx, self, "-worker", kind, "-worker-db", db.url,
			"-workers", strconv.Itoa(o.workers), "-async-commit="+strconv.FormatBool(o.asyncCommit), "-passes", strconv.Itoa(o.passes),
			"-river-fetch-cooldown", o.riverCool.String(), "-river-fetch-poll", o.riverPoll.String())
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return ws, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return ws, err
		}
		if err := cmd.Start(); err != nil {
			return ws, err
		}
		ws = append(ws, &workerProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)})
	}
	for _, w := range ws {
		line, err := w.out.ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			return ws, fmt.Errorf("worker process %d did not start: %q: %w", w.cmd.Process.Pid, line, err)
		}
	}
	return ws, nil
}

// stopWorkers closes the workers' stdin (they stop gracefully) and waits
// for them.
func stopWorkers(ws []*workerProc) error {
	var errs []error
	for _, w := range ws {
		_ = w.stdin.Close()
	}
	for _, w := range ws {
		_, _ = io.Copy(io.Discard, w.out)
		if err := w.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("worker process %d: %w", w.cmd.Process.Pid, err))
		}
	}
	return errors.Join(errs...)
}

// drain starts procs worker processes of kind, lets them go at once, and
// polls until want items are finished (pollUntil). It returns the time from
// the start signal to the poll that saw the last item finished.
func drain(ctx context.Context, o *options, db *benchDB, kind string, procs, want int, q finishQueries) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, throughputTimeout)
	defer cancel()
	ws, err := startWorkers(ctx, o, db, kind, procs)
	if err != nil {
		return 0, errors.Join(err, stopWorkers(ws))
	}
	start := time.Now()
	for _, w := range ws {
		if _, err := io.WriteString(w.stdin, "go\n"); err != nil {
			return 0, errors.Join(err, stopWorkers(ws))
		}
	}
	elapsed, err := pollUntil(ctx, db, o.pollEvery, want, q, start)
	return elapsed, errors.Join(err, stopWorkers(ws))
}
