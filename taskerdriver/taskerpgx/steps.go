package taskerpgx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const stepCols = `workflow_step_id, task_id, name, position, state, handler, handler_config, policy, attempts,
	retry_limit, retryable, skippable, blocked, pending_parents, inputs, results, last_error, next_attempt_at,
	last_attempted_at, processed_at, lease_owner, lease_expires_at, created_at, updated_at, queue, transition_seq`

type seqStep struct {
	step *taskertype.Step
	seq  int
}

func scanStep(r pgx.Row) (seqStep, error) {
	var (
		st                                     taskertype.Step
		state                                  string
		hcfg, policy, inputs, results, lastErr []byte
		next                                   time.Time
		lastAttempted, processed, leaseExp     *time.Time
		owner                                  *string
		created, updated                       time.Time
		seq                                    int
	)
	if err := r.Scan(&st.ID, &st.TaskID, &st.Name, &st.Position, &state, &st.Handler, &hcfg, &policy, &st.Attempts,
		&st.RetryLimit, &st.Retryable, &st.Skippable, &st.Blocked, &st.PendingParents, &inputs, &results, &lastErr, &next,
		&lastAttempted, &processed, &owner, &leaseExp, &created, &updated, &st.Queue, &seq); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return seqStep{}, taskerdriver.ErrNotFound
		}
		return seqStep{}, err
	}
	st.State = taskertype.State(state)
	st.HandlerConfig = rawJSON(hcfg)
	st.Policy = rawJSON(policy)
	st.Inputs = rawJSON(inputs)
	st.Results = rawJSON(results)
	if len(lastErr) > 0 && string(lastErr) != "null" {
		st.LastError = &taskertype.StepError{}
		if err := json.Unmarshal(lastErr, st.LastError); err != nil {
			return seqStep{}, fmt.Errorf("postgres: step %d last_error: %w", st.ID, err)
		}
	}
	st.NextAttemptAt = fromPG(next)
	st.LastAttemptedAt = fromPGPtr(lastAttempted)
	st.ProcessedAt = fromPGPtr(processed)
	if owner != nil {
		st.LeaseOwner = *owner
	}
	st.LeaseExpiresAt = fromPGPtr(leaseExp)
	st.CreatedAt = created.UTC()
	st.UpdatedAt = updated.UTC()
	st.ParentIDs = []int64{}
	st.ChildIDs = []int64{}
	return seqStep{&st, seq}, nil
}

func querySteps(ctx context.Context, q querier, sql string, args []any) ([]*taskertype.Step, []int, error) {
	rows, err := queryAll(ctx, q, sql, args, scanStep)
	if err != nil {
		return nil, nil, err
	}
	steps := make([]*taskertype.Step, len(rows))
	seqs := make([]int, len(rows))
	for i, r := range rows {
		steps[i], seqs[i] = r.step, r.seq
	}
	return steps, seqs, nil
}

func (e *executor) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	steps, err := e.stepList(ctx, &taskerdriver.StepListParams{IDs: []int64{id}})
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, taskerdriver.ErrNotFound
	}
	return steps[0], nil
}

func (e *executor) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	return e.stepList(ctx, p)
}

func (e *executor) stepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	var where []string
	var args sqlArgs
	arg := args.add
	if p.TaskID != 0 {
		where = append(where, "task_id = "+arg(p.TaskID))
	}
	if len(p.IDs) > 0 {
		where = append(where, "workflow_step_id = ANY("+arg(p.IDs)+")")
	}
	if len(p.States) > 0 {
		where = append(where, "state = ANY("+arg(stateStrings(p.States))+")")
	}
	if len(where) == 0 {
		return nil, errors.New("postgres: step list needs a task or step ids")
	}
	steps, _, err := querySteps(ctx, e.q, `SELECT `+stepCols+` FROM tasker_workflow_steps WHERE `+
		strings.Join(where, " AND ")+` ORDER BY task_id, position`, args)
	if err != nil {
		return nil, fmt.Errorf("postgres: list steps: %w", err)
	}
	if len(steps) == 0 {
		return steps, nil
	}
	ids := make([]int64, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	edges, err := queryAll(ctx, e.q, `SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE from_step_id = ANY($1) OR to_step_id = ANY($1) ORDER BY 1, 2`, []any{ids}, scanPair)
	if err != nil {
		return nil, fmt.Errorf("postgres: list edges: %w", err)
	}
	driverkit.LinkEdges(steps, edges)
	return steps, nil
}

