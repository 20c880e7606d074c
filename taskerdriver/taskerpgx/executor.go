package taskerpgx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// executor runs operations on the pool, or in a transaction (tx set).
// pgx prepares and caches statements per connection by itself.
type executor struct {
	d        *Driver
	q        querier
	tx       txn
	borrowed bool
	// async: Begin starts transactions with synchronous_commit off
	// (Driver.AsyncCommitExecutor).
	async  bool
	topics []string
	// readied: steps this transaction made ready and has not claimed; the
	// steps-ready notification is sent at commit only for them.
	readied driverkit.Readied
}

var _ taskerdriver.ExecutorTx = (*executor)(nil)

// txn is what the executor needs of a transaction: a pipeTx of its own, or
// a caller's pgx.Tx.
type txn interface {
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

func (e *executor) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	if e.tx != nil {
		return nil, errors.New("postgres: nested transactions are not supported")
	}
	tx, err := beginPipeTx(ctx, e.d.pool, e.async)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	return &executor{d: e.d, q: tx, tx: tx}, nil
}

func (e *executor) Commit(ctx context.Context) error {
	if e.tx == nil {
		return errors.New("postgres: commit outside a transaction")
	}
	if e.borrowed {
		return nil
	}
	if e.readied.Owed() {
		if err := e.Notify(ctx, taskerdriver.TopicStepsReady); err != nil {
			return err
		}
	}
	var own *pgconn.PgConn
	if p, ok := e.tx.(*pipeTx); ok && len(e.topics) > 0 && !p.committed {
		own = p.conn.Conn().PgConn()
		e.d.listener.notifying(own, e.topics)
	}
	if err := e.tx.Commit(ctx); err != nil {
		if own != nil {
			e.d.listener.notCommitted(own, e.topics)
		}
		return fmt.Errorf("postgres: commit: %w", err)
	}
	// NOTIFY reached other processes at commit; wake this one at once too.
	for _, t := range e.topics {
		e.d.listener.notify(t)
	}
	e.topics = nil
	return nil
}

func (e *executor) Rollback(ctx context.Context) error {
	if e.tx == nil || e.borrowed {
		return nil
	}
	e.topics, e.readied = nil, nil
	if err := e.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// notifySQL sends a notification of topic $1.
const notifySQL = `SELECT pg_notify($1, '')`

// Notify sends topic with pg_notify, which PostgreSQL delivers when the
// surrounding transaction commits.
func (e *executor) Notify(ctx context.Context, topic string) error {
	if e.sent(topic) {
		return nil
	}
	if err := deferExec(ctx, e.q, notifySQL, topic); err != nil {
		return fmt.Errorf("postgres: notify: %w", err)
	}
	e.notified(topic)
	return nil
}

// deferExec runs a write on q whose only result is its error. In the
// driver's own transaction it is deferred: sent with the next statement or
// with COMMIT, where its error fails that call.
func deferExec(ctx context.Context, q querier, sql string, args ...any) error {
	if p, ok := q.(*pipeTx); ok {
		p.Defer(sql, args...)
		return nil
	}
	_, err := q.Exec(ctx, sql, args...)
	return err
}

// notified records that topic was sent with pg_notify: outside a
// transaction it reached PostgreSQL's listeners already, and this process's
// subscribers are woken now; in one, they are woken when it commits.
func (e *executor) notified(topic string) {
	if e.tx == nil {
		e.d.listener.notify(topic)
		return
	}
	e.topics = append(e.topics, topic)
}

// sent reports whether the transaction has notified topic already.
func (e *executor) sent(topic string) bool {
	for _, t := range e.topics {
		if t == topic {
			return true
		}
	}
	return false
}

// ready records steps the transaction made ready: the steps-ready
// notification is owed at commit unless the transaction claims them all
// (driverkit.Readied). In a caller's transaction, whose commit the driver
// does not see, it is sent at once.
func (e *executor) ready(ctx context.Context, ids []int64) error {
	if e.borrowed || e.tx == nil {
		return e.Notify(ctx, taskerdriver.TopicStepsReady)
	}
	e.readied.Add(ids...)
	return nil
}

// write runs fn in the current transaction, or in a new one.
func (e *executor) write(ctx context.Context, fn func(x *executor) error) error {
	return valueRejected(driverkit.RunInTx(ctx, e, e.tx != nil, e.Begin, fn))
}

// --- helpers ---------------------------------------------------------------

var epoch = time.Unix(0, 0).UTC()

// pgTime maps the zero time to the epoch, which stands for "no time".
func pgTime(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.UTC()
}

func fromPG(t time.Time) time.Time {
	if t.IsZero() || t.Equal(epoch) {
		return time.Time{}
	}
	return t.UTC()
}

func fromPGPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return fromPG(*t)
}

