package taskerpgx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// settleFixture is a task a → (b, c) whose a this process holds, on a
// driver of its own.
type settleFixture struct {
	ex   taskerdriver.Executor
	task int64
	a    *taskerdriver.ClaimedStep
	now  time.Time
}

func newSettleFixture(t *testing.T, ex taskerdriver.Executor) settleFixture {
	t.Helper()
	now := testdb.Base
	task := testdb.CreateTask(t, ex, now,
		taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 1},
		taskerdriver.StepCreateParams{Name: "b", Handler: "h", RetryLimit: 1, Parents: []int{0}},
		taskerdriver.StepCreateParams{Name: "c", Handler: "h", RetryLimit: 1, Parents: []int{0}})
	claimed, err := ex.StepClaim(t.Context(), &taskerdriver.StepClaimParams{Now: now, Limit: 10, Owner: "w", LeaseExpiresAt: now.Add(time.Hour),
		TaskIDs: []int64{task.Task.ID}})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, 2, claimed[0].Children)
	return settleFixture{ex: ex, task: task.Task.ID, a: claimed[0], now: now}
}

// pass records a's completion in tx, offering to settle, and claims up to
// limit steps.
func (f settleFixture) pass(t *testing.T, tx taskerdriver.ExecutorTx, limit int) *taskerdriver.StepFinishAndClaimResult {
	t.Helper()
	res, err := tx.StepFinishAndClaim(t.Context(), &taskerdriver.StepFinishAndClaimParams{
		Finish: []*taskerdriver.StepFinishParams{{StepID: f.a.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete,
			Results: json.RawMessage(`{"x":1}`), Now: f.now}},
		Claim:    &taskerdriver.StepClaimParams{Now: f.now, Limit: limit, Owner: "w", LeaseExpiresAt: f.now.Add(time.Hour), TaskIDs: []int64{f.task}},
		Progress: []int64{f.task},
		Settle:   true,
	})
	require.NoError(t, err)
	require.NoError(t, res.Finished[0].Err)
	require.Equal(t, 2, res.Finished[0].Result.ChildrenReady)
	return res
}

// A settled pass is committed when StepFinishAndClaim returns: another
// connection sees it at once, the transaction's Commit does nothing and
// its Rollback undoes nothing, and a write after it fails.
func TestSettledPassIsCommitted(t *testing.T) {
	t.Parallel()
	d := open(t)
	ctx := t.Context()
	f := newSettleFixture(t, d.Executor())
	tx, err := d.Executor().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res := f.pass(t, tx, 10)
	require.True(t, res.Committed, "b and c run: the task is not to be decided")
	require.Len(t, res.Claimed, 2)

	other, err := pgx.Connect(ctx, d.Pool().Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer func() { _ = other.Close(context.Background()) }()
	var states []string
	require.NoError(t, other.QueryRow(ctx, `SELECT array_agg(state ORDER BY position) FROM tasker_workflow_steps WHERE task_id = $1`, f.task).Scan(&states))
	require.Equal(t, []string{"complete", "in_progress", "in_progress"}, states, "committed before Commit")

	require.NoError(t, tx.Rollback(ctx), "nothing to roll back")
	require.NoError(t, tx.Commit(ctx), "nothing to commit")
	_, err = tx.TaskGet(ctx, f.task)
	require.Error(t, err, "the transaction is over")
	// A write the driver would defer to the commit is not lost silently.
	_, err = tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: f.task, From: []taskertype.State{taskertype.StateInProgress},
		To: taskertype.StateComplete, Now: f.now, Locked: res.Progress[f.task].Task}})
	if err == nil {
		require.Error(t, tx.Commit(ctx), "a write after the settle fails the commit")
	}
	task, err := d.Executor().TaskGet(ctx, f.task)
	require.NoError(t, err)
	require.Equal(t, taskertype.StateInProgress, task.State)

	tr, err := d.Executor().TransitionList(ctx, &taskerdriver.TransitionListParams{TaskID: f.task, AllSteps: true})
	require.NoError(t, err)
	moves := map[string]int{}
	for _, x := range tr {
		moves[string(x.FromState)+">"+string(x.ToState)]++
	}
	require.Equal(t, map[string]int{">pending": 3, "pending>in_progress": 3, "in_progress>complete": 1}, moves,
		"the step transitions, each written once")
}

