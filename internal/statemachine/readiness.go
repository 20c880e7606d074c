package statemachine

import (
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// DefaultRetryLimit is the retry limit (maximum total attempts) of a step
// that does not set one, as in the original engine.
const DefaultRetryLimit = 3

// Failure is what the blocked rule needs to know of a failed attempt.
type Failure struct {
	// Attempts made so far, this one included.
	Attempts int
	// RetryLimit is the maximum number of attempts; zero or negative means
	// DefaultRetryLimit.
	RetryLimit int
	// Retryable allows attempts after a failure (the first attempt always
	// runs, spec §17.2).
	Retryable bool
	// Permanent: the handler said the failure is permanent.
	Permanent bool
}

// Exhausted reports whether the step has used its last attempt.
func (f Failure) Exhausted() bool {
	limit := f.RetryLimit
	if limit <= 0 {
		limit = DefaultRetryLimit
	}
	return f.Attempts >= limit
}

// Blocked is the blocked rule (ARCHITECTURE §1): a step in error may not be
// retried when it has exhausted its attempts, is not retryable, or failed
// permanently. Only an operator (task retry, manual resolution) unblocks it.
// Drivers store the verdict on the step (Step.Blocked).
func (f Failure) Blocked() bool { return f.Permanent || f.Exhausted() || !f.Retryable }

// The reasons a step is not ready (Readiness.Reason), as the original
// engine's step readiness status names them.
const (
	NotReadyInProgress   = "in_progress"
	NotReadyInvalidState = "invalid_state"
	NotReadyBlocked      = "retry_not_eligible"
	NotReadyDependencies = "dependencies_not_satisfied"
	NotReadyBackoff      = "waiting_for_backoff"
)

// Readiness is the verdict of the readiness rule on one step.
type Readiness struct {
	// Ready: the step may start now.
	Ready bool
	// Eligible: the step may (still) run: pending, or in error and not
	// blocked.
	Eligible bool
	// Reason is empty when ready, else one of the NotReady constants (the
	// first that applies, in the order of the rule).
	Reason string
	// Wait is how long until the backoff elapses when Reason is
	// NotReadyBackoff.
	Wait time.Duration
}

// StepReady is the readiness rule (ARCHITECTURE §1): a step may start when
// it is pending, or in error and not blocked; every parent is complete or
// resolved_manually (parentsDone); and its backoff (nextAttemptAt) has
// elapsed at now. The drivers implement the same rule in SQL over a
// materialized form (pending_parents, blocked, next_attempt_at); the
// conformance suite and the engine tests check that they agree.
func StepReady(state taskertype.State, blocked, parentsDone bool, nextAttemptAt, now time.Time) Readiness {
	r := Readiness{Eligible: !blocked && (state == taskertype.StatePending || state == taskertype.StateError)}
	switch {
	case state == taskertype.StateInProgress:
		r.Reason = NotReadyInProgress
	case state != taskertype.StatePending && state != taskertype.StateError:
		r.Reason = NotReadyInvalidState
	case !r.Eligible:
		r.Reason = NotReadyBlocked
	case !parentsDone:
		r.Reason = NotReadyDependencies
	case nextAttemptAt.After(now):
		r.Reason = NotReadyBackoff
		r.Wait = nextAttemptAt.Sub(now)
	default:
		r.Ready = true
	}
	return r
}
