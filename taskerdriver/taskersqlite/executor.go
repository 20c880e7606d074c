package taskersqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// executor runs operations. Outside a transaction (tx nil) reads use the reader
// pool and every write opens its own short transaction on the writer.
type executor struct {
	d        *Driver
	r        querier // reads
	w        querier // writes, in tx; nil outside a transaction
	tx       *sql.Tx // nil outside a transaction
	borrowed bool    // tx belongs to the caller
	// def holds the transition rows written and not yet inserted (nil
	// outside a transaction of the driver's own).
	def    *deferredTransitions
	topics []string
	// readied: steps this transaction made ready and has not claimed; the
	// steps-ready notification is sent at commit only for them.
	readied driverkit.Readied
}

var _ taskerdriver.ExecutorTx = (*executor)(nil)

// write runs fn in the current transaction, or in a new one committed at the
// end when the executor is not in a transaction.
func (e *executor) write(ctx context.Context, fn func(x *executor) error) error {
	return valueRejected(driverkit.RunInTx(ctx, e, e.tx != nil, e.Begin, fn))
}

// execCount runs one statement in a write and returns the number of rows it
// changed; what names the statement in its error.
func (e *executor) execCount(ctx context.Context, what, query string, args ...any) (int, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) (int, error) {
		res, err := x.w.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		n, err := res.RowsAffected()
		return int(n), err
	})
}

func (e *executor) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	if e.tx != nil {
		return nil, errors.New("sqlite: nested transactions are not supported")
	}
	e.d.wcache.prepareWanted(ctx)
	tx, err := e.d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	def := &deferredTransitions{}
	q := txQuerier{e.d.wcache, tx, def}
	return &executor{d: e.d, r: q, w: q, tx: tx, def: def}, nil
}

func (e *executor) Commit(ctx context.Context) error {
	if e.tx == nil {
		return errors.New("sqlite: commit outside a transaction")
	}
	if e.borrowed {
		e.flush()
		return nil
	}
	if err := e.def.insert(ctx, txQuerier{e.d.wcache, e.tx, nil}); err != nil {
		_ = e.Rollback(ctx)
		return valueRejected(fmt.Errorf("sqlite: commit: %w", err))
	}
	if err := e.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	e.flush()
	return nil
}