func scanPair(r pgx.Row) ([2]int64, error) {
	var v [2]int64
	return v, r.Scan(&v[0], &v[1])
}

type stepTransitionRow struct {
	stepID, taskID int64
	from, to       taskertype.State
	meta           json.RawMessage
	seq            int
}

// stepTransitions writes step transition rows (the last row of each step is
// the most recent), demoting the previous most recent rows.
func (x *executor) stepTransitions(ctx context.Context, rows []stepTransitionRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queueStepTransitions(b, rows, now)
	if err := x.q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: step transitions: %w", err)
	}
	return nil
}

// queueStepTransitions queues the two statements that write step
// transition rows: demote, then insert (the partial unique index on the most
// recent row is checked row by row, so they cannot be one statement).
func queueStepTransitions(b *pgx.Batch, rows []stepTransitionRow, now time.Time) {
	last := map[int64]int{}
	for i, r := range rows {
		last[r.stepID] = i
	}
	n := len(rows)
	stepIDs, taskIDs := make([]int64, n), make([]int64, n)
	froms, tos, metas := make([]*string, n), make([]string, n), make([]string, n)
	keys, recent := make([]int32, n), make([]bool, n)
	distinct := make([]int64, 0, len(last))
	for id := range last {
		distinct = append(distinct, id)
	}
	for i, r := range rows {
		stepIDs[i], taskIDs[i] = r.stepID, r.taskID
		if r.from != "" {
			f := string(r.from)
			froms[i] = &f
		}
		tos[i] = string(r.to)
		meta := r.meta
		if len(meta) == 0 {
			meta = json.RawMessage(`{}`)
		}
		metas[i] = string(meta)
		keys[i] = int32(r.seq * 10)
		recent[i] = last[r.stepID] == i
	}
	b.Queue(`UPDATE tasker_workflow_step_transitions SET most_recent = false
		WHERE workflow_step_id = ANY($1) AND most_recent`, distinct)
	b.Queue(`INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, most_recent, created_at)
		SELECT s, t, f, o, m::jsonb, k, r, $8 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], $7::boolean[])
			AS u(s, t, f, o, m, k, r)`, stepIDs, taskIDs, froms, tos, metas, keys, recent, now)
}

func (e *executor) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	var out []*taskerdriver.ClaimedStep
	err := e.write(ctx, func(x *executor) error {
		var err error
		out, err = x.stepClaim(ctx, p)
		return err
	})
	return out, err
}

