package statemachine_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

const (
	P  = taskertype.StatePending
	IP = taskertype.StateInProgress
	C  = taskertype.StateComplete
	E  = taskertype.StateError
	X  = taskertype.StateCancelled
	R  = taskertype.StateResolvedManually
)

// order is the row and column order of the matrices below.
var order = []taskertype.State{P, IP, C, E, X, R}

// Expected matrices: rows are from-states, columns to-states, both in
// order; 1 = allowed, 0 = invalid, s = same state.
var taskMatrix = [6]string{
	// to: P IP C E X R
	"s 1 0 1 1 0", // from pending
	"1 s 1 1 1 0", // from in_progress
	"0 0 s 0 0 0", // from complete: spec allows complete -> cancelled; we do not
	"1 0 0 s 1 1", // from error: error -> cancelled is ours
	"0 0 0 0 s 0", // from cancelled
	"0 0 0 0 0 s", // from resolved_manually: spec allows resolved_manually -> cancelled; we do not
}

var stepMatrix = [6]string{
	// to: P IP C E X R
	"s 1 0 1 1 1", // from pending
	"1 s 1 1 1 0", // from in_progress: in_progress -> pending: graceful release
	"0 0 s 0 0 0", // from complete
	"1 0 0 s 1 1", // from error
	"0 0 0 0 s 0", // from cancelled
	"0 0 0 0 0 s", // from resolved_manually
}

func row(t *testing.T, m [6]string, from int) []byte {
	t.Helper()
	var out []byte
	for _, c := range []byte(m[from]) {
		if c != ' ' {
			out = append(out, c)
		}
	}
	require.Len(t, out, 6)
	return out
}

func TestMatrices(t *testing.T) {
	t.Parallel()
	machines := []struct {
		name    string
		entity  string
		matrix  [6]string
		check   func(from, to taskertype.State) error
		targets func(from taskertype.State) []taskertype.State
	}{
		{"task", "task", taskMatrix, statemachine.Task, statemachine.TaskTargets},
		{"step", "step", stepMatrix, statemachine.Step, statemachine.StepTargets},
	}
	for _, m := range machines {
		for fi, from := range order {
			want := row(t, m.matrix, fi)
			var targets []taskertype.State
			for ti, to := range order {
				t.Run(m.name+"/"+string(from)+"->"+string(to), func(t *testing.T) {
					t.Parallel()
					err := m.check(from, to)
					switch want[ti] {
					case '1':
						require.NoError(t, err)
					case '0':
						require.ErrorIs(t, err, statemachine.ErrInvalidTransition)
						require.NotErrorIs(t, err, statemachine.ErrSameState)
						var te *statemachine.TransitionError
						require.ErrorAs(t, err, &te)
						require.Equal(t, statemachine.TransitionError{Entity: m.entity, From: from, To: to}, *te)
						require.EqualError(t, err, m.entity+` cannot move from "`+string(from)+`" to "`+string(to)+`"`)
					case 's':
						require.ErrorIs(t, err, statemachine.ErrSameState)
						require.NotErrorIs(t, err, statemachine.ErrInvalidTransition)
						require.EqualError(t, err, m.entity+` is already "`+string(to)+`"`)
					default:
						t.Fatalf("bad matrix cell %q", want[ti])
					}
				})
				if want[ti] == '1' {
					targets = append(targets, to)
				}
			}
			if targets == nil {
				targets = []taskertype.State{}
			}
			require.Equal(t, targets, m.targets(from), "%s targets of %s", m.name, from)
		}
	}
}

func TestUnknownStates(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, statemachine.Task("bogus", P), statemachine.ErrInvalidTransition)
	require.ErrorIs(t, statemachine.Step(P, "bogus"), statemachine.ErrInvalidTransition)
	require.ErrorIs(t, statemachine.Task("", P), statemachine.ErrInvalidTransition)
	require.Empty(t, statemachine.TaskTargets("bogus"))
	require.NotNil(t, statemachine.StepTargets("bogus"))
}

func TestTargetsAreCopies(t *testing.T) {
	t.Parallel()
	got := statemachine.TaskTargets(P)
	got[0] = R
	require.Equal(t, IP, statemachine.TaskTargets(P)[0])
}