func (e *executor) Rollback(ctx context.Context) error {
	if e.tx == nil || e.borrowed {
		return nil
	}
	e.topics, e.readied = nil, nil
	if err := e.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (e *executor) flush() {
	if e.readied.Owed() {
		e.topics = append(e.topics, taskerdriver.TopicStepsReady)
	}
	e.readied = nil
	seen := map[string]bool{}
	for _, t := range e.topics {
		if !seen[t] {
			seen[t] = true
			e.d.hub.notify(t)
		}
	}
	e.topics = nil
}

// ready records steps the transaction made ready: the steps-ready
// notification is owed at commit unless the transaction claims them all
// (driverkit.Readied). Outside a transaction of the driver's own it is
// sent at once.
func (e *executor) ready(ids []int64) {
	if e.tx == nil || e.borrowed {
		e.d.hub.notify(taskerdriver.TopicStepsReady)
		return
	}
	e.readied.Add(ids...)
}

func (e *executor) Notify(ctx context.Context, topic string) error {
	if e.tx == nil || e.borrowed {
		e.d.hub.notify(topic)
		return nil
	}
	e.topics = append(e.topics, topic)
	return nil
}

// --- time and JSON helpers -------------------------------------------------

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func rawOrNil(s sql.NullString) json.RawMessage {
	if !s.Valid || s.String == "" {
		return nil
	}
	return json.RawMessage(s.String)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// jsonList is ids as a JSON array, one argument for json_each.
func jsonList(ids []int64) string {
	b, _ := json.Marshal(ids) // []int64 always encodes
	return string(b)
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func stateArgs(states []taskertype.State) []any {
	out := make([]any, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// --- tasks -----------------------------------------------------------------

const taskCols = driverkit.TaskColumns

type rowScanner interface{ Scan(dest ...any) error }

func scanTask(s rowScanner) (*taskertype.Task, error) {
	var (
		t                           taskertype.Task
		state, tags                 string
		ctxJSON                     sql.NullString
		requested, created, updated int64
		completed                   sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.Namespace, &t.Name, &t.Version, &state, &ctxJSON, &t.Initiator, &t.SourceSystem,
		&t.Reason, &tags, &t.IdentityHash, &requested, &created, &updated, &completed, &t.TraceParent, &t.TraceState); err != nil {
		return nil, driverkit.NoRows(err, sql.ErrNoRows)
	}
	t.State = taskertype.State(state)
	if ctxJSON.Valid {
		t.Context = json.RawMessage(ctxJSON.String)
	}
	if err := driverkit.ScannedTask(&t, []byte(tags)); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	t.RequestedAt = time.UnixMicro(requested).UTC()
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.UpdatedAt = time.UnixMicro(updated).UTC()
	t.CompletedAt = fromUS(completed)
	return &t, nil
}

func (e *executor) TaskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) (*taskerdriver.TaskCreateResult, error) { return x.taskCreate(ctx, p) })
}

// largeEdgeCount is the number of edges from which a task's creation
// enlarges the page cache (see taskInsert).
const largeEdgeCount = 20_000

func (x *executor) taskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	res, err := driverkit.CreateIdempotent(ctx, idempotencyKeys{x}, p, func() (*taskerdriver.TaskCreateResult, error) { return x.taskInsert(ctx, p) },
		func(id int64) (*taskerdriver.TaskCreateResult, error) {
			task, err := scanTask(x.w.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = ?`, id))
			return &taskerdriver.TaskCreateResult{Task: task}, err
		})
	if err == nil && !res.Existing {
		if claim := driverkit.NewTaskClaim(p, res.Task.ID); claim != nil {
			res.Claimed, err = x.stepClaim(ctx, claim, res.Task)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return res, nil
}

// idempotencyKeys is the SQL of driverkit.CreateIdempotent (the write lock
// serializes creates).
type idempotencyKeys struct{ x *executor }

func (k idempotencyKeys) ClaimKey(ctx context.Context, p *taskerdriver.TaskCreateParams) (bool, error) {
	if _, err := k.x.w.ExecContext(ctx, `DELETE FROM tasker_idempotency_keys WHERE key = ? AND (created_at < ?
		OR (task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tasker_tasks t WHERE t.task_id = tasker_idempotency_keys.task_id)))`,
		p.IdempotencyKey, us(p.IdempotencySince)); err != nil {
		return false, err
	}
	r, err := k.x.w.ExecContext(ctx, `INSERT INTO tasker_idempotency_keys (key, request_hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, p.IdempotencyKey, p.IdempotencyHash, us(p.Now))
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (k idempotencyKeys) KeyTask(ctx context.Context, key string) (string, int64, error) {
	var hash string
	var taskID sql.NullInt64
	err := k.x.w.QueryRowContext(ctx, `SELECT request_hash, task_id FROM tasker_idempotency_keys WHERE key = ?`, key).Scan(&hash, &taskID)
	return hash, taskID.Int64, err
}

func (k idempotencyKeys) BindKey(ctx context.Context, key string, taskID int64) error {
	_, err := k.x.w.ExecContext(ctx, `UPDATE tasker_idempotency_keys SET task_id = ? WHERE key = ?`, taskID, key)
	return err
}

func (x *executor) taskInsert(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	tagsJSON, ctxJSON, err := driverkit.TaskJSON(p)
	if err != nil {
		return nil, err
	}
	now := us(p.Now)
	row := x.w.QueryRowContext(ctx, `INSERT INTO tasker_tasks (namespace, name, version, context, initiator,
		source_system, reason, tags, identity_hash, requested_at, created_at, updated_at, trace_parent, trace_state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (identity_hash) DO NOTHING
		RETURNING `+taskCols,
		p.Namespace, p.Name, p.Version, ctxJSON, p.Initiator, p.SourceSystem, p.Reason, tagsJSON,
		p.IdentityHash, us(p.RequestedAt), now, now, p.TraceParent, p.TraceState)
	task, err := scanTask(row)
	if errors.Is(err, taskerdriver.ErrNotFound) { // the identity exists
		return driverkit.ExistingTask(func() (*taskertype.Task, error) {
			return scanTask(x.w.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE identity_hash = ?`, p.IdentityHash))
		})
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: insert task: %w", err)
	}
	if err := x.taskTransitions(ctx, task.ID, nil, string(taskertype.StatePending), string(driverkit.CreateMeta(p.Metadata)), 0, now); err != nil {
		return nil, fmt.Errorf("sqlite: insert task transition: %w", err)
	}

	// Steps, in chunks to stay under SQLite's variable limit; each insert
	// returns its steps, so the task's steps need no read after.
	steps := make([]*taskertype.Step, len(p.Steps))
	ids := make([]int64, len(p.Steps))
	const chunk = 400
	for start := 0; start < len(p.Steps); start += chunk {
		end := min(start+chunk, len(p.Steps))
		var sb strings.Builder
		args := make([]any, 0, (end-start)*14)
		sb.WriteString(`INSERT INTO tasker_workflow_steps (task_id, name, position, handler, handler_config, policy,
			retry_limit, retryable, skippable, pending_parents, inputs, queue, created_at, updated_at) VALUES `)
		for i := start; i < end; i++ {
			s := &p.Steps[i]
			if i > start {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, task.ID, s.Name, i, s.Handler, driverkit.JSONArg(s.HandlerConfig), driverkit.JSONArg(s.Policy),
				s.RetryLimit, boolInt(s.Retryable), boolInt(s.Skippable), len(s.Parents), driverkit.JSONArg(s.Inputs), s.Queue, now, now)
		}
		sb.WriteString(" RETURNING " + stepCols)
		got, _, err := querySteps(ctx, x.w, sb.String(), args)
		if err != nil {
			return nil, fmt.Errorf("sqlite: insert steps: %w", err)
		}
		for _, st := range got {
			steps[st.Position], ids[st.Position] = st, st.ID
		}
	}

	// Edges and the initial step transitions.
	type edge struct{ from, to int64 }
	var edges []edge
	for i, s := range p.Steps {
		for _, parent := range s.Parents {
			edges = append(edges, edge{ids[parent], ids[i]})
		}
	}
	// All the edges go in one statement: SQLite copies each page a
	// statement changes into its statement journal once per statement, and
	// the edges land all over two B-trees ((from, to) and (to, from)), so
	// chunks of a few hundred rows copied about one page per edge (a
	// 1,500-step all-to-all template wrote gigabytes of journal). The page
	// cache is sized for the edges for this transaction only (about 128
	// bytes an edge), and given back after.
	if len(edges) > 0 {
		if len(edges) > largeEdgeCount {
			if _, err := x.w.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", len(edges)*128/1024)); err != nil {
				return nil, fmt.Errorf("sqlite: size the page cache: %w", err)
			}
			defer func() { _, _ = x.w.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = -2000") }()
		}
		var sb strings.Builder
		sb.Grow(len(edges) * 16)
		sb.WriteByte('[')
		for i, ed := range edges {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('[')
			sb.WriteString(strconv.FormatInt(ed.from, 10))
			sb.WriteByte(',')
			sb.WriteString(strconv.FormatInt(ed.to, 10))
			sb.WriteByte(']')
		}
		sb.WriteByte(']')
		if _, err := x.w.ExecContext(ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, task_id)
			SELECT value ->> 0, value ->> 1, ? FROM json_each(?)`, task.ID, sb.String()); err != nil {
			return nil, fmt.Errorf("sqlite: insert edges: %w", err)
		}
	}
	initial := make([]any, 0, len(ids)*stepTransitionCols)
	for _, id := range ids {
		initial = append(initial, id, task.ID, nil, string(taskertype.StatePending), initialStepMeta, 0, now)
	}
	if err := x.stepTransitions(ctx, initial...); err != nil {
		return nil, fmt.Errorf("sqlite: insert step transitions: %w", err)
	}
	pairs := make([][2]int64, len(edges))
	for i, ed := range edges {
		pairs[i] = [2]int64{ed.from, ed.to}
	}
	driverkit.LinkNewEdges(steps, pairs)
	if len(steps) > 0 {
		// Owed at commit unless the transaction claims them all (the
		// creating process may: driverkit.Readied).
		x.ready(driverkit.ReadyRoots(steps))
	}
	return &taskerdriver.TaskCreateResult{Task: task, Steps: steps}, nil
}

func (e *executor) TaskGet(ctx context.Context, id int64) (*taskertype.Task, error) {
	return scanTask(e.r.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = ?`, id))
}

func (e *executor) TaskList(ctx context.Context, p *taskerdriver.TaskListParams) ([]*taskertype.Task, int, error) {
	var where []string
	var args []any
	if len(p.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(p.States))+")")
		args = append(args, stateArgs(p.States)...)
	}
	for _, f := range driverkit.TaskEquals(p) {
		where = append(where, f.Column+" = ?")
		args = append(args, f.Value)
	}
	for _, tag := range p.Tags {
		where = append(where, "EXISTS (SELECT 1 FROM json_each(tasker_tasks.tags) WHERE value = ?)")
		args = append(args, tag)
	}
	if p.Annotation != nil {
		cond, a := annotationWhere(p.Annotation)
		where = append(where, cond)
		args = append(args, a...)
	}
	if !p.CreatedAfter.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, us(p.CreatedAfter))
	}
	if !p.CreatedUntil.IsZero() {
		where = append(where, "created_at <= ?")
		args = append(args, us(p.CreatedUntil))
	}
	tasks, total, err := driverkit.ListTasks(p, where, func(query string) (n int, err error) {
		err = e.r.QueryRowContext(ctx, query, args...).Scan(&n)
		return n, err
	}, func(after string, limit, offset int) ([]*taskertype.Task, error) {
		return queryAll(ctx, e.r, `SELECT `+driverkit.TaskListColumns(p, "NULL")+` FROM tasker_tasks`+after+` LIMIT ? OFFSET ?`, append(args, limit, offset), scanTask)
	})
	if err != nil {
		return nil, 0, valueRejected(fmt.Errorf("%s: %w", driverName, err))
	}
	return tasks, total, nil
}

// initialStepMeta is the metadata of a new step's first transition.
const initialStepMeta = `{"initialized_by":"task_create"}`

func (x *executor) taskTransition(ctx context.Context, taskID int64, from string, to taskertype.State, meta json.RawMessage, seq int, now int64) error {
	if err := x.taskTransitions(ctx, taskID, from, string(to), string(driverkit.Meta(meta)), driverkit.SortKey(seq), now); err != nil {
		return fmt.Errorf("sqlite: task transition: %w", err)
	}
	return nil
}

func (e *executor) TaskUpdate(ctx context.Context, p *taskerdriver.TaskUpdateParams) (*taskertype.Task, error) {
	var sets columnSets
	if p.Reason != nil {
		sets.set("reason", *p.Reason)
	}
	if p.Tags != nil {
		b, err := json.Marshal(p.Tags)
		if err != nil {
			return nil, err
		}
		sets.set("tags", string(b))
	}
	return auditedUpdate(ctx, e, taskRows, p.ID, p.Now, p.Metadata, sets, scanTask)
}

// columnSets are the columns an UPDATE changes, each with its value.
type columnSets struct {
	cols []string
	args []any
}

func (c *columnSets) set(col string, v any) {
	c.cols = append(c.cols, col+" = ?")
	c.args = append(c.args, v)
}

// auditedRows are a table of tasks or steps and their audit transitions.
type auditedRows struct {
	what        string // in error messages
	table       string
	id          string // the primary key
	keys        string // the columns a transition shares with its row
	cols        string // returned by the update
	transitions string
}

var (
	taskRows = auditedRows{what: "task", table: "tasker_tasks", id: "task_id", keys: "task_id", cols: taskCols,
		transitions: "tasker_task_transitions"}
	stepRows = auditedRows{what: "step", table: "tasker_workflow_steps", id: "workflow_step_id", keys: "workflow_step_id, task_id",
		cols: stepCols, transitions: "tasker_workflow_step_transitions"}
)

// auditedUpdate sets updated_at and sets on row id of t in a write,
// returning the updated row; with metadata, it also advances the row's
// transition_seq and records an audit transition from the row's state to
// the same state.
func auditedUpdate[T any](ctx context.Context, e *executor, t auditedRows, id int64, now time.Time, metadata json.RawMessage,
	sets columnSets, scan func(r rowScanner) (T, error)) (T, error) {
	cols := append([]string{"updated_at = ?"}, sets.cols...)
	if len(metadata) > 0 {
		cols = append(cols, "transition_seq = transition_seq + 1")
	}
	args := append(append([]any{us(now)}, sets.args...), id)
	return driverkit.Write(ctx, e.write, func(x *executor) (T, error) {
		row, err := scan(x.w.QueryRowContext(ctx, `UPDATE `+t.table+` SET `+strings.Join(cols, ", ")+
			` WHERE `+t.id+` = ? RETURNING `+t.cols, args...))
		if err != nil || len(metadata) == 0 {
			return row, err
		}
		if _, err := x.w.ExecContext(ctx, `INSERT INTO `+t.transitions+` (`+t.keys+`, from_state, to_state, metadata, sort_key, created_at)
			SELECT `+t.keys+`, state, state, ?, transition_seq * 10, ? FROM `+t.table+` WHERE `+t.id+` = ?`,
			string(metadata), us(now), id); err != nil {
			return row, fmt.Errorf("sqlite: %s update transition: %w", t.what, err)
		}
		return row, nil
	})
}

// queryAll runs a query and scans every row with scan, closing the rows and
// checking their error before it returns (so that the single write
// connection is free for the next statement of the transaction).
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out, err := driverkit.ScanRows(rowScanner(rows), rows.Next, scan)
	if err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}