func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

func stateStrings(states []taskertype.State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q querier, sql string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans every row of rows and closes them; its error includes
// what closing found (the queries that followed in a pipeline: pipeTx).
func scanAll[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	out, err := driverkit.ScanRows(pgx.Row(rows), rows.Next, scan)
	rows.Close()
	if err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// sqlArgs collects the arguments of a query built from optional filters.
type sqlArgs []any

// add appends v and returns its placeholder ($n).
func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// --- tasks -----------------------------------------------------------------

const taskCols = driverkit.TaskColumns

func scanTask(r pgx.Row) (*taskertype.Task, error) {
	var (
		t                  taskertype.Task
		state              string
		ctxJSON, tags      []byte
		requested, created time.Time
		updated            time.Time
		completed          *time.Time
	)
	if err := r.Scan(&t.ID, &t.Namespace, &t.Name, &t.Version, &state, &ctxJSON, &t.Initiator, &t.SourceSystem,
		&t.Reason, &tags, &t.IdentityHash, &requested, &created, &updated, &completed, &t.TraceParent, &t.TraceState); err != nil {
		return nil, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	t.State = taskertype.State(state)
	t.Context = json.RawMessage(ctxJSON)
	if err := driverkit.ScannedTask(&t, tags); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	t.RequestedAt = requested.UTC()
	t.CreatedAt = created.UTC()
	t.UpdatedAt = updated.UTC()
	t.CompletedAt = fromPGPtr(completed)
	return &t, nil
}

func (e *executor) TaskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) (*taskerdriver.TaskCreateResult, error) { return x.taskCreate(ctx, p) })
}

type stepRow struct {
	Name          string          `json:"n"`
	Position      int             `json:"p"`
	Handler       string          `json:"h"`
	HandlerConfig json.RawMessage `json:"c,omitempty"`
	Policy        json.RawMessage `json:"o,omitempty"`
	RetryLimit    int             `json:"l"`
	Retryable     bool            `json:"r"`
	Skippable     bool            `json:"s"`
	Parents       int             `json:"pp"`
	Inputs        json.RawMessage `json:"i,omitempty"`
	Queue         string          `json:"q"`
}