// A pass offered to settle whose task is to be decided is written as
// without the offer, once: a task in error (Decide moves it back to
// pending when a step of it runs), and a task whose last step completes.
func TestUnsettledPassIsWrittenOnce(t *testing.T) {
	t.Parallel()
	d := open(t)
	ctx := t.Context()

	t.Run("task in error", func(t *testing.T) {
		f := newSettleFixture(t, d.Executor())
		_, err := d.Pool().Exec(ctx, `UPDATE tasker_tasks SET state = 'error' WHERE task_id = $1`, f.task)
		require.NoError(t, err)
		tx, err := d.Executor().Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		res := f.pass(t, tx, 10)
		require.False(t, res.Committed)
		require.Len(t, res.Claimed, 2, "the pass, written again, claims")
		require.Equal(t, taskertype.StateError, res.Progress[f.task].Task.State, "for the caller to decide")
		require.NoError(t, tx.Commit(ctx))
		tr, err := d.Executor().TransitionList(ctx, &taskerdriver.TransitionListParams{StepID: f.a.Step.ID})
		require.NoError(t, err)
		require.Len(t, tr, 3, "a: pending, in_progress, complete, once each")
	})

	t.Run("last step", func(t *testing.T) {
		now := testdb.Base
		ex := d.Executor()
		task := testdb.CreateTask(t, ex, now, taskerdriver.StepCreateParams{Name: "only", Handler: "h", RetryLimit: 1})
		claimed, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Hour),
			TaskIDs: []int64{task.Task.ID}})
		require.NoError(t, err)
		require.Zero(t, claimed[0].Children)
		tx, err := ex.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		res, err := tx.StepFinishAndClaim(ctx, &taskerdriver.StepFinishAndClaimParams{
			Finish: []*taskerdriver.StepFinishParams{{StepID: claimed[0].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete,
				Results: json.RawMessage(`{}`), Now: now}},
			Progress: []int64{task.Task.ID}, Settle: true,
		})
		require.NoError(t, err)
		require.False(t, res.Committed, "the task's last step: its task is to be decided")
		p := res.Progress[task.Task.ID].Progress
		require.Equal(t, p.Total, p.Done)
		require.NoError(t, tx.Rollback(ctx))
		step, err := ex.StepGet(ctx, claimed[0].Step.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateInProgress, step.State, "rolled back with the transaction")
	})
}

// openListening opens a driver of its own and listens to topic there: on
// a connection of its own (notified: notifiedBefore) and as this process's
// subscriber (the channel).
func openListening(t *testing.T, topic string) (*taskerpgx.Driver, func() bool, <-chan struct{}) {
	t.Helper()
	d := open(t)
	notified := notifiedBefore(t, d, topic)
	ch, unsub := d.Listener().Subscribe(topic)
	t.Cleanup(unsub)
	return d, notified, ch
}

// completions are the results of the attempts of steps held by "w",
// completed at now.
func completions(now time.Time, steps ...*taskerdriver.ClaimedStep) []*taskerdriver.StepFinishParams {
	ps := make([]*taskerdriver.StepFinishParams, len(steps))
	for i, c := range steps {
		ps[i] = &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w", Attempt: c.Step.Attempts,
			State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: now}
	}
	return ps
}

// notifiedBefore listens to topic on a connection of its own and returns a function that reports whether a notification arrived
// since its last call: it sends a sentinel and reads up to it
// (PostgreSQL delivers notifications in commit order).
func notifiedBefore(t *testing.T, d *taskerpgx.Driver, topic string) func() bool {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, d.Pool().Config().ConnConfig.ConnString())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	const sentinel = "tasker_test_settle_sentinel"
	_, err = conn.Exec(ctx, "LISTEN "+topic+"; LISTEN "+sentinel)
	require.NoError(t, err)
	return func() bool {
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
			seen = seen || n.Channel == topic
		}
	}
}

// requireNotified checks that a notification was sent
// (notified, another connection's view) exactly when want, and then woke
// this process's subscriber (ready).
func requireNotified(t *testing.T, notified func() bool, ready <-chan struct{}, want bool, what string, args ...any) {
	t.Helper()
	what = fmt.Sprintf(what, args...)
	require.Equal(t, want, notified(), "notified after %s", what)
	if !want {
		return
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatalf("this process's subscriber was not woken after %s", what)
	}
}

