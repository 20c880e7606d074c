package taskerdrivertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// health exercises migrations, health counts, notifications and transactions.
func (s *suite) health(t *testing.T) {
	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		require.NoError(t, b.d.Migrate(b.ctx))
		v, err := b.d.MigrationVersion(b.ctx)
		require.NoError(t, err)
		require.Equal(t, MigrationVersion, v, "every driver numbers the same schema change the same")
	})

	t.Run("HealthCounts", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		h, err := b.ex.HealthCounts(b.ctx, base)
		require.NoError(t, err)
		require.Zero(t, h.Tasks[taskertype.StatePending])
		diamond(t, b, "")
		diamond(t, b, "")
		cs := claim(t, b, base, "w", 2)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: cs[0].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "x"}, NextAttemptAt: base.Add(time.Minute), Now: base})
		require.NoError(t, err)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: cs[1].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "x"}, Blocked: true, Now: base})
		require.NoError(t, err)
		h, err = b.ex.HealthCounts(b.ctx, base)
		require.NoError(t, err)
		require.Equal(t, 2, h.Tasks[taskertype.StateInProgress])
		require.Equal(t, 6, h.Steps[taskertype.StatePending])
		require.Equal(t, 2, h.Steps[taskertype.StateError])
		require.Equal(t, 1, h.RetryableErrors)
		require.Equal(t, 1, h.InBackoff)
		require.Equal(t, 1, h.ExhaustedRetries)
	})

	t.Run("NotifyAfterCommitOnly", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		ch, unsub := b.d.Listener().Subscribe(taskerdriver.TopicStepsReady)
		defer unsub()
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Notify(b.ctx, taskerdriver.TopicStepsReady))
		require.NoError(t, tx.Rollback(b.ctx))
		select {
		case <-ch:
			t.Fatal("notification of a rolled back transaction")
		default:
		}
		tx, err = b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Notify(b.ctx, taskerdriver.TopicStepsReady))
		select {
		case <-ch:
			t.Fatal("notification before commit")
		default:
		}
		require.NoError(t, tx.Commit(b.ctx))
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no notification after commit")
		}
	})

	t.Run("UnwrapTxRejectsForeignTypes", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		_, err := b.d.UnwrapTx(42)
		require.ErrorIs(t, err, taskerdriver.ErrUnsupportedTx)
	})
}
