package taskersqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// kit is an executor in a transaction seen by the shared procedures of
// driverkit: it gives them this driver's SQL.
type kit struct{ *executor }

var _ driverkit.Kit = kit{}

// Notify queues topic for the commit.
func (k kit) Notify(_ context.Context, topic string) error {
	k.topics = append(k.topics, topic)
	return nil
}

func (e *executor) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]taskerdriver.StepFinishOutcome, error) {
		return driverkit.FinishSteps(ctx, kit{x}, ps)
	})
}

// FinishUpdate updates the steps one by one (SQLite has one writer: the
// statements are short, and each is prepared once).
func (k kit) FinishUpdate(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, []int, error) {
	steps := make([]*taskertype.Step, 0, len(ps))
	seqs := make([]int, 0, len(ps))
	t := us(now)
	for i, p := range ps {
		var errJSON, processed any
		if errs[i] != nil {
			errJSON = *errs[i]
		}
		if p.State == taskertype.StateComplete {
			processed = t
		}
		step, seq, err := scanStep(k.w.QueryRowContext(ctx, `UPDATE tasker_workflow_steps SET state = ?,
		results = coalesce(?, results), last_error = ?, blocked = ?, next_attempt_at = ?, processed_at = coalesce(?, processed_at),
		lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, transition_seq = transition_seq + 1
		WHERE workflow_step_id = ? AND state = 'in_progress' AND lease_owner = ? AND attempts = ?
		RETURNING `+stepCols,
			string(p.State), nullJSON(p.Results), errJSON, boolInt(p.Blocked), us(p.NextAttemptAt), processed, t,
			p.StepID, p.Owner, p.Attempt))
		if errors.Is(err, taskerdriver.ErrNotFound) {
			continue // the guard failed: the lease is lost
		}
		if err != nil {
			return nil, nil, fmt.Errorf("finish step: %w", err)
		}
		steps, seqs = append(steps, step), append(seqs, seq)
	}
	return steps, seqs, nil
}

