package taskerdrivertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// tasks exercises tasks: creation, identity, reading, listing, updates, moves, progress and retention.
func (s *suite) tasks(t *testing.T) {
	s.run(t, "TaskCreate", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "h1")
		require.False(t, res.Existing)
		require.Equal(t, taskertype.StatePending, res.Task.State)
		require.Equal(t, "default.diamond@1.0.0", res.Task.FullName())
		require.JSONEq(t, `{"n":1}`, string(res.Task.Context))
		require.Equal(t, []string{"x", "y"}, res.Task.Tags)
		require.Equal(t, base, res.Task.CreatedAt)
		require.Len(t, res.Steps, 4)
		s := byName(res.Steps)
		require.Equal(t, 0, s["a"].PendingParents)
		require.Equal(t, 2, s["d"].PendingParents)
		require.Equal(t, []int64{s["b"].ID, s["c"].ID}, s["a"].ChildIDs)
		require.ElementsMatch(t, []int64{s["b"].ID, s["c"].ID}, s["d"].ParentIDs)
		for _, st := range res.Steps {
			require.Equal(t, taskertype.StatePending, st.State)
			require.Zero(t, st.Attempts)
			tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: st.ID})
			require.NoError(t, err)
			require.Len(t, tr, 1)
			require.Equal(t, taskertype.State(""), tr[0].FromState)
			require.Equal(t, taskertype.StatePending, tr[0].ToState)
			require.True(t, tr[0].MostRecent)
			require.Zero(t, tr[0].SortKey)
		}
		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 1)
		got, err := b.ex.TaskGet(b.ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, res.Task, got)
	})

	s.run(t, "TransitionFeed", func(t *testing.T, b *bundle) {
		feed := func(steps bool, after int64, limit int) []*taskertype.Transition {
			t.Helper()
			tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{Feed: true, AllSteps: steps, AfterID: after, Limit: limit})
			require.NoError(t, err)
			return tr
		}
		require.Empty(t, feed(false, -1, 0), "an empty database has no newest transition")
		first := diamond(t, b, "f1")
		newest := feed(true, -1, 0)
		require.Len(t, newest, 1, "the newest step transition only")
		stepsBefore := feed(true, 0, 0)
		require.Len(t, stepsBefore, 4, "the creation's step transitions")
		require.Equal(t, newest[0].ID, stepsBefore[3].ID)
		tasksBefore := feed(false, 0, 0)
		require.Len(t, tasksBefore, 1)
		require.Equal(t, first.Task.ID, tasksBefore[0].TaskID)
		require.Zero(t, tasksBefore[0].StepID)

		// What happens next is exactly what the feed lists after the newest
		// ids read before, in id order; the last row of a step is its most
		// recent.
		second := diamond(t, b, "f2")
		a := claim(t, b, base, "w1", 1)
		require.Len(t, a, 1)
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: a[0].Step.ID, Owner: "w1", Attempt: 1,
			State: taskertype.StateComplete, Now: base.Add(time.Second)})
		require.NoError(t, err)
		steps := feed(true, newest[0].ID, 0)
		require.Len(t, steps, 4+2, "the second task's creation, then a's claim and completion")
		for i, tr := range steps {
			if i > 0 {
				require.Greater(t, tr.ID, steps[i-1].ID)
			}
		}
		last := steps[len(steps)-1]
		require.Equal(t, a[0].Step.ID, last.StepID)
		require.Equal(t, taskertype.StateInProgress, last.FromState)
		require.Equal(t, taskertype.StateComplete, last.ToState)
		require.True(t, last.MostRecent)
		require.False(t, steps[len(steps)-2].MostRecent, "a's claim is no longer its most recent")
		tasks := feed(false, tasksBefore[0].ID, 0)
		require.NotEmpty(t, tasks)
		require.Equal(t, second.Task.ID, tasks[0].TaskID)
		require.Len(t, feed(true, newest[0].ID, 2), 2, "the limit")
		require.Empty(t, feed(true, last.ID, 0), "nothing after the newest")

		_, err = b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{Feed: true, TaskID: first.Task.ID})
		require.ErrorContains(t, err, "TaskID and StepID must be zero")
	})

	s.run(t, "TaskCreateIdentityConflictReturnsExisting", func(t *testing.T, b *bundle) {
		first := diamond(t, b, "same")
		second := diamond(t, b, "same")
		require.True(t, second.Existing)
		require.Equal(t, first.Task.ID, second.Task.ID)
		_, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{})
		require.NoError(t, err)
		require.Equal(t, 1, total)
	})

	s.run(t, "TaskListCountLimit", func(t *testing.T, b *bundle) {
		for i := range 5 {
			diamond(t, b, fmt.Sprintf("capped-%d", i))
		}
		for _, c := range []struct{ limit, want int }{{0, 5}, {2, 3}, {4, 5}, {5, 5}, {9, 5}} {
			list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{CountLimit: c.limit, Limit: 2})
			require.NoError(t, err)
			require.Equal(t, c.want, total, "count limit %d: the count stops at the limit + 1", c.limit)
			require.Len(t, list, 2, "the page is the page")
		}
		_, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{CountLimit: 1, States: []taskertype.State{taskertype.StateError}})
		require.NoError(t, err)
		require.Zero(t, total, "with the filters")
	})

	s.run(t, "TaskCreateTraceContext", func(t *testing.T, b *bundle) {
		const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		const state = "vendor=abc,other=x:y"
		res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
			Namespace: "default", Name: "one", Version: "1.0.0", Context: json.RawMessage(`{}`), Tags: []string{},
			IdentityHash: fmt.Sprintf("unique-%d", hashSeq.Add(1)), RequestedAt: base, Now: base,
			TraceParent: parent, TraceState: state,
			Steps: []taskerdriver.StepCreateParams{{Name: "x", Handler: "h", RetryLimit: 3, Retryable: true}},
		})
		require.NoError(t, err)
		require.Equal(t, parent, res.Task.TraceParent)
		require.Equal(t, state, res.Task.TraceState)
		plain := diamond(t, b, "no-trace")
		require.Empty(t, plain.Task.TraceParent)
		require.Empty(t, plain.Task.TraceState)
		got, err := b.ex.TaskGet(b.ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, parent, got.TraceParent)
		require.Equal(t, state, got.TraceState)
		list, _, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Name: "one", OmitContext: true})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, parent, list[0].TraceParent)
		// A worker on any process reads it with the claimed step's task.
		claimed, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "w", LeaseExpiresAt: base.Add(time.Minute)})
		require.NoError(t, err)
		seen := map[int64]string{}
		for _, c := range claimed {
			seen[c.Task.ID] = c.Task.TraceParent + "|" + c.Task.TraceState
		}
		require.Equal(t, parent+"|"+state, seen[res.Task.ID])
		require.Equal(t, "|", seen[plain.Task.ID])
	})

	s.run(t, "TaskCreateIdempotencyKey", func(t *testing.T, b *bundle) {
		create := func(key, hash string, now, since time.Time) *taskerdriver.TaskCreateResult {
			t.Helper()
			res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
				Namespace: "default", Name: "one", Version: "1.0.0", Context: json.RawMessage(`{}`), Tags: []string{},
				IdentityHash: fmt.Sprintf("unique-%d", hashSeq.Add(1)), RequestedAt: now, Now: now,
				IdempotencyKey: key, IdempotencyHash: hash, IdempotencySince: since,
				Steps: []taskerdriver.StepCreateParams{{Name: "x", Handler: "h", RetryLimit: 3, Retryable: true}},
			})
			require.NoError(t, err)
			return res
		}
		first := create("k1", "hash-a", base, base.Add(-time.Hour))
		require.False(t, first.Existing)
		require.False(t, first.Replayed)
		require.Len(t, first.Steps, 1)

		again := create("k1", "hash-b", base.Add(time.Minute), base.Add(-time.Hour))
		require.True(t, again.Existing)
		require.True(t, again.Replayed)
		require.Equal(t, first.Task.ID, again.Task.ID, "a different identity, the same key: the first task")
		require.Equal(t, "hash-a", again.RequestHash, "the hash stored with the key, for the caller to compare")

		other := create("k2", "hash-a", base, base.Add(-time.Hour))
		require.False(t, other.Existing)
		require.NotEqual(t, first.Task.ID, other.Task.ID)

		// Past the window the key names a new create.
		later := create("k1", "hash-c", base.Add(2*time.Hour), base.Add(time.Hour))
		require.False(t, later.Existing)
		require.NotEqual(t, first.Task.ID, later.Task.ID)
		again = create("k1", "hash-d", base.Add(2*time.Hour), base.Add(time.Hour))
		require.True(t, again.Replayed)
		require.Equal(t, later.Task.ID, again.Task.ID)
		require.Equal(t, "hash-c", again.RequestHash)

		// Without a key nothing changes: identities decide.
		require.False(t, create("", "", base, time.Time{}).Existing)

		// Concurrent creates under one key make one task.
		var wg sync.WaitGroup
		got := make([]*taskerdriver.TaskCreateResult, 8)
		for i := range got {
			wg.Go(func() { got[i] = create("k3", "hash-a", base, base.Add(-time.Hour)) })
		}
		wg.Wait()
		made := 0
		for _, r := range got {
			require.Equal(t, got[0].Task.ID, r.Task.ID)
			if !r.Existing {
				made++
			}
		}
		require.Equal(t, 1, made)
	})

	s.run(t, "TaskGetNotFound", func(t *testing.T, b *bundle) {
		_, err := b.ex.TaskGet(b.ctx, 999)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		_, err = b.ex.StepGet(b.ctx, 999)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
	})

	s.run(t, "TaskListFiltersAndPages", func(t *testing.T, b *bundle) {
		var ids []int64
		for i := range 5 {
			res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
				Namespace: []string{"a", "b"}[i%2], Name: "t", Version: "1.0.0", Initiator: "me", SourceSystem: "s", Reason: "r",
				Tags: []string{[]string{"even", "odd"}[i%2]}, IdentityHash: string(rune('a' + i)), RequestedAt: base, Now: base.Add(time.Duration(i) * time.Minute),
				Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", RetryLimit: 1, Retryable: true}},
			})
			require.NoError(t, err)
			ids = append(ids, res.Task.ID)
		}
		list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Namespace: "a", Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Len(t, list, 2)
		require.Equal(t, ids[0], list[0].ID)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Tags: []string{"odd"}, OrderBy: "created_at", Desc: true})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, ids[3], list[0].ID)
		list, total, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{CreatedAfter: base.Add(2 * time.Minute), Offset: 1, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Len(t, list, 2)
		_, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{OrderBy: "1; DROP TABLE x"})
		require.Error(t, err)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{States: []taskertype.State{taskertype.StateComplete}})
		require.NoError(t, err)
		require.Empty(t, list)
	})

	s.run(t, "TaskListOmitsContext", func(t *testing.T, b *bundle) {
		res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
			Namespace: "a", Name: "t", Version: "1.0.0", Context: json.RawMessage(`{"big": "` + strings.Repeat("x", 1000) + `"}`),
			Initiator: "me", SourceSystem: "s", Reason: "r", Tags: []string{"x"}, IdentityHash: "omit", RequestedAt: base, Now: base,
		})
		require.NoError(t, err)
		list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{OmitContext: true})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Len(t, list, 1)
		require.Nil(t, list[0].Context, "the context is not read")
		require.Equal(t, res.Task.ID, list[0].ID)
		require.Equal(t, []string{"x"}, list[0].Tags)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{})
		require.NoError(t, err)
		require.JSONEq(t, `{"big": "`+strings.Repeat("x", 1000)+`"}`, string(list[0].Context))
	})

	s.run(t, "TaskSetStateAndUpdate", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "")
		_, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: res.Task.ID, From: []taskertype.State{taskertype.StateError}, To: taskertype.StatePending, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict)
		task, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: res.Task.ID, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateCancelled, task.State)
		require.Equal(t, base, task.CompletedAt)
		reason := "because"
		task, err = b.ex.TaskUpdate(b.ctx, &taskerdriver.TaskUpdateParams{ID: res.Task.ID, Reason: &reason, Tags: []string{"z"}, Now: base})
		require.NoError(t, err)
		require.Equal(t, "because", task.Reason)
		require.Equal(t, []string{"z"}, task.Tags)
		limit := 9
		step, err := b.ex.StepUpdate(b.ctx, &taskerdriver.StepUpdateParams{ID: res.Steps[0].ID, RetryLimit: &limit, Inputs: json.RawMessage(`{"i":1}`), Now: base})
		require.NoError(t, err)
		require.Equal(t, 9, step.RetryLimit)
		require.JSONEq(t, `{"i":1}`, string(step.Inputs))
		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 2, "an update without Metadata writes no transition")
	})

	s.run(t, "AuditedUpdate", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "")
		reason := "audited"
		later := base.Add(time.Minute)
		task, err := b.ex.TaskUpdate(b.ctx, &taskerdriver.TaskUpdateParams{ID: res.Task.ID, Reason: &reason, Now: later,
			Metadata: json.RawMessage(`{"reason":"updated","fields":["reason"],"actor":"ops"}`)})
		require.NoError(t, err)
		require.Equal(t, "audited", task.Reason)
		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 2, "the create's and the update's")
		require.Equal(t, taskertype.StatePending, tt[1].FromState, "an audit transition keeps the state")
		require.Equal(t, taskertype.StatePending, tt[1].ToState)
		require.Greater(t, tt[1].SortKey, tt[0].SortKey)
		require.True(t, tt[1].MostRecent)
		require.Equal(t, later, tt[1].CreatedAt)
		require.JSONEq(t, `{"reason":"updated","fields":["reason"],"actor":"ops"}`, string(tt[1].Metadata))

		limit := 4
		before, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: res.Steps[0].ID})
		require.NoError(t, err)
		_, err = b.ex.StepUpdate(b.ctx, &taskerdriver.StepUpdateParams{ID: res.Steps[0].ID, RetryLimit: &limit, Now: later,
			Metadata: json.RawMessage(`{"reason":"updated","fields":["retry_limit"]}`)})
		require.NoError(t, err)
		after, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: res.Steps[0].ID})
		require.NoError(t, err)
		require.Len(t, after, len(before)+1)
		last := after[len(after)-1]
		require.Equal(t, last.FromState, last.ToState)
		require.Equal(t, res.Steps[0].State, last.ToState)
		require.JSONEq(t, `{"reason":"updated","fields":["retry_limit"]}`, string(last.Metadata))
		require.True(t, last.MostRecent)

		// the next state change sorts after the audit row
		_, err = setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: res.Task.ID, To: taskertype.StateCancelled, Now: later})
		require.NoError(t, err)
		tt, err = b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 3)
		require.Equal(t, taskertype.StateCancelled, tt[2].ToState)
		require.Greater(t, tt[2].SortKey, tt[1].SortKey)

		_, err = b.ex.TaskUpdate(b.ctx, &taskerdriver.TaskUpdateParams{ID: 424242, Reason: &reason, Now: later, Metadata: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
	})

	s.run(t, "CreateMetadata", func(t *testing.T, b *bundle) {
		res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "meta", Version: "1.0.0",
			Context: json.RawMessage(`{}`), IdentityHash: "create-meta", RequestedAt: base, Now: base,
			Metadata: json.RawMessage(`{"initialized_by":"task_create","actor":"ops"}`),
			Steps:    []taskerdriver.StepCreateParams{{Name: "a", Handler: "h", RetryLimit: 1, Retryable: true}}})
		require.NoError(t, err)
		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 1)
		require.JSONEq(t, `{"initialized_by":"task_create","actor":"ops"}`, string(tt[0].Metadata))
	})

	s.run(t, "TaskSetStateMany", func(t *testing.T, b *bundle) {
		x, y := diamond(t, b, ""), diamond(t, b, "")
		tasks, err := b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: y.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: base},
			{ID: x.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateInProgress, Metadata: json.RawMessage(`{"why":"x"}`), Now: base},
		})
		require.NoError(t, err)
		require.Len(t, tasks, 2)
		require.Equal(t, y.Task.ID, tasks[0].ID)
		require.Equal(t, taskertype.StateCancelled, tasks[0].State)
		require.Equal(t, base, tasks[0].CompletedAt)
		require.Equal(t, taskertype.StateInProgress, tasks[1].State)
		require.True(t, tasks[1].CompletedAt.IsZero())
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: x.Task.ID})
		require.NoError(t, err)
		require.Len(t, tr, 2)
		require.Equal(t, taskertype.StatePending, tr[1].FromState)
		require.Equal(t, 10, tr[1].SortKey)
		require.True(t, tr[1].MostRecent)
		require.False(t, tr[0].MostRecent)
		require.JSONEq(t, `{"why":"x"}`, string(tr[1].Metadata))
		_, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: x.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateError, Now: base},
		})
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict, "x is no longer pending")
		_, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: 424242, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateError, Now: base},
		})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		_, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: y.Task.ID, To: taskertype.StateError, Now: base},
		})
		require.Error(t, err, "From must hold exactly one state")
		tasks, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: y.Task.ID, From: []taskertype.State{taskertype.StateCancelled}, To: taskertype.StatePending, Now: base},
		})
		require.NoError(t, err)
		require.True(t, tasks[0].CompletedAt.IsZero(), "a task no longer final has no completion time")
	})

	s.run(t, "TaskSetStateManyLocked", func(t *testing.T, b *bundle) {
		// Moves of tasks the transaction holds locked (Locked): what they
		// return is what a read finds after the commit, transitions
		// included, through a two-move decision.
		x := diamond(t, b, "")
		at := base.Add(1500 * time.Microsecond)
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		read, err := tx.TaskProgressMany(b.ctx, []int64{x.Task.ID})
		require.NoError(t, err)
		first, err := tx.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{{ID: x.Task.ID,
			From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateInProgress, Now: at, Locked: read[x.Task.ID].Task}})
		require.NoError(t, err)
		final, err := tx.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{{ID: x.Task.ID,
			From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StateComplete, Metadata: json.RawMessage(`{"why":"done"}`),
			Now: at, Locked: first[0]}})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(b.ctx))
		got, err := b.ex.TaskGet(b.ctx, x.Task.ID)
		require.NoError(t, err)
		require.Equal(t, got, final[0], "the moved task as returned and as stored")
		require.Equal(t, taskertype.StateComplete, got.State)
		require.Equal(t, at, got.CompletedAt)
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: x.Task.ID})
		require.NoError(t, err)
		require.Len(t, tr, 3)
		require.Equal(t, []taskertype.State{taskertype.StatePending, taskertype.StateInProgress, taskertype.StateComplete},
			[]taskertype.State{tr[0].ToState, tr[1].ToState, tr[2].ToState})
		require.Equal(t, []int{0, 10, 20}, []int{tr[0].SortKey, tr[1].SortKey, tr[2].SortKey})
		require.True(t, tr[2].MostRecent)
		require.JSONEq(t, `{"why":"done"}`, string(tr[2].Metadata))

		// A Locked that is not what the task is in fails the move as a
		// state conflict, by the transaction's next statement at the
		// latest (here a claim), and nothing is written.
		y := diamond(t, b, "")
		stale := *y.Task
		_, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{{ID: y.Task.ID,
			From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateInProgress, Now: at}})
		require.NoError(t, err)
		tx, err = b.ex.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{{ID: y.Task.ID,
			From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: at, Locked: &stale}})
		if err == nil {
			_, err = tx.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: at, Limit: 1, Owner: "w", LeaseExpiresAt: at.Add(time.Minute)})
		}
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict)
		require.NoError(t, tx.Rollback(b.ctx))
		got, err = b.ex.TaskGet(b.ctx, y.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateInProgress, got.State)
		tr, err = b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: y.Task.ID})
		require.NoError(t, err)
		require.Len(t, tr, 2)
	})

	s.run(t, "TaskProgressManyReturnsTheTasks", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "")
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		got, err := tx.TaskProgressMany(b.ctx, []int64{res.Task.ID, 424242})
		require.NoError(t, err)
		require.Len(t, got, 1, "a task that does not exist is left out")
		require.Equal(t, res.Task.ID, got[res.Task.ID].Task.ID)
	})

	s.run(t, "TaskDeleteFinished", func(t *testing.T, b *bundle) {
		old := diamond(t, b, "")
		running := diamond(t, b, "")
		failed := diamond(t, b, "")
		recent := diamond(t, b, "")
		set := func(id int64, to taskertype.State, at time.Time) {
			t.Helper()
			_, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: id, To: to, Now: at})
			require.NoError(t, err)
		}
		set(old.Task.ID, taskertype.StateCancelled, base)
		set(failed.Task.ID, taskertype.StateError, base)
		set(recent.Task.ID, taskertype.StateCancelled, base.Add(time.Hour))
		n, err := b.ex.TaskDeleteFinished(b.ctx, &taskerdriver.TaskDeleteFinishedParams{
			States: []taskertype.State{taskertype.StateComplete, taskertype.StateCancelled}, Before: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = b.ex.TaskGet(b.ctx, old.Task.ID)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		_, err = b.ex.StepGet(b.ctx, old.Steps[0].ID)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound, "steps go with their task")
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: old.Task.ID, AllSteps: true})
		require.NoError(t, err)
		require.Empty(t, tr, "and their transitions")
		for _, keep := range []int64{running.Task.ID, failed.Task.ID, recent.Task.ID} {
			_, err := b.ex.TaskGet(b.ctx, keep)
			require.NoError(t, err)
		}
	})
}
