package taskerdrivertest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// service exercises the services around the work: leader election, the outbox, migrations, health counts, notifications and transactions.
func (s *suite) service(t *testing.T) {
	// Leader election.

	s.run(t, "LeaderElection", func(t *testing.T, b *bundle) {
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

	// The outbox of events for outside subscribers.

	s.run(t, "Outbox", func(t *testing.T, b *bundle) {
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.OutboxInsert(b.ctx, []*taskerdriver.OutboxInsertParams{
			{Subscription: "hook", EventName: "task.completed", Payload: json.RawMessage(`{"n":1}`), Now: base},
			{Subscription: "hook", EventName: "step.failed", Payload: json.RawMessage(`{"n":2}`), Now: base},
		}))
		require.NoError(t, tx.Rollback(b.ctx))
		got, err := b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Empty(t, got, "nothing of a rolled back transaction")

		require.NoError(t, b.ex.OutboxInsert(b.ctx, []*taskerdriver.OutboxInsertParams{
			{Subscription: "hook", EventName: "task.completed", Payload: json.RawMessage(`{"n":1}`), Now: base},
			{Subscription: "other", EventName: "step.failed", Payload: json.RawMessage(`{"n":2}`), Now: base},
		}))
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		m := got[0]
		require.Equal(t, "task.completed", m.EventName)
		require.JSONEq(t, `{"n":1}`, string(m.Payload))
		again, err := b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "e", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Empty(t, again, "leased")
		require.ErrorIs(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "e", Delivered: true, Now: base}), taskerdriver.ErrLeaseLost)
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Error: "503", NextAttemptAt: base.Add(time.Second), Now: base}))
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Empty(t, got, "waiting for its retry")
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base.Add(time.Second), Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 1, got[0].Attempts)
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Dead: true, Error: "gave up", Now: base}))
		dead, err := b.ex.OutboxList(b.ctx, &taskerdriver.OutboxListParams{State: "dead"})
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, "gave up", dead[0].LastError)
		require.Equal(t, 2, dead[0].Attempts)
		n, err := b.ex.OutboxReplay(b.ctx, &taskerdriver.OutboxReplayParams{IDs: []int64{}, Now: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base.Add(time.Hour), Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(2 * time.Hour), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Zero(t, got[0].Attempts, "replayed with fresh attempts")
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Delivered: true, Now: base.Add(time.Hour)}))
		delivered, err := b.ex.OutboxList(b.ctx, &taskerdriver.OutboxListParams{State: "delivered", Subscription: "hook"})
		require.NoError(t, err)
		require.Len(t, delivered, 1)
		require.Equal(t, base.Add(time.Hour), delivered[0].DeliveredAt)
	})

	// Migrations, health counts, notifications and transactions.

	s.run(t, "MigrateIsIdempotent", func(t *testing.T, b *bundle) {
		require.NoError(t, b.d.Migrate(b.ctx))
		v, err := b.d.MigrationVersion(b.ctx)
		require.NoError(t, err)
		require.Equal(t, MigrationVersion, v, "every driver numbers the same schema change the same")
	})

	s.run(t, "HealthCounts", func(t *testing.T, b *bundle) {
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
		require.Zero(t, h.ReadySteps, "the second diamond's a is blocked, the first's waits for its retry time")
		require.Zero(t, h.OutboxBacklog)
		require.Zero(t, h.DeadLetters)

		// At the retry time the first diamond's a is ready; a third diamond
		// adds its a (its b, c and d wait for a parent).
		diamond(t, b, "")
		require.NoError(t, b.ex.OutboxInsert(b.ctx, []*taskerdriver.OutboxInsertParams{
			{Subscription: "hook", EventName: "task.completed", Payload: json.RawMessage(`{}`), Now: base},
			{Subscription: "hook", EventName: "task.failed", Payload: json.RawMessage(`{}`), Now: base},
			{Subscription: "hook", EventName: "step.failed", Payload: json.RawMessage(`{}`), Now: base},
		}))
		msgs, err := b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 2, Owner: "d", LeaseExpiresAt: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: msgs[0].ID, Owner: "d", Delivered: true, Now: base}))
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: msgs[1].ID, Owner: "d", Dead: true, Error: "gone", Now: base}))
		h, err = b.ex.HealthCounts(b.ctx, base.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, h.ReadySteps)
		require.Zero(t, h.InBackoff)
		require.Equal(t, 1, h.OutboxBacklog, "pending messages, not the delivered or dead ones")
		require.Equal(t, 1, h.DeadLetters)
	})

	s.run(t, "NotifyAfterCommitOnly", func(t *testing.T, b *bundle) {
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

	s.run(t, "UnwrapTxRejectsForeignTypes", func(t *testing.T, b *bundle) {
		_, err := b.d.UnwrapTx(42)
		require.ErrorIs(t, err, taskerdriver.ErrUnsupportedTx)
	})
}

// unavailable checks that a database that does not answer in time is an
// outage every caller can recognise (errors.Is ErrUnavailable, an API's
// 503), and that a cancelled call is not.
func (s *suite) unavailable(t *testing.T) {
	s.run(t, "UnavailableWhenTheDeadlinePassed", func(t *testing.T, b *bundle) {
		ctx, cancel := context.WithDeadline(b.ctx, time.Now().Add(-time.Second))
		defer cancel()
		_, err := b.ex.TaskGet(ctx, 1)
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the cause stays visible")
		var ue *taskerdriver.UnavailableError
		require.ErrorAs(t, err, &ue)
		_, _, err = b.ex.TaskList(ctx, &taskerdriver.TaskListParams{})
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
		_, err = b.ex.Begin(ctx)
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
		_, err = b.ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Owner: "w", Now: base, Limit: 1, LeaseExpiresAt: base.Add(time.Minute)})
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
		_, err = b.d.MigrationVersion(ctx)
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
		require.ErrorIs(t, b.d.Migrate(ctx), taskerdriver.ErrUnavailable)

		// Inside a transaction too.
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		_, err = tx.TaskGet(ctx, 1)
		require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
	})
	s.run(t, "CancelledIsNotUnavailable", func(t *testing.T, b *bundle) {
		ctx, cancel := context.WithCancel(b.ctx)
		cancel()
		_, err := b.ex.TaskGet(ctx, 1)
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, taskerdriver.ErrUnavailable)
	})
}