func (x *executor) taskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	res, err := driverkit.CreateIdempotent(ctx, idempotencyKeys{x}, p, func() (*taskerdriver.TaskCreateResult, error) { return x.taskInsert(ctx, p) },
		func(id int64) (*taskerdriver.TaskCreateResult, error) {
			task, err := scanTask(x.q.QueryRow(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = $1`, id))
			return &taskerdriver.TaskCreateResult{Task: task}, err
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return res, nil
}

// idempotencyKeys is the SQL of driverkit.CreateIdempotent.
type idempotencyKeys struct{ x *executor }

func (k idempotencyKeys) ClaimKey(ctx context.Context, p *taskerdriver.TaskCreateParams) (bool, error) {
	if _, err := k.x.q.Exec(ctx, `DELETE FROM tasker_idempotency_keys k WHERE key = $1 AND (created_at < $2
		OR (task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tasker_tasks t WHERE t.task_id = k.task_id)))`,
		p.IdempotencyKey, p.IdempotencySince.UTC()); err != nil {
		return false, err
	}
	tag, err := k.x.q.Exec(ctx, `INSERT INTO tasker_idempotency_keys (key, request_hash, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`, p.IdempotencyKey, p.IdempotencyHash, p.Now.UTC())
	return err == nil && tag.RowsAffected() == 1, err
}

func (k idempotencyKeys) KeyTask(ctx context.Context, key string) (string, int64, error) {
	var hash string
	var taskID *int64
	err := k.x.q.QueryRow(ctx, `SELECT request_hash, task_id FROM tasker_idempotency_keys WHERE key = $1`, key).Scan(&hash, &taskID)
	if err != nil || taskID == nil {
		return hash, 0, err
	}
	return hash, *taskID, nil
}

func (k idempotencyKeys) BindKey(ctx context.Context, key string, taskID int64) error {
	_, err := k.x.q.Exec(ctx, `UPDATE tasker_idempotency_keys SET task_id = $1 WHERE key = $2`, taskID, key)
	return err
}

func (x *executor) taskInsert(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	tagsJSON, ctxJSON, err := driverkit.TaskJSON(p)
	if err != nil {
		return nil, err
	}
	now := p.Now.UTC()
	args := []any{p.Namespace, p.Name, p.Version, ctxJSON, p.Initiator, p.SourceSystem, p.Reason, tagsJSON,
		p.IdentityHash, p.RequestedAt.UTC(), now, p.TraceParent, p.TraceState, string(driverkit.CreateMeta(p.Metadata))}
	existing := func(q querier) (*taskerdriver.TaskCreateResult, error) { // the identity exists
		return driverkit.ExistingTask(func() (*taskertype.Task, error) {
			return scanTask(q.QueryRow(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE identity_hash = $1`, p.IdentityHash))
		})
	}
	if len(p.Steps) == 0 {
		task, err := scanTask(x.q.QueryRow(ctx, taskInsertSQL+` SELECT `+taskCols+` FROM t`, args...))
		if errors.Is(err, taskerdriver.ErrNotFound) {
			return existing(x.q)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: insert task: %w", err)
		}
		return &taskerdriver.TaskCreateResult{Task: task}, nil
	}
	rows := make([]stepRow, len(p.Steps))
	var fromPos, toPos []int32
	for i, s := range p.Steps {
		rows[i] = stepRow{Name: s.Name, Position: i, Handler: s.Handler, HandlerConfig: s.HandlerConfig, Policy: s.Policy,
			RetryLimit: s.RetryLimit, Retryable: s.Retryable, Skippable: s.Skippable, Parents: len(s.Parents), Inputs: s.Inputs, Queue: s.Queue}
		for _, parent := range s.Parents {
			fromPos, toPos = append(fromPos, int32(parent)), append(toPos, int32(i))
		}
	}
	rowsJSON, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	// One statement inserts the task, its steps, edges and transitions and
	// returns the steps, each with the task (its context on the first
	// row only); none when the identity exists (the task insert did
	// nothing, so neither did the others).
	b := &pgx.Batch{}
	b.Queue(taskInsertSQL+`, `+stepsInsertSQL+` SELECT `+stepColsS+`, `+createdTaskCols+` FROM s CROSS JOIN t ORDER BY s.position`,
		append(args, string(rowsJSON), fromPos, toPos)...)
	// In the driver's own transaction the new ready steps are owed a
	// steps-ready notification at commit unless the transaction claims them
	// all (driverkit.Readied: the creating process may claim them); in a
	// caller's transaction it goes in this round trip.
	notify := x.borrowed && !x.sent(taskerdriver.TopicStepsReady)
	if notify {
		b.Queue(`SELECT pg_notify($1, '')`, taskerdriver.TopicStepsReady)
	}
	// The creating process's claim travels in the same round trip: the
	// task's id is not known when it is sent, so it names the task this
	// session's insert just numbered. An insert that met an existing
	// identity still drew a number from the sequence (ON CONFLICT DO
	// NOTHING draws before it checks), one no task has: the claim finds
	// nothing, and never the steps of a task this session inserted before.
	var claimRows []claimed
	claim := driverkit.NewTaskClaim(p, 0)
	pt, follow := x.q.(*pipeTx)
	// A creation that settles commits in its round trip (settle.go).
	var s *settling
	if follow = follow && claim != nil; follow {
		if p.Settle && p.IdempotencyKey == "" && x.fresh(pt) {
			s = &settling{pt: pt}
		}
		followRows(pt, &claimRows, scanClaimed, newTaskClaimSQL, claimArgs(claim)...)
	}
	if s != nil {
		s.notifyIf(x, newTaskNotifySQL, taskerdriver.TopicStepsReady)
		s.commit()
	}
	type created struct {
		step driverkit.SeqStep
		task *taskertype.Task
	}
	br := x.q.SendBatch(ctx, b)
	got, err := collect(br, func(r pgx.Row) (created, error) {
		var c created
		var err error
		c.step, err = scanStep(rowPair{r: r, inner: func(r pgx.Row) error {
			var err error
			c.task, err = scanTask(r)
			return err
		}})
		return c, err
	})
	if err == nil && notify {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if s != nil {
		err = errors.Join(err, s.done(ctx, x))
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: insert task: %w", err)
	}
	if len(got) == 0 {
		if s == nil {
			return existing(x.q)
		}
		res, err := existing(x.d.pool) // the transaction is over
		if res != nil {
			res.Committed = true
		}
		return res, err
	}
	if notify {
		x.notified(taskerdriver.TopicStepsReady)
	}
	task := got[0].task
	steps := make([]*taskertype.Step, len(got))
	for i, c := range got {
		steps[i] = c.step.Step
	}
	if len(steps) != len(p.Steps) {
		return nil, fmt.Errorf("postgres: insert steps: %d of %d steps inserted", len(steps), len(p.Steps))
	}
	if !x.borrowed && s == nil { // settled: the pipeline notified
		if err := x.ready(ctx, driverkit.ReadyRoots(steps)); err != nil {
			return nil, err
		}
	}
	edges := make([][2]int64, len(fromPos))
	for i := range fromPos {
		edges[i] = [2]int64{steps[fromPos[i]].ID, steps[toPos[i]].ID}
	}
	driverkit.LinkNewEdges(steps, edges)
	res := &taskerdriver.TaskCreateResult{Task: task, Steps: steps, Committed: s != nil}
	switch claim = driverkit.NewTaskClaim(p, task.ID); {
	case follow:
		res.Claimed, err = x.claimed(ctx, claim, claimRows)
	case claim != nil:
		res.Claimed, err = x.stepClaim(ctx, claim)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// taskInsertSQL inserts a task and its first transition (arguments $1 to
// $14, see taskInsert); CTE t returns the task's columns.
const taskInsertSQL = `WITH t AS (
			INSERT INTO tasker_tasks (namespace, name, version, context, initiator,
				source_system, reason, tags, identity_hash, requested_at, created_at, updated_at, trace_parent, trace_state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
			ON CONFLICT (identity_hash) DO NOTHING
			RETURNING ` + taskCols + `),
		tt AS (
			INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT task_id, NULL, 'pending', $14::jsonb, 0, $11 FROM t)`

// stepsInsertSQL follows taskInsertSQL: it inserts the task's steps ($15,
// a JSON array of stepRow), edges ($16, $17: parent and child positions)
// and their transitions; CTE s returns the steps' columns.
const stepsInsertSQL = `s AS (
			INSERT INTO tasker_workflow_steps (task_id, name, position, handler, handler_config, policy,
				retry_limit, retryable, skippable, pending_parents, inputs, queue, created_at, updated_at)
			SELECT t.task_id, r.n, r.p, r.h, r.c, r.o, r.l, r.r, r.s, r.pp, r.i, r.q, $11, $11
			FROM t CROSS JOIN jsonb_to_recordset($15::jsonb) AS r(n text, p int, h text, c jsonb, o jsonb, l int, r boolean, s boolean, pp int, i jsonb, q text)
			ORDER BY r.p
			RETURNING ` + stepCols + `),
		e AS (
			INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, task_id)
			SELECT f.workflow_step_id, c.workflow_step_id, f.task_id FROM unnest($16::int[], $17::int[]) AS u(fp, cp)
			JOIN s f ON f.position = u.fp JOIN s c ON c.position = u.cp),
		tr AS (
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT workflow_step_id, task_id, NULL, 'pending', '{"initialized_by":"task_create"}', 0, $11 FROM s)`

// createdTaskCols are the new task's columns in the rows of its steps:
// its context only on the first step's row.
var createdTaskCols = strings.NewReplacer("t.context,", "CASE WHEN s.position = 0 THEN t.context END,").Replace(driverkit.Prefixed("t.", taskCols))

func (e *executor) TaskGet(ctx context.Context, id int64) (*taskertype.Task, error) {
	return scanTask(e.q.QueryRow(ctx, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = $1`, id))
}

func (e *executor) TaskList(ctx context.Context, p *taskerdriver.TaskListParams) ([]*taskertype.Task, int, error) {
	var where []string
	var args sqlArgs
	arg := args.add
	if len(p.States) > 0 {
		where = append(where, "state = ANY("+arg(stateStrings(p.States))+")")
	}
	for _, f := range driverkit.TaskEquals(p) {
		where = append(where, f.Column+" = "+arg(f.Value))
	}
	if len(p.Tags) > 0 {
		b, err := json.Marshal(p.Tags)
		if err != nil {
			return nil, 0, err
		}
		// tags <> '[]' is implied (the list is not empty) and lets the
		// partial tags index serve the filter (migration 017).
		where = append(where, "tags @> "+arg(string(b))+"::jsonb AND tags <> '[]'::jsonb")
	}
	if p.Annotation != nil {
		where = append(where, annotationWhere(p.Annotation, arg))
	}
	if !p.CreatedAfter.IsZero() {
		where = append(where, "created_at >= "+arg(p.CreatedAfter.UTC()))
	}
	if !p.CreatedUntil.IsZero() {
		where = append(where, "created_at <= "+arg(p.CreatedUntil.UTC()))
	}
	tasks, total, err := driverkit.ListTasks(p, where, func(query string) (int, error) {
		var n int
		return n, e.q.QueryRow(ctx, query, args...).Scan(&n)
	}, func(after string, limit, offset int) ([]*taskertype.Task, error) {
		q := `SELECT ` + driverkit.TaskListColumns(p, "NULL::jsonb") + ` FROM tasker_tasks` + after + ` LIMIT ` + arg(limit) + ` OFFSET ` + arg(offset)
		return queryAll(ctx, e.q, q, args, scanTask)
	})
	if err != nil {
		return nil, 0, valueRejected(fmt.Errorf("%s: %w", driverName, err))
	}
	return tasks, total, nil
}

func (e *executor) TaskUpdate(ctx context.Context, p *taskerdriver.TaskUpdateParams) (*taskertype.Task, error) {
	var tags any
	if p.Tags != nil {
		b, err := json.Marshal(p.Tags)
		if err != nil {
			return nil, err
		}
		tags = string(b)
	}
	// With Metadata, the audit transition goes in the same statement.
	task, err := scanTask(e.q.QueryRow(ctx, `WITH u AS (
			UPDATE tasker_tasks SET updated_at = $1, reason = coalesce($2, reason), tags = coalesce($3::jsonb, tags),
				transition_seq = transition_seq + CASE WHEN $5::jsonb IS NULL THEN 0 ELSE 1 END
			WHERE task_id = $4 RETURNING *),
		tr AS (
			INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT task_id, state, state, $5::jsonb, transition_seq * 10, $1 FROM u WHERE $5::jsonb IS NOT NULL)
		SELECT `+taskCols+` FROM u`, p.Now.UTC(), p.Reason, tags, p.ID, driverkit.AuditMeta(p.Metadata)))
	return task, valueRejected(err)
}

func (e *executor) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	if len(p.States) == 0 {
		return 0, nil
	}
	// The steps, edges and transitions go in the same statement (they have
	// no foreign keys to cascade from: migration 010).
	tag, err := e.q.Exec(ctx, `WITH doomed AS MATERIALIZED (
			SELECT task_id FROM tasker_tasks WHERE completed_at IS NOT NULL AND completed_at < $1 AND state = ANY($2)
			ORDER BY completed_at LIMIT $3 FOR UPDATE SKIP LOCKED),
		step_transitions AS (DELETE FROM tasker_workflow_step_transitions WHERE task_id IN (SELECT task_id FROM doomed)),
		edges AS (DELETE FROM tasker_workflow_step_edges WHERE task_id IN (SELECT task_id FROM doomed)),
		steps AS (DELETE FROM tasker_workflow_steps WHERE task_id IN (SELECT task_id FROM doomed)),
		task_transitions AS (DELETE FROM tasker_task_transitions WHERE task_id IN (SELECT task_id FROM doomed))
		DELETE FROM tasker_tasks WHERE task_id IN (SELECT task_id FROM doomed)`, p.Before.UTC(), stateStrings(p.States), driverkit.Limit(p.Limit, 1000))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete finished tasks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (e *executor) LeaderAttempt(ctx context.Context, p *taskerdriver.LeaderAttemptParams) (bool, error) {
	var leader string
	err := e.q.QueryRow(ctx, `INSERT INTO tasker_leaders (name, leader_id, elected_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET leader_id = excluded.leader_id, expires_at = excluded.expires_at,
			elected_at = CASE WHEN tasker_leaders.leader_id = excluded.leader_id THEN tasker_leaders.elected_at ELSE excluded.elected_at END
		WHERE tasker_leaders.expires_at < $3 OR tasker_leaders.leader_id = excluded.leader_id
		RETURNING leader_id`, p.Name, p.ID, p.Now.UTC(), p.Now.Add(p.TTL).UTC()).Scan(&leader)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: leader election: %w", err)
	}
	return leader == p.ID, nil
}

func (e *executor) LeaderResign(ctx context.Context, p *taskerdriver.LeaderAttemptParams) error {
	_, err := e.q.Exec(ctx, `DELETE FROM tasker_leaders WHERE name = $1 AND leader_id = $2`, p.Name, p.ID)
	return err
}

func (e *executor) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	h, err := driverkit.HealthStates(func(table string) ([]driverkit.StateCount, error) {
		return queryAll(ctx, e.q, `SELECT state, count(*) FROM `+table+` GROUP BY state`, nil, func(r pgx.Row) (driverkit.StateCount, error) {
			var c driverkit.StateCount
			return c, r.Scan(&c.State, &c.N)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: health counts: %w", err)
	}
	if err := e.q.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE NOT blocked),
		count(*) FILTER (WHERE NOT blocked AND next_attempt_at > $1),
		count(*) FILTER (WHERE blocked)
		FROM tasker_workflow_steps WHERE state = 'error'`, now.UTC()).Scan(&h.RetryableErrors, &h.InBackoff, &h.ExhaustedRetries); err != nil {
		return nil, fmt.Errorf("postgres: health counts: %w", err)
	}
	// Each count reads one partial index (tasker_workflow_steps_ready,
	// tasker_event_outbox_due, tasker_event_outbox_dead): its cost grows
	// with the backlog, not with the history.
	if err := e.q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM tasker_workflow_steps
			WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked AND next_attempt_at <= $1),
		(SELECT count(*) FROM tasker_event_outbox WHERE state = 'pending'),
		(SELECT count(*) FROM tasker_event_outbox WHERE state = 'dead')`, now.UTC()).Scan(&h.ReadySteps, &h.OutboxBacklog, &h.DeadLetters); err != nil {
		return nil, fmt.Errorf("postgres: backlog counts: %w", err)
	}
	if err := e.q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'),
		current_setting('max_connections')::int`).Scan(&h.ActiveConnections, &h.MaxConnections); err != nil {
		return nil, fmt.Errorf("postgres: connection counts: %w", err)
	}
	return h, nil
}
