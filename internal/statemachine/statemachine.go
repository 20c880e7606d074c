package statemachine

import (
	"errors"
	"strconv"

	"github.com/tasker-go/tasker/taskertype"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalidTransition is wrapped by every *TransitionError for a move
	// the machine does not allow and by every *GuardError.
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrSameState is wrapped by a *TransitionError for a move to the
	// current state; callers usually treat it as a no-op.
	ErrSameState = errors.New("already in the target state")
)

// Entity names used in errors.
const (
	EntityTask = "task"
	EntityStep = "step"
)

// TransitionError reports a move that the machine rejects.
type TransitionError struct {
	// Entity is "task" or "step".
	Entity string
	// From is the current state.
	From taskertype.State
	// To is the requested state.
	To taskertype.State
}

// Error implements error.
func (e *TransitionError) Error() string {
	if e.From == e.To {
		return e.Entity + " is already " + strconv.Quote(string(e.To))
	}
	return e.Entity + " cannot move from " + strconv.Quote(string(e.From)) + " to " + strconv.Quote(string(e.To))
}

// Unwrap returns ErrSameState when From == To and ErrInvalidTransition
// otherwise.
func (e *TransitionError) Unwrap() error {
	if e.From == e.To {
		return ErrSameState
	}
	return ErrInvalidTransition
}

// GuardError reports a legal move whose guard does not hold (spec §4): a
// task may complete only when all its steps are done, a step may start only
// when all its parents are done.
type GuardError struct {
	// Entity is "task" or "step".
	Entity string
	// From is the current state.
	From taskertype.State
	// To is the requested state.
	To taskertype.State
	// Reason says which condition failed.
	Reason string
}

// Error implements error.
func (e *GuardError) Error() string {
	return e.Entity + " cannot move from " + strconv.Quote(string(e.From)) + " to " +
		strconv.Quote(string(e.To)) + ": " + e.Reason
}

// Unwrap returns ErrInvalidTransition.
func (e *GuardError) Unwrap() error { return ErrInvalidTransition }

// The guard reasons.
const (
	reasonStepsNotDone   = "not every step is complete or resolved_manually"
	reasonParentsNotDone = "not every parent step is complete or resolved_manually"
)

// table maps a from-state to its allowed targets, in taskertype.States order.
type table map[taskertype.State][]taskertype.State

var (
	taskMoves = table{
		taskertype.StatePending:    {taskertype.StateInProgress, taskertype.StateError, taskertype.StateCancelled},
		taskertype.StateInProgress: {taskertype.StatePending, taskertype.StateComplete, taskertype.StateError, taskertype.StateCancelled},
		taskertype.StateError:      {taskertype.StatePending, taskertype.StateCancelled, taskertype.StateResolvedManually},
		// complete, cancelled and resolved_manually are terminal. Spec §4
		// allows complete and resolved_manually -> cancelled; we do not.
	}
	stepMoves = table{
		taskertype.StatePending: {taskertype.StateInProgress, taskertype.StateError, taskertype.StateCancelled, taskertype.StateResolvedManually},
		// in_progress -> pending: a graceful-shutdown release returns a
		// claimed step to the queue without counting an attempt.
		taskertype.StateInProgress: {taskertype.StatePending, taskertype.StateComplete, taskertype.StateError, taskertype.StateCancelled},
		taskertype.StateError:      {taskertype.StatePending, taskertype.StateCancelled, taskertype.StateResolvedManually},
		// complete, cancelled and resolved_manually are terminal.
	}
)

func (t table) check(entity string, from, to taskertype.State) error {
	if from == to {
		return &TransitionError{Entity: entity, From: from, To: to}
	}
	for _, s := range t[from] {
		if s == to {
			return nil
		}
	}
	return &TransitionError{Entity: entity, From: from, To: to}
}

func (t table) targets(from taskertype.State) []taskertype.State {
	return append([]taskertype.State{}, t[from]...)
}

// Task reports whether a task may move from one state to another: nil if
// it may, otherwise a *TransitionError wrapping ErrSameState (from == to)
// or ErrInvalidTransition. Unknown states are invalid. Task does not apply
// the completion guard; see TaskGuarded.
func Task(from, to taskertype.State) error { return taskMoves.check(EntityTask, from, to) }

// Step reports whether a step may move from one state to another: nil if
// it may, otherwise a *TransitionError wrapping ErrSameState (from == to)
// or ErrInvalidTransition. Unknown states are invalid. Step does not apply
// the dependency guard; see StepGuarded.
func Step(from, to taskertype.State) error { return stepMoves.check(EntityStep, from, to) }

// TaskGuarded is Task plus the guard of spec §4: a task may move to
// complete only when allStepsDone (every step is complete or
// resolved_manually). A failed guard is a *GuardError wrapping
// ErrInvalidTransition.
func TaskGuarded(from, to taskertype.State, allStepsDone bool) error {
	return guarded(Task(from, to), EntityTask, from, to, to == taskertype.StateComplete && !allStepsDone, reasonStepsNotDone)
}

// StepGuarded is Step plus the guard of spec §4: a step may move to
// in_progress only when parentsDone (every parent is complete or
// resolved_manually). Unlike the original engine, a guard that cannot be
// evaluated is not treated as satisfied: the caller must supply the fact.
// A failed guard is a *GuardError wrapping ErrInvalidTransition.
func StepGuarded(from, to taskertype.State, parentsDone bool) error {
	return guarded(Step(from, to), EntityStep, from, to, to == taskertype.StateInProgress && !parentsDone, reasonParentsNotDone)
}

// guarded returns moveErr, the verdict on the move itself, or else a
// *GuardError with reason when the guard failed.
func guarded(moveErr error, entity string, from, to taskertype.State, guardFailed bool, reason string) error {
	if moveErr != nil {
		return moveErr
	}
	if guardFailed {
		return &GuardError{Entity: entity, From: from, To: to, Reason: reason}
	}
	return nil
}

// TaskTargets returns the states a task may move to from from, in the
// order of taskertype.States; empty (never nil) for terminal or unknown
// states.
func TaskTargets(from taskertype.State) []taskertype.State { return taskMoves.targets(from) }

// StepTargets returns the states a step may move to from from, in the
// order of taskertype.States; empty (never nil) for terminal or unknown
// states.
func StepTargets(from taskertype.State) []taskertype.State { return stepMoves.targets(from) }
