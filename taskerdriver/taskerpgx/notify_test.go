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
	conn, err := pgx.Connect(ctx, d.Pool().Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	const sentinel = "tasker_test_sentinel"
	_, err = conn.Exec(ctx, "LISTEN "+taskerdriver.TopicStepsReady+"; LISTEN "+sentinel)
	require.NoError(t, err)
	// notifiedBefore sends the sentinel and reports whether a steps-ready
	// notification arrived before it.
	notifiedBefore := func() bool {
		t.Helper()
		_, err := d.Pool().Exec(ctx, `SELECT pg_notify($1, '')`, sentinel)
		require.NoError(t, err)
		seen := false
		for {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			require.NoError(t, err, "the sentinel did not arrive")
			if n.Channel == sentinel {
				return seen
			}
			seen = seen || n.Channel == taskerdriver.TopicStepsReady
		}
	}
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
