package main

// The task and handlers commands with --server: they call the REST API
// through apiClient and print what the local commands print.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

func (a *app) apiClient() (*apiClient, error) {
	c, err := newAPIClient(a.s.server)
	if err != nil {
		return nil, err
	}
	c.token = a.s.token
	return c, nil
}

// callServer makes one call to the server given by --server; an error the
// server answers is mapped to the exit codes (exitErr).
func callServer[T any](a *app, call func(r *apiClient) (T, error)) (T, error) {
	var zero T
	r, err := a.apiClient()
	if err != nil {
		return zero, err
	}
	v, err := call(r)
	if err != nil {
		return zero, exitErr(err)
	}
	return v, nil
}

// remoteOrLocal gets a value through the server given by --server with
// remote (callServer), or else from the database with local, given a client
// on it (withClient).
func remoteOrLocal[T any](ctx context.Context, a *app, remote func(r *apiClient) (T, error), local func(c *tasker.Client) (T, error)) (T, error) {
	if a.s.server != "" {
		return callServer(a, remote)
	}
	var v T
	err := a.withClient(ctx, func(c *tasker.Client) error {
		var err error
		v, err = local(c)
		return err
	})
	return v, err
}

func (a *app) remoteCreate(ctx context.Context, req *tasker.TaskRequest, raw json.RawMessage, wait bool, output string, timeout time.Duration) error {
	r, err := a.apiClient()
	if err != nil {
		return err
	}
	t, dup, err := r.createTask(ctx, &createRequest{Name: req.Name, Namespace: req.Namespace, Version: req.Version, Context: raw,
		Initiator: req.Initiator, SourceSystem: req.SourceSystem, Reason: req.Reason, Tags: req.Tags})
	if err != nil {
		return exitErr(err)
	}
	if !wait {
		if output == "json" {
			return a.printJSON(&t.Task)
		}
		if dup {
			fmt.Fprintf(a.out, "existing task %d (%s, same identity), status %s\n", t.ID, t.FullName(), t.State)
			return nil
		}
		fmt.Fprintf(a.out, "created task %d (%s), status %s\n", t.ID, t.FullName(), t.State)
		return nil
	}
	if output != "json" {
		if dup {
			fmt.Fprintf(a.out, "existing task %d (%s, same identity), status %s; waiting for %s to run it\n", t.ID, t.FullName(), t.State, r.base)
		} else {
			fmt.Fprintf(a.out, "created task %d (%s); waiting for %s to run it\n", t.ID, t.FullName(), r.base)
		}
	}
	return a.remoteWatch(ctx, r, t.ID, output, timeout)
}

func (a *app) remoteGet(ctx context.Context, id int64, output string) error {
	t, err := callServer(a, func(r *apiClient) (*apiTask, error) { return r.getTask(ctx, id) })
	if err != nil {
		return err
	}
	notes := t.Annotations
	if notes == nil {
		notes = []*tasker.TaskAnnotation{} // a server without annotations
	}
	for _, n := range notes {
		n.TaskID = t.ID
	}
	if output == "json" {
		return a.printJSON(map[string]any{"task": &t.Task, "steps": nonNilSteps(t.Steps), "task_annotations": notes})
	}
	a.printSummary(&t.Task, t.Steps, remoteTook(t, time.Now()))
	a.printAnnotations(notes)
	return nil
}

func nonNilSteps(s []*tasker.Step) []*tasker.Step {
	if s == nil {
		return []*tasker.Step{}
	}
	return s
}

func (a *app) remoteList(ctx context.Context, p *tasker.TaskListParams, output string) error {
	page, err := callServer(a, func(r *apiClient) (*taskPage, error) { return r.listTasks(ctx, p) })
	if err != nil {
		return err
	}
	tasks := make([]*tasker.Task, len(page.Tasks))
	for i, t := range page.Tasks {
		tasks[i] = &t.Task
	}
	if output == "json" {
		return a.printJSON(map[string]any{"tasks": tasks, "total": page.Pagination.Total, "limit": page.Pagination.Limit, "offset": page.Pagination.Offset})
	}
	a.printTaskTable(tasks, page.Pagination.Total)
	return nil
}

func (a *app) remoteCancel(ctx context.Context, id int64, reason string) error {
	t, err := callServer(a, func(r *apiClient) (*apiTask, error) { return r.cancelTask(ctx, id, reason) })
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "task %d %s\n", t.ID, t.State)
	return nil
}

func (a *app) remoteRetry(ctx context.Context, id int64, wait bool) error {
	r, err := a.apiClient()
	if err != nil {
		return err
	}
	t, err := r.retryTask(ctx, id)
	if err != nil {
		return exitErr(err)
	}
	if !wait {
		fmt.Fprintf(a.out, "task %d is %s again; a worker will run its failed steps\n", t.ID, t.State)
		return nil
	}
	fmt.Fprintf(a.out, "task %d (%s) is %s again; waiting for %s to run it\n", t.ID, t.FullName(), t.State, r.base)
	return a.remoteWatch(ctx, r, t.ID, "text", 0)
}

