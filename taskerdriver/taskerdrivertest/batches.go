package taskerdrivertest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// batches exercises the batch operations of the hot path: StepFinishMany,
// TaskProgressMany and StepList.
func (s *suite) batches(t *testing.T) {
	// Two results for one attempt in one batch (a result sent twice): one
	// is recorded, and what follows agrees with it: the newest transition,
	// the children readied only by a completion, the outcomes of both.
	s.run(t, "StepFinishManyTwoResultsForOneStep", func(t *testing.T, b *bundle) {
		for _, order := range [][2]taskertype.State{{taskertype.StateComplete, taskertype.StateError}, {taskertype.StateError, taskertype.StateComplete}} {
			task := diamond(t, b, "")
			cs := claim(t, b, base, "w", 10)
			var a *taskerdriver.ClaimedStep
			for _, c := range cs {
				if c.Task.ID == task.Task.ID {
					a = c
				}
			}
			require.NotNil(t, a)
			ps := make([]*taskerdriver.StepFinishParams, 2)
			for i, st := range order {
				ps[i] = &taskerdriver.StepFinishParams{StepID: a.Step.ID, Owner: "w", Attempt: 1, State: st, Now: base,
					Metadata: json.RawMessage(`{"result":"` + string(st) + `"}`)}
				if st == taskertype.StateError {
					ps[i].NextAttemptAt = base.Add(time.Minute)
					ps[i].Error = &taskertype.StepError{Message: "no", Kind: "retryable", Attempt: 1, At: base}
				} else {
					ps[i].Results = json.RawMessage(`{}`)
				}
			}
			outs, err := b.ex.StepFinishMany(b.ctx, ps)
			require.NoError(t, err)
			step, err := b.ex.StepGet(b.ctx, a.Step.ID)
			require.NoError(t, err)
			require.Contains(t, []taskertype.State{taskertype.StateComplete, taskertype.StateError}, step.State)
			trs, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: a.Step.ID})
			require.NoError(t, err)
			last := trs[len(trs)-1]
			require.Equal(t, step.State, last.ToState, "%v: the newest transition is the recorded result's", order)
			require.JSONEq(t, `{"result":"`+string(step.State)+`"}`, string(last.Metadata), "%v", order)
			ready := 0
			for _, o := range outs {
				if o.Err == nil {
					require.Equal(t, step.State, o.Result.Step.State, "%v", order)
					ready += o.Result.ChildrenReady
				}
			}
			children, err := b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: task.Task.ID})
			require.NoError(t, err)
			for _, c := range children {
				if c.Name == "b" || c.Name == "c" {
					require.Equal(t, step.State != taskertype.StateComplete, c.PendingParents == 1,
						"%v: %s readied only if its parent completed", order, c.Name)
				}
			}
			if step.State != taskertype.StateComplete {
				require.Zero(t, ready, "%v", order)
			}
		}
	})
	s.run(t, "StepFinishManyMixedBatch", func(t *testing.T, b *bundle) {
		tasks := []*taskerdriver.TaskCreateResult{diamond(t, b, ""), diamond(t, b, ""), diamond(t, b, ""), diamond(t, b, "")}
		cs := claim(t, b, base, "w", 10)
		require.Len(t, cs, 4, "the root of each task")
		byTask := map[int64]*taskerdriver.ClaimedStep{}
		for _, c := range cs {
			byTask[c.Task.ID] = c
		}
		done, retry, blocked, lost := byTask[tasks[0].Task.ID], byTask[tasks[1].Task.ID], byTask[tasks[2].Task.ID], byTask[tasks[3].Task.ID]
		next := base.Add(5 * time.Second)
		outs, err := b.ex.StepFinishMany(b.ctx, []*taskerdriver.StepFinishParams{
			{StepID: done.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete, Results: json.RawMessage(`{"ok":true}`),
				Metadata: json.RawMessage(`{"attempt":1}`), Now: base},
			{StepID: retry.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError, NextAttemptAt: next, Now: base,
				Error: &taskertype.StepError{Message: "try again", Kind: "retryable", Attempt: 1, At: base}},
			{StepID: blocked.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError, Blocked: true, Now: base,
				Error: &taskertype.StepError{Message: "no", Kind: "permanent", Attempt: 1, At: base}},
			{StepID: lost.Step.ID, Owner: "someone-else", Attempt: 1, State: taskertype.StateComplete, Now: base},
		})
		require.NoError(t, err, "a lost lease is the outcome of its step, not of the call")
		require.Len(t, outs, 4)

		require.NoError(t, outs[0].Err)
		require.Equal(t, taskertype.StateComplete, outs[0].Result.Step.State)
		require.JSONEq(t, `{"ok":true}`, string(outs[0].Result.Step.Results))
		require.Equal(t, base, outs[0].Result.Step.ProcessedAt)
		require.Empty(t, outs[0].Result.Step.LeaseOwner)
		require.Equal(t, 2, outs[0].Result.ChildrenReady)

		require.NoError(t, outs[1].Err)
		require.Equal(t, taskertype.StateError, outs[1].Result.Step.State)
		require.Equal(t, "try again", outs[1].Result.Step.LastError.Message)
		require.Equal(t, next, outs[1].Result.Step.NextAttemptAt)
		require.False(t, outs[1].Result.Step.Blocked)
		require.Zero(t, outs[1].Result.ChildrenReady)

		require.NoError(t, outs[2].Err)
		require.True(t, outs[2].Result.Step.Blocked)
		require.Equal(t, "permanent", outs[2].Result.Step.LastError.Kind)

		require.ErrorIs(t, outs[3].Err, taskerdriver.ErrLeaseLost)
		require.Nil(t, outs[3].Result)
		still, err := b.ex.StepGet(b.ctx, lost.Step.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateInProgress, still.State, "nothing written for the lost lease")
		require.Equal(t, "w", still.LeaseOwner)

		for _, c := range []struct {
			id   int64
			to   taskertype.State
			meta string
		}{{done.Step.ID, taskertype.StateComplete, `{"attempt":1}`}, {retry.Step.ID, taskertype.StateError, `{}`}, {blocked.Step.ID, taskertype.StateError, `{}`}} {
			tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: c.id})
			require.NoError(t, err)
			last := tr[len(tr)-1]
			require.Equal(t, taskertype.StateInProgress, last.FromState)
			require.Equal(t, c.to, last.ToState)
			require.JSONEq(t, c.meta, string(last.Metadata))
			require.True(t, last.MostRecent)
			require.False(t, tr[len(tr)-2].MostRecent)
		}
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: lost.Step.ID})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateInProgress, tr[len(tr)-1].ToState)

		cs = claim(t, b, base, "w", 10)
		require.Equal(t, []string{"b", "c"}, names(cs), "the completed root's children are ready; the retry waits")
		cs = claim(t, b, next, "w", 10)
		require.Len(t, cs, 1)
		require.Equal(t, retry.Step.ID, cs[0].Step.ID)

		outs, err = b.ex.StepFinishMany(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, outs)
		_, err = b.ex.StepFinishMany(b.ctx, []*taskerdriver.StepFinishParams{{StepID: cs[0].Step.ID, Owner: "w", Attempt: 2,
			State: taskertype.StatePending, Now: next}})
		require.Error(t, err, "an attempt ends complete or error")
	})

	s.run(t, "TaskProgressManyCountsAndLocks", func(t *testing.T, b *bundle) {
		x, y := diamond(t, b, ""), diamond(t, b, "")
		cs := claim(t, b, base, "w", 10)
		require.Len(t, cs, 2)
		for _, c := range cs {
			p := &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete, Now: base}
			if c.Task.ID == y.Task.ID {
				p.State, p.Blocked, p.Error = taskertype.StateError, true, &taskertype.StepError{Message: "no"}
			}
			_, err := finishOne(b.ctx, b.ex, p)
			require.NoError(t, err)
		}
		all, err := b.ex.TaskProgressMany(b.ctx, []int64{y.Task.ID, x.Task.ID, 987654})
		require.NoError(t, err)
		require.Len(t, all, 2, "a task that does not exist is left out")
		require.Equal(t, x.Task.ID, all[x.Task.ID].Task.ID)
		require.Equal(t, taskertype.StateInProgress, all[x.Task.ID].Task.State)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Done: 1, Runnable: 2}, *all[x.Task.ID].Progress)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Blocked: 1}, *all[y.Task.ID].Progress)
		empty, err := b.ex.TaskProgressMany(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, empty)

		// Locked until the transaction ends: a second transaction's
		// finalization of the same tasks waits for the first.
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		locked, err := tx.TaskProgressMany(b.ctx, []int64{y.Task.ID, x.Task.ID})
		require.NoError(t, err)
		require.Len(t, locked, 2)
		second := make(chan error, 1)
		go func() {
			tx2, err := b.ex.Begin(b.ctx)
			if err != nil {
				second <- err
				return
			}
			_, err = tx2.TaskProgressMany(b.ctx, []int64{x.Task.ID, y.Task.ID})
			second <- errors.Join(err, tx2.Rollback(b.ctx))
		}()
		select {
		case err := <-second:
			t.Fatalf("a second transaction read the locked tasks (err %v)", err)
		default:
		}
		_, err = tx.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: y.Task.ID, From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StateError, Now: base}})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(b.ctx))
		require.NoError(t, <-second)
	})

	s.run(t, "StepList", func(t *testing.T, b *bundle) {
		res, other := diamond(t, b, ""), diamond(t, b, "")
		st := byName(res.Steps)
		steps, err := b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, steps, 4)
		for i, want := range []string{"a", "b", "c", "d"} {
			require.Equal(t, want, steps[i].Name, "in position order")
			require.Equal(t, res.Task.ID, steps[i].TaskID)
		}
		require.Equal(t, []int64{st["b"].ID, st["c"].ID}, steps[0].ChildIDs)
		require.Empty(t, steps[0].ParentIDs)
		require.ElementsMatch(t, []int64{st["b"].ID, st["c"].ID}, steps[3].ParentIDs)
		require.Empty(t, steps[3].ChildIDs)

		steps, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{IDs: []int64{st["d"].ID, other.Steps[0].ID}})
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, st["d"].ID, steps[0].ID, "by task, then position")
		require.Equal(t, other.Steps[0].ID, steps[1].ID)
		require.ElementsMatch(t, []int64{st["b"].ID, st["c"].ID}, steps[0].ParentIDs, "edges of the listed steps, to steps not listed")
		require.Len(t, steps[1].ChildIDs, 2)

		third := diamond(t, b, "")
		steps, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskIDs: []int64{other.Task.ID, res.Task.ID, 424242}})
		require.NoError(t, err)
		require.Len(t, steps, 8, "the steps of both tasks, none of the third")
		for i, s := range steps {
			require.Equal(t, []int64{res.Task.ID, other.Task.ID}[i/4], s.TaskID, "by task, then position")
			require.NotEqual(t, third.Task.ID, s.TaskID)
		}
		require.ElementsMatch(t, []int64{st["b"].ID, st["c"].ID}, steps[3].ParentIDs)

		claimed := claim(t, b, base, "w", 10)
		steps, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: res.Task.ID, States: []taskertype.State{taskertype.StateInProgress}})
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.Equal(t, st["a"].ID, steps[0].ID)
		steps, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{IDs: []int64{st["a"].ID, st["b"].ID},
			States: []taskertype.State{taskertype.StatePending, taskertype.StateError}})
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.Equal(t, st["b"].ID, steps[0].ID)
		steps, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{IDs: []int64{424242}})
		require.NoError(t, err)
		require.Empty(t, steps)
		_, err = b.ex.StepList(b.ctx, &taskerdriver.StepListParams{})
		require.Error(t, err, "a list selects by task, ids or states")

		// Inputs and results can be left unread; every other field is the same.
		for _, c := range claimed {
			if c.Step.ID == st["a"].ID {
				complete(t, b, c, "w", base)
			}
		}
		_, err = b.ex.StepUpdate(b.ctx, &taskerdriver.StepUpdateParams{ID: st["b"].ID, Inputs: json.RawMessage(`{"in": 1}`), Now: base})
		require.NoError(t, err)
		full, err := b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.JSONEq(t, `{"from": "a"}`, string(full[0].Results))
		require.JSONEq(t, `{"in": 1}`, string(full[1].Inputs))
		for _, omit := range [][2]bool{{true, false}, {false, true}, {true, true}} {
			trimmed, err := b.ex.StepList(b.ctx, &taskerdriver.StepListParams{TaskID: res.Task.ID, OmitInputs: omit[0], OmitResults: omit[1]})
			require.NoError(t, err)
			require.Len(t, trimmed, len(full))
			for i := range full {
				want := *full[i]
				if omit[0] {
					want.Inputs = nil
				}
				if omit[1] {
					want.Results = nil
				}
				require.Equal(t, &want, trimmed[i], "omit inputs %v, results %v", omit[0], omit[1])
			}
		}
	})
}