func (x *executor) stepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := p.Now.UTC()
	var handlers []string
	if len(p.Handlers) > 0 {
		handlers = p.Handlers
	}
	type claimed struct {
		old string
		seqStep
	}
	rows, err := queryAll(ctx, x.q, `WITH ready AS (
			SELECT workflow_step_id, state AS old_state FROM tasker_workflow_steps
			WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked AND next_attempt_at <= $1
				AND ($5::text[] IS NULL OR handler = ANY($5)) AND queue = ANY($6)
			ORDER BY next_attempt_at, workflow_step_id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE tasker_workflow_steps s SET state = 'in_progress', attempts = s.attempts + 1,
			lease_owner = $3, lease_expires_at = $4, last_attempted_at = $1, updated_at = $1,
			transition_seq = s.transition_seq + CASE WHEN ready.old_state = 'error' THEN 2 ELSE 1 END
		FROM ready WHERE s.workflow_step_id = ready.workflow_step_id
		RETURNING ready.old_state, `+prefixed("s.", stepCols),
		[]any{now, p.Limit, p.Owner, p.LeaseExpiresAt.UTC(), handlers, driverkit.Queues(p.Queues)}, func(r pgx.Row) (claimed, error) {
			var c claimed
			var old string
			ss, err := scanStep(prependScan{r, &old})
			c.old, c.seqStep = old, ss
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim steps: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	trans := make([]stepTransitionRow, 0, len(rows)+2)
	ids := make([]int64, len(rows))
	var taskIDs []int64
	seenTask := map[int64]bool{}
	for i, c := range rows {
		s := c.step
		ids[i] = s.ID
		if c.old == string(taskertype.StateError) {
			trans = append(trans, stepTransitionRow{s.ID, s.TaskID, taskertype.StateError, taskertype.StatePending,
				json.RawMessage(fmt.Sprintf(`{"retry_attempt":%d}`, s.Attempts)), c.seq - 1})
		}
		trans = append(trans, stepTransitionRow{s.ID, s.TaskID, taskertype.StatePending, taskertype.StateInProgress,
			json.RawMessage(fmt.Sprintf(`{"attempt":%d,"worker":%q}`, s.Attempts, p.Owner)), c.seq})
		if !seenTask[s.TaskID] {
			seenTask[s.TaskID] = true
			taskIDs = append(taskIDs, s.TaskID)
		}
	}
	// Everything else of the claim goes in one round trip: the transitions,
	// starting the pending tasks, loading the tasks and the parents' results.
	b := &pgx.Batch{}
	queueStepTransitions(b, trans, now)
	b.Queue(`UPDATE tasker_tasks SET state = 'in_progress', transition_seq = transition_seq + 1,
		updated_at = $1 WHERE task_id = ANY($2) AND state = 'pending' RETURNING task_id, transition_seq`, now, taskIDs)
	b.Queue(`SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = ANY($1)`, taskIDs)
	b.Queue(`SELECT e.to_step_id, p.workflow_step_id, p.name, p.results FROM tasker_workflow_step_edges e
		JOIN tasker_workflow_steps p ON p.workflow_step_id = e.from_step_id
		WHERE e.to_step_id = ANY($1)`, ids)
	type dep struct {
		to, from int64
		name     string
		results  []byte
	}
	var (
		starts   [][2]int64
		taskList []*taskertype.Task
		deps     []dep
	)
	br := x.q.SendBatch(ctx, b)
	err = func() error {
		defer func() { _ = br.Close() }()
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("step transitions: %w", err)
			}
		}
		var err error
		if starts, err = collect(br, func(r pgx.Row) ([2]int64, error) {
			var v [2]int64
			var seq int32
			err := r.Scan(&v[0], &seq)
			v[1] = int64(seq)
			return v, err
		}); err != nil {
			return fmt.Errorf("start tasks: %w", err)
		}
		if taskList, err = collect(br, scanTask); err != nil {
			return fmt.Errorf("load tasks: %w", err)
		}
		if deps, err = collect(br, func(r pgx.Row) (dep, error) {
			var d dep
			return d, r.Scan(&d.to, &d.from, &d.name, &d.results)
		}); err != nil {
			return fmt.Errorf("dependency results: %w", err)
		}
		return br.Close()
	}()
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	started := make(map[int64]bool, len(starts))
	for _, st := range starts {
		started[st[0]] = true
		if err := x.taskTransition(ctx, st[0], string(taskertype.StatePending), taskertype.StateInProgress,
			json.RawMessage(`{"reason":"steps_claimed"}`), int(st[1]), now); err != nil {
			return nil, err
		}
	}
	tasks := make(map[int64]*taskertype.Task, len(taskList))
	for _, t := range taskList {
		tasks[t.ID] = t
	}
	out := make([]*taskerdriver.ClaimedStep, len(rows))
	byID := map[int64]*taskerdriver.ClaimedStep{}
	for i, c := range rows {
		s := c.step
		out[i] = &taskerdriver.ClaimedStep{Step: s, Task: tasks[s.TaskID], Dependencies: map[string]json.RawMessage{}, TaskStarted: started[s.TaskID]}
		byID[s.ID] = out[i]
	}
	for _, d := range deps {
		c := byID[d.to]
		c.Dependencies[d.name] = rawJSON(d.results)
		c.Step.ParentIDs = append(c.Step.ParentIDs, d.from)
	}
	return out, nil
}