// stepSeen is what --wait last saw of a step.
type stepSeen struct {
	state    taskertype.State
	attempts int
}

// remoteWatch polls the task until it is final, printing every step change
// it sees (the server runs the steps; a change between two polls that
// undoes itself is not seen), then the summary as the local --wait does.
// The exit status is 0 for complete, 2 otherwise.
func (a *app) remoteWatch(ctx context.Context, r *apiClient, id int64, output string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	seen := map[int64]stepSeen{}
	var t *apiTask
	for first := true; ; first = false {
		cur, err := r.getTask(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("task %d did not finish: %w", id, ctx.Err())
			}
			return exitErr(err)
		}
		t = cur
		if output != "json" {
			for _, s := range t.Steps {
				prev, ok := seen[s.ID]
				if !ok {
					prev = stepSeen{state: taskertype.StatePending}
				}
				a.printStepChange(s, prev, first, start)
			}
		}
		for _, s := range t.Steps {
			seen[s.ID] = stepSeen{state: s.State, attempts: s.Attempts}
		}
		if t.State.Final() {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("task %d did not finish: %w (it is %s on the server)", id, ctx.Err(), t.State)
		case <-time.After(remotePollInterval):
		}
	}
	if output == "json" {
		if err := a.printJSON(map[string]any{"task": &t.Task, "steps": nonNilSteps(t.Steps)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.out, "%8s  task %s\n", time.Since(start).Round(time.Millisecond), t.State)
		a.printSummary(&t.Task, t.Steps, remoteTook(t, time.Now()))
	}
	if t.State != taskertype.StateComplete {
		return &exitError{code: 2, err: fmt.Errorf("task %d ended %s", id, t.State)}
	}
	return nil
}

// printStepChange prints a step's change since prev in the format of the
// local --wait's progress lines. On the first poll, steps that already
// finished before the watch began are listed too.
func (a *app) printStepChange(s *tasker.Step, prev stepSeen, first bool, start time.Time) {
	at := time.Since(start).Round(time.Millisecond)
	if s.State == prev.state && s.Attempts == prev.attempts && !first {
		return
	}
	if first && s.State == taskertype.StatePending && s.Attempts == 0 {
		return
	}
	attempt := max(s.Attempts, 1)
	switch s.State {
	case taskertype.StateInProgress:
		if prev.state != taskertype.StateInProgress || s.Attempts != prev.attempts {
			if s.Attempts > prev.attempts+1 || (prev.state == taskertype.StateInProgress && s.Attempts > prev.attempts) {
				a.printFailed(at, s, s.Attempts-1, "retried")
			}
			fmt.Fprintf(a.out, "%8s  ▶ %-28s started (attempt %d/%d)\n", at, s.Name, attempt, s.RetryLimit)
		}
	case taskertype.StateComplete:
		took := ""
		if !s.ProcessedAt.IsZero() && !s.LastAttemptedAt.IsZero() && !s.ProcessedAt.Before(s.LastAttemptedAt) {
			took = " in " + s.ProcessedAt.Sub(s.LastAttemptedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(a.out, "%8s  ✓ %-28s complete%s\n", at, s.Name, took)
	case taskertype.StateError:
		next := "no retry"
		if !s.Blocked && !s.NextAttemptAt.IsZero() {
			next = "retry in " + time.Until(s.NextAttemptAt).Round(100*time.Millisecond).String()
		}
		a.printFailed(at, s, attempt, next)
	case taskertype.StatePending:
		if s.Attempts > 0 && s.Attempts >= prev.attempts {
			// Back to pending after an attempt: it failed and waits for
			// its retry.
			next := "retry"
			if !s.NextAttemptAt.IsZero() {
				next = "retry in " + max(time.Until(s.NextAttemptAt), 0).Round(100*time.Millisecond).String()
			}
			a.printFailed(at, s, s.Attempts, next)
		} else if s.Attempts < prev.attempts {
			fmt.Fprintf(a.out, "%8s  ↺ %-28s pending again (attempts reset)\n", at, s.Name)
		}
	default: // cancelled, resolved_manually
		fmt.Fprintf(a.out, "%8s  • %-28s %s\n", at, s.Name, s.State)
	}
}

func (a *app) printFailed(at time.Duration, s *tasker.Step, attempt int, next string) {
	msg := ""
	if s.LastError != nil && s.LastError.Message != "" {
		msg = ": " + firstLine(s.LastError.Message)
	}
	fmt.Fprintf(a.out, "%8s  ✗ %-28s failed (attempt %d/%d, %s)%s\n", at, s.Name, attempt, s.RetryLimit, next, msg)
}
