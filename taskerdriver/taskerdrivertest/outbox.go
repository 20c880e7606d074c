package taskerdrivertest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// outbox exercises the outbox of events for outside subscribers.
func (s *suite) outbox(t *testing.T) {
	t.Run("Outbox", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
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
}