// collect reads the next result of a batch as rows.
func collect[T any](br pgx.BatchResults, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// prependScan scans a leading column into first, then the rest into the
// caller's destinations.
type prependScan struct {
	r     pgx.Row
	first *string
}

func (p prependScan) Scan(dest ...any) error { return p.r.Scan(append([]any{p.first}, dest...)...) }

func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// satisfyChildren decrements the unfinished-parent counts of the children
// of parents and returns how many became ready.
func (x *executor) satisfyChildren(ctx context.Context, parents []int64, now time.Time) (int, error) {
	if len(parents) == 0 {
		return 0, nil
	}
	ready, err := x.satisfyChildrenOf(ctx, parents, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range ready {
		n += r
	}
	return n, nil
}

func (e *executor) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	var out []*taskertype.Step
	err := e.write(ctx, func(x *executor) error {
		var err error
		out, err = x.stepSetState(ctx, p)
		return err
	})
	return out, err
}

func (x *executor) stepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	var where []string
	var args sqlArgs
	arg := args.add
	if p.TaskID != 0 {
		where = append(where, "task_id = "+arg(p.TaskID))
	}
	if len(p.IDs) > 0 {
		where = append(where, "workflow_step_id = ANY("+arg(p.IDs)+")")
	}
	if len(where) == 0 {
		return nil, errors.New("postgres: step state change needs a task or step ids")
	}
	if len(p.From) > 0 {
		where = append(where, "state = ANY("+arg(stateStrings(p.From))+")")
	}
	if p.Owner != "" {
		where = append(where, "lease_owner = "+arg(p.Owner))
	}
	type idState struct {
		id    int64
		state string
	}
	found, err := queryAll(ctx, x.q, `SELECT workflow_step_id, state FROM tasker_workflow_steps WHERE `+
		strings.Join(where, " AND ")+` ORDER BY workflow_step_id FOR UPDATE`, args, func(r pgx.Row) (idState, error) {
		var v idState
		return v, r.Scan(&v.id, &v.state)
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(found))
	from := make(map[int64]taskertype.State, len(found))
	for i, f := range found {
		ids[i] = f.id
		from[f.id] = taskertype.State(f.state)
	}
	now := p.Now.UTC()
	args = nil
	sets := []string{"state = " + arg(string(p.To)), "updated_at = " + arg(now), "transition_seq = transition_seq + 1",
		"blocked = false", "lease_owner = NULL", "lease_expires_at = NULL"}
	if p.Results != nil {
		sets = append(sets, "results = "+arg(string(p.Results))+"::jsonb")
	}
	if p.To.Done() {
		sets = append(sets, "processed_at = "+arg(now))
	}
	if p.ResetAttempts {
		sets = append(sets, "attempts = 0", "last_error = NULL", "next_attempt_at = "+arg(now))
	}
	if p.DecrementAttempt {
		sets = append(sets, "attempts = greatest(attempts - 1, 0)")
	}
	steps, seqs, err := querySteps(ctx, x.q, `UPDATE tasker_workflow_steps SET `+strings.Join(sets, ", ")+
		` WHERE workflow_step_id = ANY(`+arg(ids)+`) RETURNING `+stepCols, args)
	if err != nil {
		return nil, fmt.Errorf("postgres: set step state: %w", err)
	}
	trans := make([]stepTransitionRow, len(steps))
	for i, s := range steps {
		trans[i] = stepTransitionRow{s.ID, s.TaskID, from[s.ID], p.To, p.Metadata, seqs[i]}
	}
	if err := x.stepTransitions(ctx, trans, now); err != nil {
		return nil, err
	}
	if p.To.Done() {
		if _, err := x.satisfyChildren(ctx, ids, now); err != nil {
			return nil, err
		}
	}
	if p.To == taskertype.StatePending {
		if err := x.Notify(ctx, taskerdriver.TopicStepsReady); err != nil {
			return nil, err
		}
	}
	return steps, nil
}

func (e *executor) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	ss, err := scanStep(e.q.QueryRow(ctx, `UPDATE tasker_workflow_steps SET updated_at = $1,
		retry_limit = coalesce($2, retry_limit), retryable = coalesce($3, retryable), inputs = coalesce($4::jsonb, inputs)
		WHERE workflow_step_id = $5 RETURNING `+stepCols, p.Now.UTC(), p.RetryLimit, p.Retryable, jsonArg(p.Inputs), p.ID))
	return ss.step, valueRejected(err)
}

