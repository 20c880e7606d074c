package statemachine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	type c = statemachine.Counts
	tests := []struct {
		name  string
		state taskertype.State
		c     c
		want  statemachine.Decision
	}{
		{"all pending keeps running", taskertype.StatePending, c{Total: 3, Runnable: 1}, statemachine.Decision{}},
		{"in progress keeps running", taskertype.StateInProgress, c{Total: 3, Done: 1, InProgress: 1}, statemachine.Decision{}},
		{"all done completes", taskertype.StateInProgress, c{Total: 3, Done: 3},
			statemachine.Decision{To: taskertype.StateComplete, Reason: "all_steps_complete"}},
		{"a pending task that is done passes through in_progress", taskertype.StatePending, c{Total: 1, Done: 1},
			statemachine.Decision{Via: taskertype.StateInProgress, To: taskertype.StateComplete, Reason: "all_steps_complete"}},
		{"scenario 6: a blocked step and nothing else: error", taskertype.StateInProgress, c{Total: 3, Done: 1, Blocked: 1},
			statemachine.Decision{To: taskertype.StateError, Reason: "steps_in_error_state"}},
		{"an independent branch keeps the task running", taskertype.StateInProgress, c{Total: 4, Done: 1, Blocked: 1, Runnable: 1}, statemachine.Decision{}},
		{"a retryable step waiting for its backoff keeps it running", taskertype.StateInProgress, c{Total: 3, Done: 1, Runnable: 1}, statemachine.Decision{}},
		{"cancelled steps that leave nothing to run: error", taskertype.StateInProgress, c{Total: 3, Done: 1, Cancelled: 2},
			statemachine.Decision{To: taskertype.StateError, Reason: "steps_in_error_state"}},
		{"a resolution that finishes a task in error", taskertype.StateError, c{Total: 2, Done: 2},
			statemachine.Decision{To: taskertype.StateResolvedManually, Reason: "all_steps_done_after_manual_resolution"}},
		{"a resolution that lets a task in error progress", taskertype.StateError, c{Total: 2, Done: 1, Runnable: 1},
			statemachine.Decision{To: taskertype.StatePending, Reason: "steps_runnable_again"}},
		{"a finished task stays", taskertype.StateCancelled, c{Total: 2, Done: 2}, statemachine.Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, statemachine.Decide(tt.state, tt.c))
		})
	}
}

// Every decision, for every state and a spread of counts, is a chain of
// legal task moves.
func TestDecideMakesOnlyLegalMoves(t *testing.T) {
	t.Parallel()
	for _, state := range taskertype.States {
		for total := 0; total <= 2; total++ {
			for done := 0; done <= total; done++ {
				for rest := 0; rest < 16; rest++ {
					c := statemachine.Counts{Total: total, Done: done, InProgress: rest & 1, Runnable: rest >> 1 & 1, Blocked: rest >> 2 & 1, Cancelled: rest >> 3 & 1}
					for _, m := range statemachine.Decide(state, c).Moves(state) {
						require.NoError(t, statemachine.Task(m[0], m[1]), "state %s counts %+v", state, c)
					}
				}
			}
		}
	}
}

func TestFailureBlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    statemachine.Failure
		want bool
	}{
		{"attempts left, retryable", statemachine.Failure{Attempts: 1, RetryLimit: 3, Retryable: true}, false},
		{"exhausted", statemachine.Failure{Attempts: 3, RetryLimit: 3, Retryable: true}, true},
		{"not retryable (spec §17.3)", statemachine.Failure{Attempts: 1, RetryLimit: 3}, true},
		{"permanent (spec §17.4)", statemachine.Failure{Attempts: 1, RetryLimit: 3, Retryable: true, Permanent: true}, true},
		{"no limit means the default of 3", statemachine.Failure{Attempts: 2, Retryable: true}, false},
		{"no limit, third attempt", statemachine.Failure{Attempts: 3, Retryable: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.f.Blocked())
		})
	}
}

func TestStepReady(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		state       taskertype.State
		blocked     bool
		parentsDone bool
		next        time.Time
		want        statemachine.Readiness
	}{
		{"pending with parents done", taskertype.StatePending, false, true, time.Time{}, statemachine.Readiness{Ready: true, Eligible: true}},
		{"pending waiting for a parent", taskertype.StatePending, false, false, time.Time{},
			statemachine.Readiness{Eligible: true, Reason: statemachine.NotReadyDependencies}},
		{"error in backoff", taskertype.StateError, false, true, now.Add(time.Second),
			statemachine.Readiness{Eligible: true, Reason: statemachine.NotReadyBackoff, Wait: time.Second}},
		{"error whose backoff elapsed", taskertype.StateError, false, true, now, statemachine.Readiness{Ready: true, Eligible: true}},
		{"blocked error", taskertype.StateError, true, true, time.Time{}, statemachine.Readiness{Reason: statemachine.NotReadyBlocked}},
		{"in progress", taskertype.StateInProgress, false, true, time.Time{}, statemachine.Readiness{Reason: statemachine.NotReadyInProgress}},
		{"complete", taskertype.StateComplete, false, true, time.Time{}, statemachine.Readiness{Reason: statemachine.NotReadyInvalidState}},
		{"cancelled", taskertype.StateCancelled, false, true, time.Time{}, statemachine.Readiness{Reason: statemachine.NotReadyInvalidState}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, statemachine.StepReady(tt.state, tt.blocked, tt.parentsDone, tt.next, now))
		})
	}
}

func TestEventTarget(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]taskertype.State{
		taskertype.EventTaskInitializeRequested: taskertype.StatePending,
		taskertype.EventTaskStartRequested:      taskertype.StateInProgress,
		taskertype.EventTaskCompleted:           taskertype.StateComplete,
		taskertype.EventTaskRetryRequested:      taskertype.StatePending,
		taskertype.EventStepExecutionRequested:  taskertype.StateInProgress,
		taskertype.EventStepFailed:              taskertype.StateError,
		taskertype.EventStepResolvedManually:    taskertype.StateResolvedManually,
	} {
		_, to, ok := statemachine.EventTarget(name)
		require.True(t, ok, name)
		require.Equal(t, want, to, name)
	}
	for _, name := range []string{taskertype.EventStepBackoff, taskertype.EventTaskBlocked, taskertype.EventWorkflowNoViableSteps, "order.fulfilled"} {
		_, _, ok := statemachine.EventTarget(name)
		require.False(t, ok, name)
	}
}