// TestScenario20 is acceptance scenario 20 (state machine legality).
func TestScenario20(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		wantErr error // nil, ErrInvalidTransition or ErrSameState
		msg     string
	}{
		{"task pending->in_progress ok", statemachine.TaskGuarded(P, IP, false), nil, ""},
		{"task pending->complete rejected", statemachine.TaskGuarded(P, C, true), statemachine.ErrInvalidTransition,
			`task cannot move from "pending" to "complete"`},
		{"task in_progress->complete rejected while a step is incomplete", statemachine.TaskGuarded(IP, C, false), statemachine.ErrInvalidTransition,
			`task cannot move from "in_progress" to "complete": not every step is complete or resolved_manually`},
		{"task in_progress->complete when all steps done", statemachine.TaskGuarded(IP, C, true), nil, ""},
		{"task error->pending ok", statemachine.TaskGuarded(E, P, false), nil, ""},
		{"task error->resolved_manually ok", statemachine.TaskGuarded(E, R, false), nil, ""},
		{"task error->complete rejected", statemachine.TaskGuarded(E, C, true), statemachine.ErrInvalidTransition,
			`task cannot move from "error" to "complete"`},
		{"step pending->complete rejected", statemachine.StepGuarded(P, C, true), statemachine.ErrInvalidTransition,
			`step cannot move from "pending" to "complete"`},
		{"step pending->in_progress rejected while a parent is not done", statemachine.StepGuarded(P, IP, false), statemachine.ErrInvalidTransition,
			`step cannot move from "pending" to "in_progress": not every parent step is complete or resolved_manually`},
		{"step pending->in_progress allowed when parents done", statemachine.StepGuarded(P, IP, true), nil, ""},
		{"step error->pending ok", statemachine.StepGuarded(E, P, false), nil, ""},
		{"task same state is a no-op", statemachine.TaskGuarded(P, P, true), statemachine.ErrSameState, `task is already "pending"`},
		{"step same state is a no-op", statemachine.StepGuarded(C, C, true), statemachine.ErrSameState, `step is already "complete"`},
		{"guard is not checked for illegal moves", statemachine.StepGuarded(C, IP, false), statemachine.ErrInvalidTransition,
			`step cannot move from "complete" to "in_progress"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.wantErr == nil {
				require.NoError(t, tt.err)
				return
			}
			require.ErrorIs(t, tt.err, tt.wantErr)
			require.EqualError(t, tt.err, tt.msg)
		})
	}
}

func TestGuardErrorAs(t *testing.T) {
	t.Parallel()
	err := statemachine.TaskGuarded(IP, C, false)
	var ge *statemachine.GuardError
	require.True(t, errors.As(err, &ge))
	require.Equal(t, statemachine.EntityTask, ge.Entity)
	require.Equal(t, IP, ge.From)
	require.Equal(t, C, ge.To)
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to  taskertype.State
		task, stp string
	}{
		{"", P, "task.initialize_requested", "step.initialize_requested"},
		{IP, P, "task.initialize_requested", "step.initialize_requested"},
		{"", IP, "task.start_requested", "step.execution_requested"},
		{P, IP, "task.start_requested", "step.execution_requested"},
		{"", C, "task.completed", "step.completed"},
		{IP, C, "task.completed", "step.completed"},
		{"", E, "task.failed", "step.failed"},
		{P, E, "task.failed", "step.failed"},
		{IP, E, "task.failed", "step.failed"},
		{E, P, "task.retry_requested", "step.retry_requested"},
		{"", X, "task.cancelled", "step.cancelled"},
		{P, X, "task.cancelled", "step.cancelled"},
		{IP, X, "task.cancelled", "step.cancelled"},
		{E, X, "task.cancelled", "step.cancelled"},
		{C, X, "task.cancelled", ""},
		{R, X, "task.cancelled", ""},
		{"", R, "task.resolved_manually", "step.resolved_manually"},
		{P, R, "", "step.resolved_manually"},
		{E, R, "task.resolved_manually", "step.resolved_manually"},
		{IP, R, "", ""},
		{C, P, "", ""},
		{E, IP, "", ""},
		{X, X, "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.task, statemachine.TaskEvent(tt.from, tt.to))
			require.Equal(t, tt.stp, statemachine.StepEvent(tt.from, tt.to))
		})
	}
}

// TestEveryLegalMoveHasAnEvent checks that no allowed move is silent.
func TestEveryLegalMoveHasAnEvent(t *testing.T) {
	t.Parallel()
	for _, from := range order {
		for _, to := range statemachine.TaskTargets(from) {
			require.NotEmpty(t, statemachine.TaskEvent(from, to), "task %s->%s", from, to)
		}
		for _, to := range statemachine.StepTargets(from) {
			require.NotEmpty(t, statemachine.StepEvent(from, to), "step %s->%s", from, to)
		}
	}
}