func (e *executor) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	if len(p.IDs) == 0 {
		return nil, nil
	}
	out, err := queryAll(ctx, e.q, `UPDATE tasker_workflow_steps SET lease_expires_at = $1
		WHERE workflow_step_id = ANY($2) AND lease_owner = $3 AND state = 'in_progress'
		RETURNING workflow_step_id`, []any{p.LeaseExpiresAt.UTC(), p.IDs, p.Owner}, func(r pgx.Row) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: heartbeat: %w", err)
	}
	return out, nil
}

func (e *executor) StepListExpired(ctx context.Context, p *taskerdriver.StepListExpiredParams) ([]*taskertype.Step, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	steps, _, err := querySteps(ctx, e.q, `SELECT `+stepCols+` FROM tasker_workflow_steps
		WHERE state = 'in_progress' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`, []any{p.Now.UTC(), limit})
	if err != nil {
		return nil, fmt.Errorf("postgres: list expired steps: %w", err)
	}
	return steps, nil
}

func (e *executor) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	var a, b *time.Time
	if err := e.q.QueryRow(ctx, `SELECT
		(SELECT min(next_attempt_at) FROM tasker_workflow_steps
			WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked AND queue = ANY($1)),
		CASE WHEN $2 THEN (SELECT min(lease_expires_at) FROM tasker_workflow_steps WHERE state = 'in_progress') END`,
		driverkit.Queues(p.Queues), p.Leases).Scan(&a, &b); err != nil {
		return time.Time{}, fmt.Errorf("postgres: next wake: %w", err)
	}
	var ta, tb time.Time
	if a != nil {
		ta = a.UTC() // the epoch (a new step) is a real "ready since" time here
	}
	if b != nil {
		tb = b.UTC()
	}
	return driverkit.Earliest(ta, tb), nil
}

