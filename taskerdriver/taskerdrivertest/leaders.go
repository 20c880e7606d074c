package taskerdrivertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// leaders exercises leader election.
func (s *suite) leaders(t *testing.T) {
	t.Run("LeaderElection", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		attempt := func(id string, now time.Time) bool {
			t.Helper()
			ok, err := b.ex.LeaderAttempt(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "maintenance", ID: id, Now: now, TTL: 15 * time.Second})
			require.NoError(t, err)
			return ok
		}
		require.True(t, attempt("a", base), "no leader yet")
		require.False(t, attempt("b", base.Add(time.Second)), "a leads")
		require.True(t, attempt("a", base.Add(10*time.Second)), "a renews")
		require.False(t, attempt("b", base.Add(20*time.Second)), "the renewed term lasts until +25s")
		require.True(t, attempt("b", base.Add(26*time.Second)), "a's term expired: leadership moves")
		require.False(t, attempt("a", base.Add(27*time.Second)))
		require.NoError(t, b.ex.LeaderResign(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "maintenance", ID: "b"}))
		require.True(t, attempt("a", base.Add(28*time.Second)), "b resigned")
		ok, err := b.ex.LeaderAttempt(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "other", ID: "b", Now: base, TTL: time.Second})
		require.NoError(t, err)
		require.True(t, ok, "leaderships are independent")
	})
}
