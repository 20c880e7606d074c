package taskersqlite

import (
	"context"
	"fmt"
	"strings"
)

// deferredTransitions are the audit rows a transaction of the driver's own
// wrote and has not inserted yet. They are inserted with one statement per
// table (per transitionChunk rows) just before the commit, or before the
// first statement of the transaction that could see them: one that names a
// transitions table, or deletes (tasks' transitions go with them). A
// worker pass records results and claims steps, a creation inserts a task
// and claims its first steps: each half writes transitions, and SQLite
// runs every statement at a fixed cost of its own (docs/benchmarks.md).
//
// A transaction borrowed from the caller (Driver.UnwrapTx) has none: the
// caller commits it, so its rows are inserted at once.
type deferredTransitions struct {
	steps []any // stepTransitionCols values a row
	tasks []any // taskTransitionCols values a row
	// err is the first failed insert: the transaction cannot commit.
	err error
}

// transitionChunk bounds the rows of one insert (7 variables a row, under
// SQLite's 32,766).
const transitionChunk = 400

// The columns of the transition rows, in the order of their values.
const (
	stepTransitionCols = 7 // workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at
	taskTransitionCols = 6 // task_id, from_state, to_state, metadata, sort_key, created_at
)

const (
	stepTransitionsInsert = `INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata,
			sort_key, created_at) VALUES `
	taskTransitionsInsert = `INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at) VALUES `
)

// sees reports whether query may read, write or delete transition rows.
func sees(query string) bool {
	return strings.Contains(query, "_transitions") || strings.HasPrefix(strings.TrimSpace(query), "DELETE")
}

// insert inserts the deferred rows through q (whose own deferral it
// bypasses) and forgets them.
func (d *deferredTransitions) insert(ctx context.Context, q txQuerier) error {
	if d.err != nil {
		return d.err
	}
	steps, tasks := d.steps, d.tasks
	d.steps, d.tasks = nil, nil
	q.def = nil
	if err := insertRows(ctx, q, stepTransitionsInsert, stepTransitionCols, steps); err != nil {
		d.err = fmt.Errorf("step transitions: %w", err)
		return d.err
	}
	if err := insertRows(ctx, q, taskTransitionsInsert, taskTransitionCols, tasks); err != nil {
		d.err = fmt.Errorf("task transitions: %w", err)
		return d.err
	}
	return nil
}

// insertRows inserts the rows of values (width values a row) with the
// statement that starts with prefix, a multi-row VALUES per
// transitionChunk rows.
func insertRows(ctx context.Context, q querier, prefix string, width int, values []any) error {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + "),"
	for start := 0; start < len(values); start += transitionChunk * width {
		end := min(start+transitionChunk*width, len(values))
		if _, err := q.ExecContext(ctx, prefix+strings.TrimSuffix(strings.Repeat(group, (end-start)/width), ","), values[start:end]...); err != nil {
			return err
		}
	}
	return nil
}

// before inserts the deferred rows when query could see them. A failure
// is kept for the commit, which it fails.
func (d *deferredTransitions) before(ctx context.Context, q txQuerier, query string) {
	if d == nil || (len(d.steps) == 0 && len(d.tasks) == 0) || !sees(query) {
		return
	}
	_ = d.insert(ctx, q)
}

// stepTransitions writes step transition rows (stepTransitionCols values
// each): deferred in a transaction of the driver's own, at once in a
// borrowed one.
func (x *executor) stepTransitions(ctx context.Context, values ...any) error {
	if x.def != nil {
		x.def.steps = append(x.def.steps, values...)
		return nil
	}
	return insertRows(ctx, x.w, stepTransitionsInsert, stepTransitionCols, values)
}

// taskTransitions is stepTransitions for task transition rows
// (taskTransitionCols values each).
func (x *executor) taskTransitions(ctx context.Context, values ...any) error {
	if x.def != nil {
		x.def.tasks = append(x.def.tasks, values...)
		return nil
	}
	return insertRows(ctx, x.w, taskTransitionsInsert, taskTransitionCols, values)
}
