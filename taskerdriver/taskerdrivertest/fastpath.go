package taskerdrivertest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// fastPath checks the worker pass that records a result and claims the
// children it readied in the same transaction: no other worker can claim
// those children before the parent's result commits, no step is claimed
// twice, and children the transaction leaves unclaimed are announced.
func (s *suite) fastPath(t *testing.T) {
	// recordAndClaim records a's completion by w1 in tx and claims up to
	// limit steps in the same transaction (as a worker's pass does: one
	// StepFinishAndClaim), while w2 tries to claim from outside it
	// (blocking until the commit where the database has a single writer).
	// It returns what w1 and w2 claimed.
	recordAndClaim := func(t *testing.T, b *bundle, limit int, commit func(tx taskerdriver.ExecutorTx)) (w1, w2 []*taskerdriver.ClaimedStep) {
		t.Helper()
		diamond(t, b, "")
		a := claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"a"}, names(a))
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		other := make(chan []*taskerdriver.ClaimedStep, 1)
		go func() {
			cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base.Add(2 * time.Second), Limit: 10, Owner: "w2",
				LeaseExpiresAt: base.Add(time.Hour)})
			if err != nil {
				t.Errorf("w2 claim: %v", err)
			}
			other <- cs
		}()
		res, err := tx.StepFinishAndClaim(b.ctx, &taskerdriver.StepFinishAndClaimParams{
			Finish: []*taskerdriver.StepFinishParams{{StepID: a[0].Step.ID, Owner: "w1", Attempt: 1,
				State: taskertype.StateComplete, Results: json.RawMessage(`{"a":1}`), Now: base.Add(time.Second)}},
			Claim: &taskerdriver.StepClaimParams{Now: base.Add(time.Second), Limit: limit, Owner: "w1", LeaseExpiresAt: base.Add(time.Hour)}})
		if err != nil {
			_ = tx.Rollback(b.ctx) // let w2's claim end: failing with the transaction open would hang it
			<-other
		}
		require.NoError(t, err)
		w1 = res.Claimed
		require.Len(t, res.Finished, 1)
		require.NoError(t, res.Finished[0].Err)
		require.Equal(t, 2, res.Finished[0].Result.ChildrenReady)
		commit(tx)
		w2 = <-other
		for _, c := range append(w1, w2...) {
			require.Equal(t, 1, c.Step.Attempts, "step %s", c.Step.Name)
			require.Len(t, c.Dependencies, 1, "step %s", c.Step.Name)
			require.JSONEq(t, `{"a":1}`, string(c.Dependencies["a"]), "step %s sees its parent's result", c.Step.Name)
		}
		return w1, w2
	}

	s.run(t, "FastPathChildrenOnlyAfterTheParentCommits", func(t *testing.T, b *bundle) {
		ready, unsub := b.d.Listener().Subscribe(taskerdriver.TopicStepsReady)
		defer unsub()
		w1, w2 := recordAndClaim(t, b, 10, func(tx taskerdriver.ExecutorTx) {
			drain(ready) // the task's creation notified
			require.NoError(t, tx.Commit(b.ctx))
		})
		require.Equal(t, []string{"b", "c"}, names(w1))
		require.Empty(t, w2, "another worker claimed a child of an uncommitted result, or a step claimed already")
		// Every child it readied was claimed by the transaction: nobody is
		// woken. Exact for in-process listeners, which are woken at commit;
		// a cross-process one may still deliver the creation's notification
		// late (the PostgreSQL driver's own test observes its server).
		if !b.d.Listener().CrossProcess() {
			select {
			case <-ready:
				t.Fatal("a transaction that claimed every child it readied notified")
			default:
			}
		}
	})

	s.run(t, "FastPathRollbackLeavesTheChildrenWaiting", func(t *testing.T, b *bundle) {
		w1, _ := recordAndClaim(t, b, 10, func(tx taskerdriver.ExecutorTx) { require.NoError(t, tx.Rollback(b.ctx)) })
		require.Len(t, w1, 2)
		// Rolled back: a is still w1's, in progress; b and c wait for it.
		steps, err := b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: w1[0].Step.TaskID})
		require.NoError(t, err)
		m := byName(steps)
		require.Equal(t, taskertype.StateInProgress, m["a"].State)
		for _, n := range []string{"b", "c"} {
			require.Equal(t, taskertype.StatePending, m[n].State)
			require.Equal(t, 1, m[n].PendingParents)
			require.Zero(t, m[n].Attempts)
		}
	})

	s.run(t, "FastPathAnnouncesChildrenLeftUnclaimed", func(t *testing.T, b *bundle) {
		ready, unsub := b.d.Listener().Subscribe(taskerdriver.TopicStepsReady)
		defer unsub()
		w1, w2 := recordAndClaim(t, b, 1, func(tx taskerdriver.ExecutorTx) {
			drain(ready) // the task's creation notified too
			require.NoError(t, tx.Commit(b.ctx))
		})
		require.Len(t, w1, 1)
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatal("a child readied and left unclaimed was not announced")
		}
		if len(w2) == 0 { // w2 ran before the commit (a database with row locks)
			w2 = claim(t, b, base.Add(3*time.Second), "w2", 10)
		}
		require.Len(t, w2, 1)
		require.NotEqual(t, w1[0].Step.Name, w2[0].Step.Name, "one step claimed by two workers")
	})
}