// drain empties ready.
func drain(ready <-chan struct{}) {
	for {
		select {
		case <-ready:
		default:
			return
		}
	}
}

// A settled pass sends the steps-ready notification exactly when it
// leaves a child it readied unclaimed (as TestStepsReadyNotifiedOnlyForChildrenLeftUnclaimed
// for a pass in two round trips), and wakes this process's subscribers.
func TestSettledPassNotifiesOnlyForChildrenLeftUnclaimed(t *testing.T) {
	t.Parallel()
	d, notified, ready := openListening(t, taskerdriver.TopicStepsReady)
	ctx := t.Context()
	for _, limit := range []int{2, 1} {
		f := newSettleFixture(t, d.Executor())
		notified() // the creation's
		drain(ready)
		tx, err := d.Executor().Begin(ctx)
		require.NoError(t, err)
		res := f.pass(t, tx, limit)
		defer func() { _ = tx.Rollback(ctx) }()
		require.True(t, res.Committed)
		require.Len(t, res.Claimed, limit)
		require.NoError(t, tx.Commit(ctx))
		requireNotified(t, notified, ready, limit == 1, "a pass claiming %d of the 2 children it readied", limit)
	}
}

// A creation that settles notifies exactly when it leaves a ready step of
// its task unclaimed, and wakes this process's subscribers then.
func TestSettledCreationNotifiesOnlyForStepsLeftUnclaimed(t *testing.T) {
	t.Parallel()
	d, notified, ready := openListening(t, taskerdriver.TopicStepsReady)
	ctx := t.Context()
	now := testdb.Base
	for i, limit := range []int{2, 1} {
		drain(ready)
		tx, err := d.Executor().Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		res, err := tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "roots", Version: "1",
			Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: "roots-" + string(rune('a'+i)), RequestedAt: now, Now: now,
			Claim:  &taskerdriver.StepClaimParams{Now: now, Limit: limit, Owner: "w", LeaseExpiresAt: now.Add(time.Hour)},
			Settle: true,
			Steps:  []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}, {Name: "b", Handler: "h"}}})
		require.NoError(t, err)
		require.True(t, res.Committed)
		require.Len(t, res.Claimed, limit)
		require.NoError(t, tx.Commit(ctx))
		requireNotified(t, notified, ready, limit == 1, "a creation claiming %d of its 2 roots", limit)
	}
}

// A settled pass that completes its task (Done) sends the task-changed
// notification and wakes this process's subscribers; one whose task keeps
// running sends none.
func TestSettledCompletionNotifiesTaskChanged(t *testing.T) {
	t.Parallel()
	d, notified, changed := openListening(t, taskerdriver.TopicTaskChanged)
	ctx := t.Context()
	f := newSettleFixture(t, d.Executor())
	done := &taskerdriver.SettleDecision{From: taskertype.StateInProgress, To: taskertype.StateComplete, Reason: "all_steps_complete"}
	finish := func(steps []*taskerdriver.ClaimedStep) *taskerdriver.StepFinishAndClaimResult {
		t.Helper()
		tx, err := d.Executor().Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		res, err := tx.StepFinishAndClaim(ctx, &taskerdriver.StepFinishAndClaimParams{Finish: completions(f.now, steps...), Progress: []int64{f.task},
			Claim:  &taskerdriver.StepClaimParams{Now: f.now, Limit: 10, Owner: "w", LeaseExpiresAt: f.now.Add(time.Hour), TaskIDs: []int64{f.task}},
			Settle: true, Done: done})
		require.NoError(t, err)
		require.True(t, res.Committed)
		require.NoError(t, tx.Commit(ctx))
		return res
	}
	drain(changed)
	res := finish([]*taskerdriver.ClaimedStep{f.a})
	require.Empty(t, res.Done, "b and c run")
	require.Len(t, res.Claimed, 2)
	requireNotified(t, notified, changed, false, "a's pass")
	res = finish(res.Claimed)
	require.Len(t, res.Done, 1)
	require.Equal(t, taskertype.StateComplete, res.Done[0].State)
	requireNotified(t, notified, changed, true, "the pass that completes the task")
}
