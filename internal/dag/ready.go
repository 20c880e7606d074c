package dag

import (
	"cmp"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

// DefaultRetryLimit is the retry limit (maximum total attempts) assumed
// when StepStatus.RetryLimit is zero or negative, as in the original engine.
const DefaultRetryLimit = statemachine.DefaultRetryLimit

// StepStatus is the scheduling state of one step, as Ready sees
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
// state error and the blocked rule (statemachine.Failure.Blocked) holds.
// A step in any other state is never blocked; in particular a pending step
// that has not run yet is not blocked even if Retryable is false.
func Blocked(s StepStatus) bool {
	if s.State != taskertype.StateError {
		return false
	}
	return statemachine.Failure{Attempts: s.Attempts, RetryLimit: s.RetryLimit, Retryable: s.Retryable, Permanent: s.Permanent}.Blocked()
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
// It is the in-memory model of readiness: the rule itself is
// statemachine.StepReady, applied to each step with its parents' states.
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
		state := cmp.Or(s.State, taskertype.StatePending)
		if statemachine.StepReady(state, Blocked(*s), g.parentsDone(steps, i), s.NextAttemptAt, now).Ready {
			dst = append(dst, i)
		}
	}
	return dst
}
