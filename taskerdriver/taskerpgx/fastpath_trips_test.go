package taskerpgx_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// The fast path's round trips, pinned: a creation that claims its roots
// costs one round trip and its commit another; a worker pass (results,
// claim, the tasks' lock and counts) that settles costs one round trip,
// its commit included, whether its tasks keep running or it completes
// them (Done); one that does not settle costs one and its commit another,
// the task's final move travelling with the commit. A creation that
// settles costs one round trip, its commit included. A diamond's engine
// work is then 4 round trips in 4 transactions. A pass offered to settle
// that cannot (d's, offered without Done) is rolled back and written
// again: 3 round trips before its commit.
func TestFastPathRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	trips := &pgtest.Trips{}
	ex := openTraced(t, trips).Executor()
	now := time.Now().UTC()
	claim := &taskerdriver.StepClaimParams{Now: now, Limit: 10, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)}

	// inTx runs fn in a transaction and returns the round trips of fn and
	// of the commit.
	inTx := func(fn func(tx taskerdriver.ExecutorTx)) (work, commit int64) {
		t.Helper()
		tx, err := ex.Begin(ctx)
		require.NoError(t, err)
		trips.Reset()
		fn(tx)
		work = trips.Total()
		require.NoError(t, tx.Commit(ctx))
		return work, trips.Total() - work
	}
	// pass records the completions of steps; settle is true, false, or
	// the Done decision offered with Settle.
	pass := func(tx taskerdriver.ExecutorTx, taskID int64, settle any, steps ...*taskerdriver.ClaimedStep) *taskerdriver.StepFinishAndClaimResult {
		t.Helper()
		p := &taskerdriver.StepFinishAndClaimParams{Finish: completions(now, steps...), Claim: claim, Progress: []int64{taskID}}
		switch v := settle.(type) {
		case bool:
			p.Settle = v
		case *taskerdriver.SettleDecision:
			p.Settle, p.Done = true, v
		}
		res, err := tx.StepFinishAndClaim(ctx, p)
		require.NoError(t, err)
		require.NotNil(t, res.Progress[taskID], "the task's lock and counts were read with the pass")
		return res
	}

	var (
		created *taskerdriver.TaskCreateResult
		err     error
	)
	work, commit := inTx(func(tx taskerdriver.ExecutorTx) {
		created, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "diamond", Version: "1",
			Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: "d1", RequestedAt: now, Now: now, Claim: claim,
			Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}, {Name: "b", Handler: "h", Parents: []int{0}},
				{Name: "c", Handler: "h", Parents: []int{0}}, {Name: "d", Handler: "h", Parents: []int{1, 2}}}})
		require.NoError(t, err)
	})
	require.Len(t, created.Claimed, 1)
	require.Equal(t, [2]int64{1, 1}, [2]int64{work, commit}, "creation with its claim, commit")
	id := created.Task.ID

	// A creation that settles: one round trip, its commit included; the
	// same identity again finds the task, committed too.
	for _, hash := range []string{"d2", "d2"} {
		var settled *taskerdriver.TaskCreateResult
		work, commit = inTx(func(tx taskerdriver.ExecutorTx) {
			settled, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "one", Version: "1",
				Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: hash, RequestedAt: now, Now: now, Claim: claim, Settle: true,
				Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}}})
			require.NoError(t, err)
		})
		require.True(t, settled.Committed, "%s: %+v", hash, settled)
		if settled.Existing {
			require.Empty(t, settled.Claimed)
			require.Equal(t, [2]int64{2, 0}, [2]int64{work, commit}, "an existing identity: the creation's round trip, then the task's read")
			continue
		}
		require.Len(t, settled.Claimed, 1)
		require.Equal(t, [2]int64{1, 0}, [2]int64{work, commit}, "a creation that settles, its commit included")
	}

	var res *taskerdriver.StepFinishAndClaimResult
	work, commit = inTx(func(tx taskerdriver.ExecutorTx) { res = pass(tx, id, true, created.Claimed...) })
	require.Len(t, res.Claimed, 2)
	require.True(t, res.Committed, "a's pass settles: b and c run")
	require.Equal(t, [2]int64{1, 0}, [2]int64{work, commit}, "a's pass, its commit included")
	work, commit = inTx(func(tx taskerdriver.ExecutorTx) { res = pass(tx, id, true, res.Claimed...) })
	require.Len(t, res.Claimed, 1)
	require.True(t, res.Committed, "b and c's pass settles: d runs")
	require.Equal(t, [2]int64{1, 0}, [2]int64{work, commit}, "b and c's pass, its commit included")
	last := res.Claimed
	for _, settle := range []bool{true, false} {
		// d's pass, offered to settle without Done (it cannot: the
		// task is to be decided) or not offered, rolled back (the pass
		// that counts follows).
		wantWork := map[bool]int64{true: 3, false: 1}[settle]
		tx, err := ex.Begin(ctx)
		require.NoError(t, err)
		trips.Reset()
		res = pass(tx, id, settle, last...)
		require.False(t, res.Committed, "d's pass ends the task: it does not settle without Done")
		require.Equal(t, wantWork, trips.Total(), "d's pass (offered to settle: %v)", settle)
		require.NoError(t, tx.Rollback(ctx))
	}
	work, commit = inTx(func(tx taskerdriver.ExecutorTx) {
		res = pass(tx, id, false, last...)
		require.Empty(t, res.Claimed)
		tp := res.Progress[id]
		require.Equal(t, tp.Progress.Total, tp.Progress.Done)
		_, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: id, From: []taskertype.State{tp.Task.State},
			To: taskertype.StateComplete, Now: now, Locked: tp.Task}})
		require.NoError(t, err)
	})
	require.Equal(t, [2]int64{1, 1}, [2]int64{work, commit}, "d's pass; the task's move travels with the commit")
	task, err := ex.TaskGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, task.State)

	// Another diamond, whose d's pass settles with Done: one round trip,
	// the task's move and the commit included.
	_, _ = inTx(func(tx taskerdriver.ExecutorTx) {
		created, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "diamond", Version: "1",
			Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: "d3", RequestedAt: now, Now: now, Claim: claim, Settle: true,
			Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}, {Name: "b", Handler: "h", Parents: []int{0}},
				{Name: "c", Handler: "h", Parents: []int{0}}, {Name: "d", Handler: "h", Parents: []int{1, 2}}}})
		require.NoError(t, err)
	})
	id = created.Task.ID
	done := &taskerdriver.SettleDecision{From: taskertype.StateInProgress, To: taskertype.StateComplete, Reason: "all_steps_complete"}
	trips.Reset()
	last = created.Claimed
	for range 3 { // a's pass, b and c's, d's
		work, commit = inTx(func(tx taskerdriver.ExecutorTx) { res = pass(tx, id, done, last...) })
		require.True(t, res.Committed)
		require.Equal(t, [2]int64{1, 0}, [2]int64{work, commit}, "a pass that settles, its commit included")
		last = res.Claimed
	}
	require.Empty(t, last)
	require.Len(t, res.Done, 1, "d's pass completed the task")
	task, err = ex.TaskGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, task.State)
	require.Equal(t, task, res.Done[0], "the moved task as stored")
}
