package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Remote serves the steps of remote queues to workers outside the process
// (over the REST API). It shares the Worker's recording code, so a remote
// attempt is claimed, leased, failed, retried, rescued and finalized exactly
// like an in-process one; only the handler runs elsewhere. It keeps no state
// between calls: any number of API servers may serve the same queues.
type Remote struct {
	cfg  RemoteConfig
	exec taskerdriver.Executor
	rec  *recorder.Recorder
}

// RemoteConfig configures a Remote. Zero values mean the documented
// defaults.
type RemoteConfig struct {
	Driver taskerdriver.Driver
	// Recorder writes claims and results (required).
	Recorder *recorder.Recorder
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// PollInterval is the longest a long poll waits without a notification
	// before it looks again. Defaults to 1s.
	PollInterval time.Duration
	// Publish receives the events of a transaction after it commits.
	// Defaults to dropping them.
	Publish func([]*taskertype.Event)
}

// NewRemote returns a Remote.
func NewRemote(cfg RemoteConfig) *Remote {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, time.Second)
	if cfg.Publish == nil {
		cfg.Publish = func([]*taskertype.Event) {}
	}
	return &Remote{cfg: cfg, exec: cfg.Driver.Executor(), rec: cfg.Recorder}
}

// RemoteClaim asks for steps of remote queues.
type RemoteClaim struct {
	// WorkerID names the remote worker; it holds the leases.
	WorkerID string
	// Queues are the queues to take steps from (at least one).
	Queues []string
	// Limit is the most steps to return (at least 1).
	Limit int
	// Lease is how long the worker holds a step without a heartbeat.
	Lease time.Duration
	// Wait is how long to wait for a step when none is ready (long polling);
	// zero returns at once.
	Wait time.Duration
}

// Errors of remote results.
var (
	// ErrNotRemote is returned when a remote worker reports on a step that
	// is not in a remote queue.
	ErrNotRemote = errors.New("step is not in a remote queue")
)

// LeaseLostError explains why a remote worker's report on a step was
// rejected: the worker no longer holds the attempt it reports on.
type LeaseLostError struct {
	StepID   int64
	WorkerID string
	Attempt  int
	// Step is the step as it is now.
	Step *taskertype.Step
}

func (e *LeaseLostError) Error() string {
	s := e.Step
	var why string
	switch {
	case s.State == taskertype.StateInProgress && s.Attempts != e.Attempt:
		why = fmt.Sprintf("attempt %d is now running on worker %s", s.Attempts, s.LeaseOwner)
	case s.State == taskertype.StateInProgress:
		why = fmt.Sprintf("attempt %d is leased by worker %s", s.Attempts, s.LeaseOwner)
	case s.LastError != nil && s.LastError.Kind == "worker_lost" && s.LastError.Attempt == e.Attempt:
		why = fmt.Sprintf("the lease expired and attempt %d was failed as worker_lost; the step is %s now", e.Attempt, s.State)
	case s.State == taskertype.StateCancelled:
		why = "the step is cancelled now"
	case s.Attempts == e.Attempt:
		why = fmt.Sprintf("attempt %d was already recorded; the step is %s now", e.Attempt, s.State)
	default:
		why = fmt.Sprintf("the step is %s now, after attempt %d", s.State, s.Attempts)
	}
	return fmt.Sprintf("step %d attempt %d is no longer held by worker %s: %s; the result was not recorded", e.StepID, e.Attempt, e.WorkerID, why)
}

// Unwrap makes the error match taskerdriver.ErrLeaseLost.
func (e *LeaseLostError) Unwrap() error { return taskerdriver.ErrLeaseLost }