func (e *executor) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	const cols = `id, task_id, %s, coalesce(from_state, ''), to_state, metadata, sort_key, most_recent, created_at`
	var q string
	var arg int64
	switch {
	case p.StepID != 0:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE workflow_step_id = $1 ORDER BY sort_key`, "workflow_step_id")
		arg = p.StepID
	case p.AllSteps:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE task_id = $1 ORDER BY workflow_step_id, sort_key`, "workflow_step_id")
		arg = p.TaskID
	default:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_task_transitions WHERE task_id = $1 ORDER BY sort_key`, "0::bigint")
		arg = p.TaskID
	}
	out, err := queryAll(ctx, e.q, q, []any{arg}, func(r pgx.Row) (*taskertype.Transition, error) {
		var t taskertype.Transition
		var from, to string
		var meta []byte
		var created time.Time
		if err := r.Scan(&t.ID, &t.TaskID, &t.StepID, &from, &to, &meta, &t.SortKey, &t.MostRecent, &created); err != nil {
			return nil, err
		}
		t.FromState = taskertype.State(from)
		t.ToState = taskertype.State(to)
		t.Metadata = json.RawMessage(meta)
		t.CreatedAt = created.UTC()
		return &t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list transitions: %w", err)
	}
	if out == nil {
		out = []*taskertype.Transition{}
	}
	return out, nil
}

var _ taskerdriver.ExecutorTx = (*executor)(nil)

func (e *executor) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	h := &taskerdriver.HealthCounts{Tasks: map[taskertype.State]int{}, Steps: map[taskertype.State]int{}}
	for _, s := range taskertype.States {
		h.Tasks[s], h.Steps[s] = 0, 0
	}
	type count struct {
		state string
		n     int
	}
	scan := func(r pgx.Row) (count, error) {
		var c count
		return c, r.Scan(&c.state, &c.n)
	}
	tasks, err := queryAll(ctx, e.q, `SELECT state, count(*) FROM tasker_tasks GROUP BY state`, nil, scan)
	if err != nil {
		return nil, fmt.Errorf("postgres: health counts: %w", err)
	}
	for _, c := range tasks {
		h.Tasks[taskertype.State(c.state)] = c.n
	}
	steps, err := queryAll(ctx, e.q, `SELECT state, count(*) FROM tasker_workflow_steps GROUP BY state`, nil, scan)
	if err != nil {
		return nil, fmt.Errorf("postgres: health counts: %w", err)
	}
	for _, c := range steps {
		h.Steps[taskertype.State(c.state)] = c.n
	}
	if err := e.q.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE NOT blocked),
		count(*) FILTER (WHERE NOT blocked AND next_attempt_at > $1),
		count(*) FILTER (WHERE blocked)
		FROM tasker_workflow_steps WHERE state = 'error'`, now.UTC()).Scan(&h.RetryableErrors, &h.InBackoff, &h.ExhaustedRetries); err != nil {
		return nil, fmt.Errorf("postgres: health counts: %w", err)
	}
	if err := e.q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'),
		current_setting('max_connections')::int`).Scan(&h.ActiveConnections, &h.MaxConnections); err != nil {
		return nil, fmt.Errorf("postgres: connection counts: %w", err)
	}
	return h, nil
}

// StepFinishMany records a pass's finished attempts with set-based
// statements: one guarded update of every step, one batch of transitions,
// one decrement of the children, whatever the number of steps.
func (e *executor) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	out := make([]taskerdriver.StepFinishOutcome, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	err := e.write(ctx, func(x *executor) error {
		return x.stepFinishMany(ctx, ps, out)
	})
	return out, err
}

func (x *executor) stepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams, out []taskerdriver.StepFinishOutcome) error {
	n := len(ps)
	ids, attempts := make([]int64, n), make([]int32, n)
	states, owners := make([]string, n), make([]string, n)
	results, errs := make([]*string, n), make([]*string, n)
	blocked, next := make([]bool, n), make([]time.Time, n)
	now := ps[0].Now.UTC()
	for i, p := range ps {
		if p.State != taskertype.StateComplete && p.State != taskertype.StateError {
			return fmt.Errorf("postgres: finish step in state %q: want complete or error", p.State)
		}
		ids[i], attempts[i], states[i], owners[i] = p.StepID, int32(p.Attempt), string(p.State), p.Owner
		if len(p.Results) > 0 {
			r := string(p.Results)
			results[i] = &r
		}
		if p.Error != nil {
			b, err := json.Marshal(p.Error)
			if err != nil {
				return err
			}
			s := string(b)
			errs[i] = &s
		}
		blocked[i], next[i] = p.Blocked, pgTime(p.NextAttemptAt)
	}
	steps, seqs, err := querySteps(ctx, x.q, `UPDATE tasker_workflow_steps s SET state = u.state,
			results = coalesce(u.results::jsonb, s.results), last_error = u.err::jsonb, blocked = u.blocked,
			next_attempt_at = u.next, processed_at = CASE WHEN u.state = 'complete' THEN $9 ELSE s.processed_at END,
			lease_owner = NULL, lease_expires_at = NULL, updated_at = $9, transition_seq = s.transition_seq + 1
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[], $7::text[], $8::int[])
			AS u(id, state, results, err, blocked, next, owner, attempt)
		WHERE s.workflow_step_id = u.id AND s.state = 'in_progress' AND s.lease_owner = u.owner AND s.attempts = u.attempt
		RETURNING `+prefixed("s.", stepCols), []any{ids, states, results, errs, blocked, next, owners, attempts, now})
	if err != nil {
		return fmt.Errorf("postgres: finish steps: %w", err)
	}
	byID := make(map[int64]int, len(steps))
	for i, s := range steps {
		byID[s.ID] = i
	}
	trans := make([]stepTransitionRow, 0, len(steps))
	var completed []int64
	retrying := false
	for i, p := range ps {
		j, ok := byID[p.StepID]
		if !ok {
			out[i].Err = fmt.Errorf("%w: step %d attempt %d by %s", taskerdriver.ErrLeaseLost, p.StepID, p.Attempt, p.Owner)
			continue
		}
		s := steps[j]
		out[i].Result = &taskerdriver.StepFinishResult{Step: s}
		trans = append(trans, stepTransitionRow{s.ID, s.TaskID, taskertype.StateInProgress, p.State, p.Metadata, seqs[j]})
		if p.State == taskertype.StateComplete {
			completed = append(completed, s.ID)
		} else if !p.Blocked {
			retrying = true
		}
	}
	if err := x.stepTransitions(ctx, trans, now); err != nil {
		return err
	}
	if len(completed) > 0 {
		ready, err := x.satisfyChildrenOf(ctx, completed, now)
		if err != nil {
			return err
		}
		for i, p := range ps {
			if out[i].Result != nil && p.State == taskertype.StateComplete {
				out[i].Result.ChildrenReady = ready[p.StepID]
			}
		}
	}
	if retrying {
		return x.Notify(ctx, taskerdriver.TopicStepsReady)
	}
	return nil
}

// satisfyChildrenOf decrements the unfinished-parent counts of the children
// of parents (locking the children in id order, so that workers finishing
// parents of the same children cannot deadlock) and returns, per parent, how
// many of its children became ready.
func (x *executor) satisfyChildrenOf(ctx context.Context, parents []int64, now time.Time) (map[int64]int, error) {
	if _, err := x.q.Exec(ctx, `SELECT 1 FROM tasker_workflow_steps WHERE workflow_step_id IN (
			SELECT to_step_id FROM tasker_workflow_step_edges WHERE from_step_id = ANY($1))
		ORDER BY workflow_step_id FOR UPDATE`, parents); err != nil {
		return nil, fmt.Errorf("postgres: lock children: %w", err)
	}
	type readied struct{ parent, n int64 }
	rows, err := queryAll(ctx, x.q, `WITH counts AS (
			SELECT to_step_id AS id, count(*) AS n FROM tasker_workflow_step_edges
			WHERE from_step_id = ANY($1) GROUP BY to_step_id),
		updated AS (
			UPDATE tasker_workflow_steps s SET pending_parents = s.pending_parents - counts.n, updated_at = $2
			FROM counts WHERE s.workflow_step_id = counts.id
			RETURNING s.workflow_step_id, s.pending_parents, s.state)
		SELECT e.from_step_id, count(*) FROM updated u
		JOIN tasker_workflow_step_edges e ON e.to_step_id = u.workflow_step_id AND e.from_step_id = ANY($1)
		WHERE u.pending_parents = 0 AND u.state = 'pending'
		GROUP BY e.from_step_id`, []any{parents, now}, func(r pgx.Row) (readied, error) {
		var v readied
		return v, r.Scan(&v.parent, &v.n)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: satisfy children: %w", err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.parent] = int(r.n)
	}
	if len(rows) > 0 {
		if err := x.Notify(ctx, taskerdriver.TopicStepsReady); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *executor) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	out := make(map[int64]*taskerdriver.TaskWithProgress, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	tasks, err := queryAll(ctx, e.q, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id = ANY($1) ORDER BY task_id FOR UPDATE`, []any{ids}, scanTask)
	if err != nil {
		return nil, fmt.Errorf("postgres: lock tasks: %w", err)
	}
	for _, t := range tasks {
		out[t.ID] = &taskerdriver.TaskWithProgress{Task: t, Progress: &taskerdriver.TaskProgress{}}
	}
	type row struct {
		id int64
		p  taskerdriver.TaskProgress
	}
	rows, err := queryAll(ctx, e.q, `SELECT task_id, count(*),
		count(*) FILTER (WHERE state IN ('complete','resolved_manually')),
		count(*) FILTER (WHERE state = 'resolved_manually'),
		count(*) FILTER (WHERE state = 'in_progress'),
		count(*) FILTER (WHERE state IN ('pending','error') AND NOT blocked AND pending_parents = 0),
		count(*) FILTER (WHERE blocked),
		count(*) FILTER (WHERE state = 'cancelled'),
		min(next_attempt_at) FILTER (WHERE state IN ('pending','error') AND NOT blocked AND pending_parents = 0)
		FROM tasker_workflow_steps WHERE task_id = ANY($1) GROUP BY task_id`, []any{ids}, func(r pgx.Row) (row, error) {
		var v row
		var next *time.Time
		err := r.Scan(&v.id, &v.p.Total, &v.p.Done, &v.p.Resolved, &v.p.InProgress, &v.p.Runnable, &v.p.Blocked, &v.p.Cancelled, &next)
		v.p.NextRunnableAt = fromPGPtr(next)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: task progress: %w", err)
	}
	for _, r := range rows {
		if t := out[r.id]; t != nil {
			p := r.p
			t.Progress = &p
		}
	}
	return out, nil
}

