package taskerpgx_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// TestStepsReadyNotifiedOnlyForChildrenLeftUnclaimed: a transaction that
// records a parent's result and claims, in the same transaction, every
// child it readied sends no steps-ready notification; one that leaves a
// child unclaimed sends it. Observed on a separate connection that
// LISTENs: PostgreSQL delivers notifications in commit order, so a
// sentinel notified after the transaction commits says whether it sent one.
func TestStepsReadyNotifiedOnlyForChildrenLeftUnclaimed(t *testing.T) {
	t.Parallel()
	d := open(t)
	ex := d.Executor()
	ctx := t.Context()
	notifiedBefore := notifiedBefore(t, d, taskerdriver.TopicStepsReady)
	now := testdb.Base
	// pass records a's completion and claims up to limit steps in one
	// transaction, and reports whether it notified.
	pass := func(limit int) bool {
		t.Helper()
		testdb.CreateTask(t, ex, now,
			taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 1},
			taskerdriver.StepCreateParams{Name: "b", Handler: "h", RetryLimit: 1, Parents: []int{0}},
			taskerdriver.StepCreateParams{Name: "c", Handler: "h", RetryLimit: 1, Parents: []int{0}})
		claimed, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 10, Owner: "w", LeaseExpiresAt: now.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.True(t, notifiedBefore(), "the task's creation notifies")
		tx, err := ex.Begin(ctx)
		require.NoError(t, err)
		outs, err := tx.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{{StepID: claimed[0].Step.ID, Owner: "w", Attempt: 1,
			State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: now}})
		require.NoError(t, err)
		require.NoError(t, outs[0].Err)
		require.Equal(t, 2, outs[0].Result.ChildrenReady)
		children, err := tx.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: limit, Owner: "w", LeaseExpiresAt: now.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, children, min(limit, 2))
		require.NoError(t, tx.Commit(ctx))
		return notifiedBefore()
	}
	require.False(t, pass(10), "both children claimed by the transaction that readied them: no notification")
	require.True(t, pass(1), "a child left unclaimed: notified")
}

// TestOwnNotificationsWakeOnce: the driver wakes this process's subscribers
// itself when its transaction commits, so the server's echo of the same
// notification is dropped (one wake-up, not two); a caller's own
// transaction (UnwrapTx), whose commit the driver does not see, still
// wakes them through the server.
func TestOwnNotificationsWakeOnce(t *testing.T) {
	t.Parallel()
	d := open(t)
	ctx := t.Context()
	ready, unsub := d.Listener().Subscribe(taskerdriver.TopicStepsReady)
	defer unsub()
	outbox, unsubOutbox := d.Listener().Subscribe(taskerdriver.TopicOutbox)
	defer unsubOutbox()
	other, err := pgx.Connect(ctx, d.Pool().Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer func() { _ = other.Close(context.Background()) }()
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("no wake-up: %s", what)
		}
	}
	// sentinel sends a notification from another connection and waits for
	// it: the server delivers in commit order, so every echo committed
	// before it has arrived too.
	sentinel := func() {
		t.Helper()
		_, err := other.Exec(ctx, `SELECT pg_notify($1, '')`, taskerdriver.TopicOutbox)
		require.NoError(t, err)
		wait(outbox, "the sentinel")
	}
	// The listener starts with the first subscription: notify until it
	// hears.
	for listening := false; !listening; {
		_, err := other.Exec(ctx, `SELECT pg_notify($1, '')`, taskerdriver.TopicOutbox)
		require.NoError(t, err)
		select {
		case <-outbox:
			listening = true
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	sentinel() // and every earlier sentinel has arrived
	drainTopic(outbox)
	drainTopic(ready)

	tx, err := d.Executor().Begin(ctx)
	require.NoError(t, err)
	testdb.CreateTask(t, tx, testdb.Base, taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 1})
	require.NoError(t, tx.Commit(ctx))
	wait(ready, "the driver's own commit")
	sentinel()
	select {
	case <-ready:
		t.Fatal("the server's echo of the driver's own notification woke the subscribers again")
	default:
	}

	// A caller's transaction on the same pool: only the server tells.
	for range 3 { // whichever pooled connection it gets, one the driver used or not
		ptx, err := d.Pool().Begin(ctx)
		require.NoError(t, err)
		etx, err := d.UnwrapTx(ptx)
		require.NoError(t, err)
		testdb.CreateTask(t, etx, testdb.Base, taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 1})
		require.NoError(t, ptx.Commit(ctx))
		wait(ready, "a caller's transaction, through the server")
		sentinel()
		drainTopic(ready)
	}
}

func drainTopic(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