// finishAndClaim checks StepFinishAndClaim on its own (no caller's
// transaction): the claim sees what the results readied, a lost lease
// still lets the claim run, and either half may be absent.
func (s *suite) finishAndClaim(t *testing.T) {
	s.run(t, "FinishAndClaim", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		a := claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"a"}, names(a))
		at := base.Add(time.Second)
		claimBy := func(owner string, limit int) *taskerdriver.StepClaimParams {
			return &taskerdriver.StepClaimParams{Now: at, Limit: limit, Owner: owner, LeaseExpiresAt: at.Add(time.Minute)}
		}
		done := func(owner string) []*taskerdriver.StepFinishParams {
			return []*taskerdriver.StepFinishParams{{StepID: a[0].Step.ID, Owner: owner, Attempt: 1,
				State: taskertype.StateComplete, Results: json.RawMessage(`{"a":1}`), Now: at}}
		}

		// Another owner's result: its lease guard fails, nothing is
		// recorded, and the claim finds nothing ready.
		res, err := b.ex.StepFinishAndClaim(b.ctx, &taskerdriver.StepFinishAndClaimParams{Finish: done("w9"), Claim: claimBy("w1", 10)})
		require.NoError(t, err)
		require.Len(t, res.Finished, 1)
		require.ErrorIs(t, res.Finished[0].Err, taskerdriver.ErrLeaseLost)
		require.Empty(t, res.Claimed)

		// The owner's result readies b and c, which the same call claims
		// with a's result as their dependency; the task's progress, when
		// the driver reads it, counts them in progress.
		res, err = b.ex.StepFinishAndClaim(b.ctx, &taskerdriver.StepFinishAndClaimParams{Finish: done("w1"), Claim: claimBy("w1", 10),
			Progress: []int64{a[0].Task.ID, a[0].Task.ID}})
		require.NoError(t, err)
		require.NoError(t, res.Finished[0].Err)
		require.Equal(t, taskertype.StateComplete, res.Finished[0].Result.Step.State)
		require.Equal(t, 2, res.Finished[0].Result.ChildrenReady)
		cs := res.Claimed
		require.Equal(t, []string{"b", "c"}, names(cs))
		for _, c := range cs {
			require.Equal(t, taskertype.StateInProgress, c.Step.State)
			require.JSONEq(t, `{"a":1}`, string(c.Dependencies["a"]), "step %s", c.Step.Name)
		}
		if res.Progress != nil {
			require.Len(t, res.Progress, 1)
			tp := res.Progress[a[0].Task.ID]
			require.Equal(t, taskertype.StateInProgress, tp.Task.State)
			require.Equal(t, taskerdriver.TaskProgress{Total: 4, Done: 1, InProgress: 2}, *tp.Progress)
		}

		// Only a claim: another task's root.
		other := diamond(t, b, "")
		res, err = b.ex.StepFinishAndClaim(b.ctx, &taskerdriver.StepFinishAndClaimParams{Claim: claimBy("w2", 10)})
		require.NoError(t, err)
		require.Empty(t, res.Finished)
		require.Equal(t, []string{"a"}, names(res.Claimed))
		require.Equal(t, other.Task.ID, res.Claimed[0].Task.ID)

		// Only results: b and c complete, d is ready and nobody claimed it.
		var ps []*taskerdriver.StepFinishParams
		for _, c := range cs {
			ps = append(ps, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1,
				State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: at})
		}
		res, err = b.ex.StepFinishAndClaim(b.ctx, &taskerdriver.StepFinishAndClaimParams{Finish: ps})
		require.NoError(t, err)
		require.Nil(t, res.Claimed)
		require.Len(t, res.Finished, 2)
		// d's last two parents finished in one call: one of them, or both,
		// may count it.
		require.Positive(t, res.Finished[0].Result.ChildrenReady+res.Finished[1].Result.ChildrenReady)
		rest := claim(t, b, at, "w3", 10)
		require.Equal(t, []string{"d"}, names(rest))
	})
}

