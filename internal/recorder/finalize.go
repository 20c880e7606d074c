package recorder

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// FinalizeMany applies the task outcome rule (statemachine.Decide) to the
// tasks ids inside tx: it locks them in id order and counts their steps with
// one TaskProgressMany, and moves them with one TaskSetStateMany per step of
// the decisions (a pending task that completes passes through in_progress),
// each naming the task it holds locked (TaskSetStateParams.Locked). Every
// move is checked against the task state machine and fires the event
// the state machine names. It returns every task by id, as it is after the
// decision (a task deleted meanwhile is missing).
//
// A task that stays running gets workflow.no_viable_steps when nothing of it
// runs and its runnable steps all wait for a retry time, and task.blocked
// when a step of it was blocked (blocked[id]) while other steps can still
// progress: it can no longer complete.
func FinalizeMany(ctx context.Context, tx taskerdriver.Executor, ids []int64, blocked map[int64]bool, now time.Time, b *Batch) (map[int64]*taskertype.Task, error) {
	return finalize(ctx, tx, ids, blocked, nil, now, b)
}

// finalize is FinalizeMany given the tasks read already, locked in tx
// (known, from StepFinishAndClaim): it reads only the others.
func finalize(ctx context.Context, tx taskerdriver.Executor, ids []int64, blocked map[int64]bool, known map[int64]*taskerdriver.TaskWithProgress,
	now time.Time, b *Batch) (map[int64]*taskertype.Task, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var unknown []int64
	for _, id := range ids {
		if known[id] == nil {
			unknown = append(unknown, id)
		}
	}
	all := known
	if len(unknown) > 0 {
		read, err := tx.TaskProgressMany(ctx, unknown)
		if err != nil {
			return nil, err
		}
		all = make(map[int64]*taskerdriver.TaskWithProgress, len(ids))
		maps.Copy(all, read)
		maps.Copy(all, known)
	}
	tasks := make(map[int64]*taskertype.Task, len(all))
	var steps [2][]*taskerdriver.TaskSetStateParams // first moves, then second moves (of via decisions)
	for _, id := range ids {
		tp := all[id]
		if tp == nil {
			continue // deleted meanwhile
		}
		tasks[id] = tp.Task
		p := tp.Progress
		d := statemachine.Decide(tp.Task.State, Counts(p))
		moves := d.Moves(tp.Task.State)
		if len(moves) == 0 {
			runningEvents(tp.Task, p, blocked[id], now, b)
			continue
		}
		meta := ReasonMeta(d.Reason, map[string]any{"total_steps": p.Total, "done_steps": p.Done, "blocked_steps": p.Blocked})
		if len(moves) == 1 { // a single move goes with the last moves of two-move decisions
			moves = [][2]taskertype.State{{}, moves[0]}
		}
		for i, m := range moves {
			if m[1] == "" {
				continue
			}
			if err := statemachine.Task(m[0], m[1]); err != nil {
				return nil, fmt.Errorf("finalize task %d: %w", id, err)
			}
			steps[i] = append(steps[i], &taskerdriver.TaskSetStateParams{ID: id, From: []taskertype.State{m[0]}, To: m[1], Metadata: meta, Now: now})
		}
	}
	for i, ps := range steps {
		if len(ps) == 0 {
			continue
		}
		for _, p := range ps {
			// Each task is locked, as read or as its first move left it:
			// the driver need not read it back.
			if t := tasks[p.ID]; t != nil && t.State == p.From[0] {
				p.Locked = t
			}
		}
		moved, err := tx.TaskSetStateMany(ctx, ps)
		if err != nil {
			return nil, err
		}
		for j, t := range moved {
			tasks[t.ID] = t
			if i == 1 { // the decision's final move fires its event
				b.Add(&taskertype.Event{Name: statemachine.TaskEvent(ps[j].From[0], t.State), Task: t, At: now})
			}
		}
	}
	return tasks, nil
}

// Counts converts a driver's step counts to the state machine's.
func Counts(p *taskerdriver.TaskProgress) statemachine.Counts {
	return statemachine.Counts{Total: p.Total, Done: p.Done, InProgress: p.InProgress, Runnable: p.Runnable, Blocked: p.Blocked, Cancelled: p.Cancelled}
}

// runningEvents appends the events of a task that stays running after a
// change: task.blocked and workflow.no_viable_steps (see FinalizeMany).
func runningEvents(task *taskertype.Task, p *taskerdriver.TaskProgress, stepBlocked bool, now time.Time, b *Batch) {
	if task.State.Final() {
		return
	}
	if stepBlocked && p.Blocked > 0 {
		payload, _ := json.Marshal(map[string]any{"blocked_steps": p.Blocked, "runnable_steps": p.Runnable, "in_progress_steps": p.InProgress})
		b.Add(&taskertype.Event{Name: taskertype.EventTaskBlocked, Task: task, Payload: payload, At: now})
	}
	if p.InProgress == 0 && p.Runnable > 0 && p.NextRunnableAt.After(now) {
		payload, _ := json.Marshal(map[string]any{"next_attempt_at": p.NextRunnableAt.UTC().Format(time.RFC3339Nano), "waiting_steps": p.Runnable})
		b.Add(&taskertype.Event{Name: taskertype.EventWorkflowNoViableSteps, Task: task, Payload: payload, At: now})
	}
}