// WriteStepTransitions writes step transition rows, demoting the previous
// most recent ones; only the last row of each step is most recent.
func (k kit) WriteStepTransitions(ctx context.Context, rows []driverkit.StepTransition, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := k.w.ExecContext(ctx, `UPDATE tasker_workflow_step_transitions SET most_recent = 0
		WHERE workflow_step_id IN (SELECT value FROM json_each(?)) AND most_recent = 1`, idsJSON(driverkit.StepIDsOf(rows))); err != nil {
		return fmt.Errorf("step transitions: %w", err)
	}
	recent := driverkit.MostRecent(rows)
	t := us(now)
	const chunk = 400
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		args := make([]any, 0, (end-start)*8)
		for i := start; i < end; i++ {
			r := rows[i]
			var from any
			if r.From != "" {
				from = string(r.From)
			}
			args = append(args, r.StepID, r.TaskID, from, string(r.To), string(driverkit.Meta(r.Meta)), driverkit.SortKey(r.Seq), boolInt(recent[i]), t)
		}
		q := `INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata,
			sort_key, most_recent, created_at) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?),", end-start), ",")
		if _, err := k.w.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("step transitions: %w", err)
		}
	}
	return nil
}

// SatisfyChildren decrements the unfinished-parent counts of the children
// of each parent in turn, and returns how many each made ready.
func (k kit) SatisfyChildren(ctx context.Context, parents []int64, now time.Time) (map[int64]int, error) {
	out := make(map[int64]int, len(parents))
	for _, parent := range parents {
		children, err := queryAll(ctx, k.w, `UPDATE tasker_workflow_steps SET pending_parents = pending_parents - (
			SELECT count(*) FROM tasker_workflow_step_edges e WHERE e.to_step_id = tasker_workflow_steps.workflow_step_id
			AND e.from_step_id IN (SELECT value FROM json_each(?))), updated_at = ?
		WHERE workflow_step_id IN (SELECT to_step_id FROM tasker_workflow_step_edges WHERE from_step_id IN (SELECT value FROM json_each(?)))
		RETURNING pending_parents, state`,
			[]any{idsJSON([]int64{parent}), us(now), idsJSON([]int64{parent})}, scanIDState) // id holds pending_parents
		if err != nil {
			return nil, fmt.Errorf("satisfy children: %w", err)
		}
		for _, c := range children {
			if pendingParents := c.id; pendingParents == 0 && c.state == taskertype.StatePending {
				out[parent]++
			}
		}
		if out[parent] > 0 {
			_ = k.Notify(ctx, taskerdriver.TopicStepsReady)
		}
	}
	return out, nil
}

func (e *executor) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Step, error) { return driverkit.SetStepStates(ctx, kit{x}, p) })
}

func (k kit) FindSteps(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]driverkit.StepFound, error) {
	where, args := stepWhere(p.TaskID, p.IDs, p.From)
	if p.Owner != "" {
		where = append(where, "lease_owner = ?")
		args = append(args, p.Owner)
	}
	found, err := queryAll(ctx, k.w, `SELECT workflow_step_id, state FROM tasker_workflow_steps WHERE `+strings.Join(where, " AND "), args, scanIDState)
	out := make([]driverkit.StepFound, len(found))
	for i, f := range found {
		out[i] = driverkit.StepFound{ID: f.id, State: f.state}
	}
	return out, err
}

func (k kit) MoveSteps(ctx context.Context, p *taskerdriver.StepSetStateParams, ids []int64, now time.Time) ([]*taskertype.Step, []int, error) {
	t := us(now)
	sets := []string{"state = ?", "updated_at = ?", "transition_seq = transition_seq + 1", "blocked = 0",
		"lease_owner = NULL", "lease_expires_at = NULL"}
	args := []any{string(p.To), t}
	if p.Results != nil {
		sets = append(sets, "results = ?")
		args = append(args, string(p.Results))
	}
	if p.To.Done() {
		sets = append(sets, "processed_at = ?")
		args = append(args, t)
	}
	if p.ResetAttempts {
		sets = append(sets, "attempts = 0", "last_error = NULL", "next_attempt_at = ?")
		args = append(args, t)
	}
	if p.DecrementAttempt {
		sets = append(sets, "attempts = max(attempts - 1, 0)")
	}
	return querySteps(ctx, k.w, `UPDATE tasker_workflow_steps SET `+strings.Join(sets, ", ")+
		` WHERE workflow_step_id IN (SELECT value FROM json_each(?)) RETURNING `+stepCols, append(args, idsJSON(ids)))
}

// TaskProgressMany counts the steps of each task. SQLite has one writer: a
// transaction already excludes every other, so there is nothing to lock.
func (e *executor) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	out := make(map[int64]*taskerdriver.TaskWithProgress, len(ids))
	for _, id := range ids {
		t, err := e.TaskGet(ctx, id)
		if errors.Is(err, taskerdriver.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := e.taskProgress(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = &taskerdriver.TaskWithProgress{Task: t, Progress: p}
	}
	return out, nil
}

func (e *executor) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Task, error) { return driverkit.SetTaskStates(ctx, kit{x}, ps) })
}

func (k kit) MoveTasks(ctx context.Context, moves []driverkit.TaskMove, now time.Time) ([]*taskertype.Task, []int, error) {
	t := us(now)
	var tasks []*taskertype.Task
	var seqs []int
	for _, m := range moves {
		var from string
		var seq int
		err := k.w.QueryRowContext(ctx, `SELECT state, transition_seq FROM tasker_tasks WHERE task_id = ?`, m.ID).Scan(&from, &seq)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && taskertype.State(from) != m.From) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		completed := any(nil)
		if m.Final {
			completed = t
		}
		task, err := scanTask(k.w.QueryRowContext(ctx, `UPDATE tasker_tasks SET state = ?, transition_seq = transition_seq + 1,
		updated_at = ?, completed_at = ? WHERE task_id = ? RETURNING `+taskCols, string(m.To), t, completed, m.ID))
		if err != nil {
			return nil, nil, fmt.Errorf("update task state: %w", err)
		}
		tasks, seqs = append(tasks, task), append(seqs, seq+1)
	}
	return tasks, seqs, nil
}

func (k kit) ExistingTasks(ctx context.Context, ids []int64) (map[int64]bool, error) {
	found, err := queryAll(ctx, k.w, `SELECT task_id FROM tasker_tasks WHERE task_id IN (SELECT value FROM json_each(?))`, []any{idsJSON(ids)}, scanID)
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, err
}

func (k kit) WriteTaskTransitions(ctx context.Context, rows []driverkit.TaskTransition, now time.Time) error {
	for _, r := range rows {
		if err := k.taskTransition(ctx, r.TaskID, string(r.From), r.To, r.Meta, r.Seq, us(now)); err != nil {
			return err
		}
	}
	return nil
}
