package taskerdrivertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// finish exercises recording attempts: the lease guard, retries, blocks.
func (s *suite) finish(t *testing.T) {
	t.Run("FinishIsGuardedByLease", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "other", Attempt: 1, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 2, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost)
		complete(t, b, c, "w1", base)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost, "a second result for the same attempt is rejected")
	})

	t.Run("RetryWaitsForBackoffThenGoesThroughPending", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		next := base.Add(2 * time.Second)
		r, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "boom", Kind: "retryable", Attempt: 1, At: base}, NextAttemptAt: next, Now: base})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateError, r.Step.State)
		require.Equal(t, "boom", r.Step.LastError.Message)
		require.Equal(t, next, r.Step.NextAttemptAt)
		require.False(t, r.Step.Blocked)

		require.Empty(t, claim(t, b, base.Add(time.Second), "w1", 1), "backoff not elapsed")
		wake, err := b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base.Add(time.Second), Leases: true})
		require.NoError(t, err)
		require.Equal(t, next, wake)

		cs := claim(t, b, next, "w1", 1)
		require.Len(t, cs, 1)
		require.Equal(t, 2, cs[0].Step.Attempts)
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: c.Step.ID})
		require.NoError(t, err)
		var moves []string
		for i, x := range tr {
			moves = append(moves, string(x.FromState)+">"+string(x.ToState))
			require.Equal(t, i == len(tr)-1, x.MostRecent)
			if i > 0 {
				require.Greater(t, x.SortKey, tr[i-1].SortKey)
			}
		}
		require.Equal(t, []string{">pending", "pending>in_progress", "in_progress>error", "error>pending", "pending>in_progress"}, moves)
	})

	t.Run("BlockedStepIsNeverClaimedAndCounts", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		res := diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "no", Kind: "permanent"}, Blocked: true, Now: base})
		require.NoError(t, err)
		require.Empty(t, claim(t, b, base.Add(time.Hour), "w1", 10))
		p, err := progressOf(b.ctx, b.ex, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Blocked: 1}, *p)
	})
}
