package dag

import (
	"fmt"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// DefaultRetryLimit is the retry limit (maximum total attempts) assumed
// when StepStatus.RetryLimit is zero or negative, as in the original engine.
const DefaultRetryLimit = 3

// StepStatus is the scheduling state of one step, as Ready and Outcome see
// it. The zero value is a pending step with no attempts, retry limit
// DefaultRetryLimit and Retryable false.
type StepStatus struct {
	// State is the step's current state. An empty State counts as pending.
	State taskertype.State
	// Attempts is the number of attempts made so far.
	Attempts int
	// RetryLimit is the maximum number of total attempts; zero or negative
	// means DefaultRetryLimit (3).
	RetryLimit int
	// Retryable allows attempts after a failure. The first attempt is
	// always allowed, whatever its value (spec §17.2): Retryable matters
	// only to a step in state error. Templates default it to true; the Go
	// zero value here is false.
	Retryable bool
	// Permanent is set when the last failure was permanent (the handler
	// returned a permanent error): the step may not be retried.
	Permanent bool
	// NextAttemptAt is the earliest time of the next attempt (the end of
	// the backoff); the zero time means no wait.
	NextAttemptAt time.Time
}

// Blocked reports whether a step can never run again by itself: it is in
// state error and has exhausted its attempts (Attempts >= RetryLimit), is
// not retryable, or failed permanently. Only an operator (retry or manual
// resolution) can unblock it. A step in any other state is never blocked;
// in particular a pending step that has not run yet is not blocked even if
// Retryable is false.
func Blocked(s StepStatus) bool {
	if s.State != taskertype.StateError {
		return false
	}
	limit := s.RetryLimit
	if limit <= 0 {
		limit = DefaultRetryLimit
	}
	return s.Attempts >= limit || !s.Retryable || s.Permanent
}

// runnableState reports whether a step's own state lets it start: pending
// (or empty), or error and not blocked. Cancelled, in-progress and finished
// steps never start.
func runnableState(s *StepStatus) bool {
	switch s.State {
	case taskertype.StatePending, "":
		return true
	case taskertype.StateError:
		return !Blocked(*s)
	}
	return false
}

// parentsDone reports whether every parent of step i is complete or
// resolved_manually.
func (g *Graph) parentsDone(steps []StepStatus, i int) bool {
	for _, p := range g.Parents(i) {
		if st := steps[p].State; st != taskertype.StateComplete && st != taskertype.StateResolvedManually {
			return false
		}
	}
	return true
}

func (g *Graph) checkLen(steps []StepStatus) {
	if len(steps) != len(g.names) {
		panic(fmt.Sprintf("dag: got %d step statuses for a graph of %d steps", len(steps), len(g.names)))
	}
}

// Ready appends to dst, in declaration order, the indices of the steps
// that may start at time now, and returns the extended slice. steps[i] is
// the status of step i; it panics unless len(steps) == Len().
//
// A step is ready when all of these hold (ARCHITECTURE §1 "Readiness"):
//   - it is pending, or in error and not Blocked (so the first attempt is
//     always allowed, even when Retryable is false);
//   - every parent is complete or resolved_manually;
//   - NextAttemptAt is zero or not after now.
//
// Cancelled, in-progress, complete and resolved_manually steps are never
// ready. Whether the task itself is cancelled is the caller's concern.
func (g *Graph) Ready(steps []StepStatus, now time.Time, dst []int) []int {
	g.checkLen(steps)
	for i := range steps {
		s := &steps[i]
		if !runnableState(s) {
			continue
		}
		if !s.NextAttemptAt.IsZero() && s.NextAttemptAt.After(now) {
			continue
		}
		if g.parentsDone(steps, i) {
			dst = append(dst, i)
		}
	}
	return dst
}

// Outcome is what the task-outcome rule decides for a task.
type Outcome int

// The outcomes of the task-outcome rule.
const (
	// OutcomeRunning means the task is not finished: some step is running,
	// ready or waiting for its backoff, or (with cancelled steps) nothing
	// decides otherwise.
	OutcomeRunning Outcome = iota
	// OutcomeComplete means every step is complete or resolved_manually.
	OutcomeComplete
	// OutcomeError means some step is blocked and nothing else can
	// progress.
	OutcomeError
)

// String returns "running", "complete" or "error".
func (o Outcome) String() string {
	switch o {
	case OutcomeRunning:
		return "running"
	case OutcomeComplete:
		return "complete"
	case OutcomeError:
		return "error"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Outcome applies the task-outcome rule of ARCHITECTURE §1 to the step
// statuses; steps[i] is the status of step i and it panics unless
// len(steps) == Len(). The first match wins:
//  1. some step could run now or after its backoff (pending, or error and
//     not Blocked, with every parent done), or some step is in_progress:
//     OutcomeRunning — independent branches keep running while another
//     branch is blocked;
//  2. every step is complete or resolved_manually: OutcomeComplete (a graph
//     without steps is complete, unlike the original engine, whose
//     zero-step tasks wait forever);
//  3. some step is Blocked: OutcomeError;
//  4. otherwise OutcomeRunning (for example when steps were cancelled:
//     finishing a cancelled task is the cancellation's job).
//
// Backoff time is ignored (now is accepted for symmetry with Ready and is
// unused): a step waiting for its backoff can still progress.
func (g *Graph) Outcome(steps []StepStatus, now time.Time) Outcome {
	_ = now
	g.checkLen(steps)
	allDone, blocked := true, false
	for i := range steps {
		s := &steps[i]
		switch s.State {
		case taskertype.StateComplete, taskertype.StateResolvedManually:
			continue
		case taskertype.StateInProgress:
			return OutcomeRunning
		}
		allDone = false
		if runnableState(s) {
			if g.parentsDone(steps, i) {
				return OutcomeRunning
			}
		} else if Blocked(*s) {
			blocked = true
		}
	}
	switch {
	case allDone:
		return OutcomeComplete
	case blocked:
		return OutcomeError
	}
	return OutcomeRunning
}