// Claim leases up to p.Limit ready steps of p.Queues to p.WorkerID. With
// p.Wait it waits, woken by new ready steps, until a step is claimed, the
// wait ends or ctx is done; it then returns what it claimed (possibly
// nothing, without error).
func (r *Remote) Claim(ctx context.Context, p RemoteClaim) ([]*taskerdriver.ClaimedStep, error) {
	ready, unsub := r.cfg.Driver.Listener().Subscribe(taskerdriver.TopicStepsReady)
	defer unsub()
	deadline := time.Now().Add(p.Wait)
	for first := true; ; first = false {
		if first {
			claims, err := r.claimOnce(ctx, p)
			if err != nil || len(claims) > 0 {
				return claims, err
			}
		}
		now := r.cfg.Now()
		next, err := r.exec.StepNextWake(ctx, &taskerdriver.StepNextWakeParams{Now: now, Queues: p.Queues})
		if err != nil {
			return nil, err
		}
		// After a wake-up, claim (a write transaction) only when a step of
		// these queues is due: notifications are for every queue.
		if !first && !next.IsZero() && !next.After(now) {
			claims, err := r.claimOnce(ctx, p)
			if err != nil || len(claims) > 0 {
				return claims, err
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		wait := min(left, r.cfg.PollInterval)
		if next.After(now) {
			wait = min(wait, next.Sub(now))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ready:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, nil // the caller went away or the wait was cut short: nothing claimed
		}
		timer.Stop()
	}
}

// claimOnce claims in one transaction, with the claim's events.
func (r *Remote) claimOnce(ctx context.Context, p RemoteClaim) ([]*taskerdriver.ClaimedStep, error) {
	now := r.cfg.Now()
	var claims []*taskerdriver.ClaimedStep
	var b recorder.Batch
	err := recorder.InTx(ctx, r.exec, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		var err error
		claims, err = r.rec.Claim(ctx, tx, &taskerdriver.StepClaimParams{
			Now: now, Limit: p.Limit, Owner: p.WorkerID, LeaseExpiresAt: now.Add(p.Lease), Queues: p.Queues,
		}, &b)
		if err != nil {
			return err
		}
		return r.rec.WriteOutbox(ctx, tx, &b)
	})
	if err != nil {
		return nil, err
	}
	r.cfg.Publish(b.Events)
	return claims, nil
}

// Heartbeat extends the leases workerID holds on stepIDs by lease and
// returns the ids it extended; a step missing from the answer is lost to
// the worker (rescued, cancelled or finished) and its work should stop.
func (r *Remote) Heartbeat(ctx context.Context, workerID string, stepIDs []int64, lease time.Duration) ([]int64, error) {
	now := r.cfg.Now()
	kept, err := r.exec.StepHeartbeat(ctx, &taskerdriver.StepHeartbeatParams{
		Owner: workerID, IDs: stepIDs, LeaseExpiresAt: now.Add(lease), Now: now,
	})
	if kept == nil && err == nil {
		kept = []int64{}
	}
	return kept, err
}

// Finish records the outcome of attempt of stepID that workerID ran, with
// its effects (children made ready, retry scheduled or step blocked, task
// finalized) and the annotations of the step's task the worker recorded
// (their TaskID and Now are set here) in one transaction, as the
// in-process worker does. A worker that no longer holds the attempt gets a
// *LeaseLostError and nothing is written; an annotation the database
// refuses is an *AnnotationError, and nothing is written either.
func (r *Remote) Finish(ctx context.Context, workerID string, stepID int64, attempt int, res Result, annotations []*taskerdriver.AnnotationInsertParams) (*taskertype.Step, error) {
	now := r.cfg.Now()
	var b recorder.Batch
	var step *taskertype.Step
	err := recorder.InTx(ctx, r.exec, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		s, err := heldStep(ctx, tx, workerID, stepID, attempt)
		if err != nil {
			return err
		}
		task, err := tx.TaskGet(ctx, s.TaskID)
		if err != nil {
			return err
		}
		for _, ev := range res.Events { // custom events the worker published
			ev.Task, ev.Step, ev.Attempt, ev.At = task, s, attempt, now
		}
		rec, err := r.rec.Record(ctx, tx, now, []recorder.Attempt{{Step: s, Task: task, Owner: workerID, Started: s.LastAttemptedAt, Ended: now, Result: res}}, &b)
		if err != nil {
			return err
		}
		if rec[0].Lost {
			// The guard failed between the read and the write (a rescue in
			// another transaction): report the step as it is now.
			cur, err := tx.StepGet(ctx, stepID)
			if err != nil {
				return err
			}
			return &LeaseLostError{StepID: stepID, WorkerID: workerID, Attempt: attempt, Step: cur}
		}
		step = rec[0].Step
		for i, a := range annotations {
			p := *a
			p.TaskID, p.Now = task.ID, now
			if _, err := tx.AnnotationInsert(ctx, &p); err != nil {
				return &AnnotationError{Index: i, Err: err}
			}
		}
		return r.rec.WriteOutbox(ctx, tx, &b)
	})
	if err != nil {
		return nil, err
	}
	r.cfg.Publish(b.Events)
	return step, nil
}

// AnnotationError is the failure of the annotation at Index of a remote
// result (Remote.Finish).
type AnnotationError struct {
	Index int
	Err   error
}

func (e *AnnotationError) Error() string { return fmt.Sprintf("annotation %d: %v", e.Index, e.Err) }

// Unwrap returns the driver's error.
func (e *AnnotationError) Unwrap() error { return e.Err }

// Release gives back attempt of stepID that workerID holds without a
// result (the worker is shutting down): the step is pending again and the
// attempt is not counted, as when an in-process worker stops. A worker that
// no longer holds the attempt gets a *LeaseLostError.
func (r *Remote) Release(ctx context.Context, workerID string, stepID int64, attempt int) (*taskertype.Step, error) {
	now := r.cfg.Now()
	var step *taskertype.Step
	var b recorder.Batch
	err := recorder.InTx(ctx, r.exec, func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		if _, err := heldStep(ctx, tx, workerID, stepID, attempt); err != nil {
			return err
		}
		moved, err := r.rec.Release(ctx, tx, workerID, []int64{stepID}, map[string]any{"worker": workerID, "attempt": attempt}, now, &b)
		if err != nil {
			return err
		}
		if len(moved) != 1 {
			cur, err := tx.StepGet(ctx, stepID)
			if err != nil {
				return err
			}
			return &LeaseLostError{StepID: stepID, WorkerID: workerID, Attempt: attempt, Step: cur}
		}
		step = moved[0]
		if err := r.rec.WriteOutbox(ctx, tx, &b); err != nil {
			return err
		}
		return tx.Notify(ctx, taskerdriver.TopicStepsReady)
	})
	if err != nil {
		return nil, err
	}
	r.cfg.Publish(b.Events)
	return step, nil
}

// heldStep reads a remote step and checks that workerID holds attempt of
// it: ErrNotRemote for an in-process step, *LeaseLostError (saying why)
// otherwise. The drivers' lease guard still decides at the write.
func heldStep(ctx context.Context, tx taskerdriver.Executor, workerID string, stepID int64, attempt int) (*taskertype.Step, error) {
	s, err := tx.StepGet(ctx, stepID)
	if err != nil {
		return nil, err
	}
	if s.Queue == "" {
		return nil, fmt.Errorf("step %d (%s): %w: it is run by in-process workers", stepID, s.Name, ErrNotRemote)
	}
	if s.State != taskertype.StateInProgress || s.LeaseOwner != workerID || s.Attempts != attempt {
		return nil, &LeaseLostError{StepID: stepID, WorkerID: workerID, Attempt: attempt, Step: s}
	}
	return s, nil
}
