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
			sort_key, created_at) `
	taskTransitionsInsert = `INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at) `
)

// sees reports whether query may read, write or delete transition rows.
func sees(query string) bool {
	return strings.Contains(query, "_transitions") || strings.HasPrefix(strings.TrimSpace(query), "DELETE")
}

// insert inserts the deferred rows through q (whose own deferral it
// bypasses) and forgets them. When an insert fails, the transaction is
// rolled back at once and the error kept: SQLite may have rolled it back
// already (a full disk, an I/O error), and a statement run after that
// would commit on its own.
func (d *deferredTransitions) insert(ctx context.Context, q txQuerier) error {
	if d.err != nil {
		return d.err
	}
	steps, tasks := d.steps, d.tasks
	d.steps, d.tasks = nil, nil
	q.def = nil
	if err := insertRows(ctx, q, stepTransitionsInsert, stepTransitionCols, steps); err != nil {
		d.err = fmt.Errorf("step transitions: %w", err)
	} else if err := insertRows(ctx, q, taskTransitionsInsert, taskTransitionCols, tasks); err != nil {
		d.err = fmt.Errorf("task transitions: %w", err)
	}
	if d.err != nil {
		_ = q.tx.Rollback()
	}
	return d.err
}

// insertRows inserts the rows of values (width values a row), per
// transitionChunk rows, with the statement that starts with prefix. The
// rows are padded with rows of NULLs, which it skips, to a power of two:
// the statement's text depends on the number of its rows, and each text
// is prepared and kept once (stmtCache).
func insertRows(ctx context.Context, q querier, prefix string, width int, values []any) error {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + "),"
	for start := 0; start < len(values); start += transitionChunk * width {
		end := min(start+transitionChunk*width, len(values))
		n := padded((end-start)/width, transitionChunk)
		args := append(values[start:end:end], make([]any, n*width-(end-start))...)
		if _, err := q.ExecContext(ctx, prefix+`SELECT * FROM (VALUES `+strings.TrimSuffix(strings.Repeat(group, n), ",")+
			`) WHERE column1 IS NOT NULL`, args...); err != nil {
			return err
		}
	}
	return nil
}

// padded is the power of two at or above n, at most limit.
func padded(n, limit int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return min(p, limit)
}

// before inserts the deferred rows when query could see them, and returns
// the error of a failed insert (then or before: the transaction is over).
func (d *deferredTransitions) before(ctx context.Context, q txQuerier, query string) error {
	if d == nil {
		return nil
	}
	if d.err != nil {
		return d.err
	}
	if (len(d.steps) == 0 && len(d.tasks) == 0) || !sees(query) {
		return nil
	}
	return d.insert(ctx, q)
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