// TaskSetStateMany moves tasks with one update and one batch of transitions.
func (e *executor) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	var out []*taskertype.Task
	err := e.write(ctx, func(x *executor) error {
		n := len(ps)
		ids, froms, tos, metas := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		finals := make([]bool, n)
		now := ps[0].Now.UTC()
		for i, p := range ps {
			if len(p.From) != 1 {
				return fmt.Errorf("postgres: task %d: TaskSetStateMany needs exactly one From state", p.ID)
			}
			ids[i], froms[i], tos[i], finals[i] = p.ID, string(p.From[0]), string(p.To), p.To.Final()
			meta := p.Metadata
			if len(meta) == 0 {
				meta = json.RawMessage(`{}`)
			}
			metas[i] = string(meta)
		}
		tasks, err := queryAll(ctx, x.q, `UPDATE tasker_tasks t SET state = u.to_state, transition_seq = t.transition_seq + 1,
				updated_at = $5, completed_at = CASE WHEN u.final THEN $5 ELSE t.completed_at END
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[]) AS u(id, from_state, to_state, final)
			WHERE t.task_id = u.id AND t.state = u.from_state
			RETURNING `+prefixed("t.", taskCols)+`, t.transition_seq`, []any{ids, froms, tos, finals, now},
			func(r pgx.Row) (seqTask, error) {
				var st seqTask
				t, err := scanTask(appendScan{r, &st.seq})
				st.task = t
				return st, err
			})
		if err != nil {
			return fmt.Errorf("postgres: set task states: %w", err)
		}
		if len(tasks) != n {
			return fmt.Errorf("%w: %d of %d tasks were not in their expected state", taskerdriver.ErrStateConflict, n-len(tasks), n)
		}
		byID := make(map[int64]seqTask, n)
		for _, t := range tasks {
			byID[t.task.ID] = t
		}
		seqs := make([]int32, n)
		out = make([]*taskertype.Task, n)
		anyFinal := false
		for i, id := range ids {
			seqs[i] = int32(byID[id].seq * 10)
			out[i] = byID[id].task
			anyFinal = anyFinal || finals[i]
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE tasker_task_transitions SET most_recent = false WHERE task_id = ANY($1) AND most_recent`, ids)
		b.Queue(`INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, most_recent, created_at)
			SELECT id, f, o, m::jsonb, k, true, $6 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(id, f, o, m, k)`,
			ids, froms, tos, metas, seqs, now)
		if err := x.q.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("postgres: task transitions: %w", err)
		}
		if anyFinal {
			return x.Notify(ctx, taskerdriver.TopicTaskChanged)
		}
		return nil
	})
	return out, err
}

type seqTask struct {
	task *taskertype.Task
	seq  int
}

// appendScan scans the caller's destinations, then one trailing column into
// last.
type appendScan struct {
	r    pgx.Row
	last *int
}

func (a appendScan) Scan(dest ...any) error { return a.r.Scan(append(dest, a.last)...) }