// createAndClaim checks the creating process's claim: a task created and its
// ready steps claimed in one transaction (StepClaimParams.TaskIDs) wakes
// nobody, and the claim takes nothing of other tasks.
func (s *suite) createAndClaim(t *testing.T) {
	s.run(t, "FastPathCreateAndClaim", func(t *testing.T, b *bundle) {
		older := diamond(t, b, "") // an older task: a plain claim would take its root first
		ready, unsub := b.d.Listener().Subscribe(taskerdriver.TopicStepsReady)
		defer unsub()
		drain(ready)
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		hash := fmt.Sprintf("unique-%d", hashSeq.Add(1))
		create := func(ex taskerdriver.Executor) (*taskerdriver.TaskCreateResult, error) {
			return ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
				Namespace: "default", Name: "diamond", Version: "1.0.0", Context: json.RawMessage(`{"n":2}`),
				IdentityHash: hash, RequestedAt: base, Now: base,
				Steps: []taskerdriver.StepCreateParams{
					{Name: "a", Handler: "h", RetryLimit: 1, Retryable: true},
					{Name: "b", Handler: "h", RetryLimit: 1, Retryable: true, Parents: []int{0}},
				},
				// Its TaskIDs are ignored: the claim is the new task's.
				Claim: &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "creator",
					LeaseExpiresAt: base.Add(time.Minute), TaskIDs: []int64{older.Task.ID}},
			})
		}
		res, err := create(tx)
		require.NoError(t, err)
		cs := res.Claimed
		require.Equal(t, []string{"a"}, names(cs))
		require.Equal(t, res.Task.ID, cs[0].Task.ID)
		require.Equal(t, res.Steps[0].ID, cs[0].Step.ID)
		require.Equal(t, taskertype.StateInProgress, cs[0].Step.State)
		require.JSONEq(t, `{"n":2}`, string(cs[0].Task.Context))
		require.True(t, cs[0].TaskStarted)
		require.Equal(t, 1, cs[0].Children, "b depends on a (a worker's next claim depends on it: recorder.ReadiesNothing)")
		require.NoError(t, tx.Commit(b.ctx))

		// The same identity again (outside a transaction): the task
		// exists, nothing is claimed.
		again, err := create(b.ex)
		require.NoError(t, err)
		require.True(t, again.Existing)
		require.Equal(t, res.Task.ID, again.Task.ID)
		require.Empty(t, again.Claimed)
		if !b.d.Listener().CrossProcess() { // exact for in-process listeners, woken at commit
			select {
			case <-ready:
				t.Fatal("a creation that claimed its ready steps announced them")
			default:
			}
		}
		rest := claim(t, b, base, "other", 10)
		require.Equal(t, []string{"a"}, names(rest), "the older task's root is still there")
		require.Equal(t, older.Task.ID, rest[0].Task.ID)

		// Created without a claim, its roots are announced at commit.
		drain(ready)
		diamond(t, b, "")
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatal("a new task's ready steps were not announced")
		}
	})
}

// drain empties a subscription's wake-up channel.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
