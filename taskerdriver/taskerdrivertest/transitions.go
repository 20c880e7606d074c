package taskerdrivertest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// transitions exercises step state changes and their transitions: cancel, resolve, retry.
func (s *suite) transitions(t *testing.T) {
	t.Run("SetStateCancelsResolvesAndRetries", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		res := diamond(t, b, "")
		s := byName(res.Steps)
		// Resolve a manually: b and c become ready, with a's manual results.
		got, err := b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{IDs: []int64{s["a"].ID}, From: []taskertype.State{taskertype.StatePending},
			To: taskertype.StateResolvedManually, Results: json.RawMessage(`{"manual":true}`), Now: base})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, taskertype.StateResolvedManually, got[0].State)
		cs := claim(t, b, base, "w", 10)
		require.Equal(t, []string{"b", "c"}, names(cs))
		require.JSONEq(t, `{"manual":true}`, string(cs[0].Dependencies["a"]))
		// From filters: a is not pending any more.
		got, err = b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{IDs: []int64{s["a"].ID}, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Empty(t, got)
		// Cancel every unfinished step of the task.
		got, err = b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{TaskID: res.Task.ID,
			From: []taskertype.State{taskertype.StatePending, taskertype.StateInProgress, taskertype.StateError}, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for _, c := range cs {
			_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete, Now: base})
			require.ErrorIs(t, err, taskerdriver.ErrLeaseLost, "a cancelled step's late result is rejected")
		}
		p, err := progressOf(b.ctx, b.ex, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Done: 1, Resolved: 1, Cancelled: 3}, *p)
	})
}
