package taskersqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const stepCols = `workflow_step_id, task_id, name, position, state, handler, handler_config, policy, attempts,
	retry_limit, retryable, skippable, blocked, pending_parents, inputs, results, last_error, next_attempt_at,
	last_attempted_at, processed_at, lease_owner, lease_expires_at, created_at, updated_at, queue, transition_seq`

// scanStep scans stepCols; the transition sequence is returned separately.
func scanStep(s rowScanner) (*taskertype.Step, int, error) {
	var (
		st                                     taskertype.Step
		state                                  string
		hcfg, policy, inputs, results, lastErr sql.NullString
		retryable, skippable, blocked          int
		next                                   int64
		lastAttempted, processed, leaseExp     sql.NullInt64
		owner                                  sql.NullString
		created, updated                       int64
		seq                                    int
	)
	if err := s.Scan(&st.ID, &st.TaskID, &st.Name, &st.Position, &state, &st.Handler, &hcfg, &policy, &st.Attempts,
		&st.RetryLimit, &retryable, &skippable, &blocked, &st.PendingParents, &inputs, &results, &lastErr, &next,
		&lastAttempted, &processed, &owner, &leaseExp, &created, &updated, &st.Queue, &seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, taskerdriver.ErrNotFound
		}
		return nil, 0, err
	}
	st.State = taskertype.State(state)
	st.HandlerConfig = rawOrNil(hcfg)
	st.Policy = rawOrNil(policy)
	st.Inputs = rawOrNil(inputs)
	st.Results = rawOrNil(results)
	if lastErr.Valid && lastErr.String != "" {
		st.LastError = &taskertype.StepError{}
		if err := json.Unmarshal([]byte(lastErr.String), st.LastError); err != nil {
			return nil, 0, fmt.Errorf("sqlite: step %d last_error: %w", st.ID, err)
		}
	}
	st.Retryable = retryable != 0
	st.Skippable = skippable != 0
	st.Blocked = blocked != 0
	st.NextAttemptAt = fromUS(sql.NullInt64{Int64: next, Valid: true})
	st.LastAttemptedAt = fromUS(lastAttempted)
	st.ProcessedAt = fromUS(processed)
	st.LeaseOwner = owner.String
	st.LeaseExpiresAt = fromUS(leaseExp)
	st.CreatedAt = time.UnixMicro(created).UTC()
	st.UpdatedAt = time.UnixMicro(updated).UTC()
	st.ParentIDs = []int64{}
	st.ChildIDs = []int64{}
	return &st, seq, nil
}

type seqStep struct {
	step *taskertype.Step
	seq  int
}

func scanSeqStep(r rowScanner) (seqStep, error) {
	s, seq, err := scanStep(r)
	return seqStep{s, seq}, err
}

// querySteps runs a query returning stepCols and the transition sequences.
func querySteps(ctx context.Context, q querier, query string, args []any) ([]*taskertype.Step, []int, error) {
	rows, err := queryAll(ctx, q, query, args, scanSeqStep)
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
	var args []any
	if p.TaskID != 0 {
		where = append(where, "task_id = ?")
		args = append(args, p.TaskID)
	}
	if len(p.IDs) > 0 {
		where = append(where, "workflow_step_id IN ("+placeholders(len(p.IDs))+")")
		args = append(args, int64Args(p.IDs)...)
	}
	if len(p.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(p.States))+")")
		args = append(args, stateArgs(p.States)...)
	}
	if len(where) == 0 {
		return nil, errors.New("sqlite: step list needs a task or step ids")
	}
	steps, _, err := querySteps(ctx, e.r, `SELECT `+stepCols+` FROM tasker_workflow_steps WHERE `+
		strings.Join(where, " AND ")+` ORDER BY task_id, position`, args)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list steps: %w", err)
	}
	if len(steps) == 0 {
		return steps, nil
	}
	// Parent and child ids.
	ids := make([]int64, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	in := placeholders(len(ids))
	eargs := append(int64Args(ids), int64Args(ids)...)
	edges, err := queryAll(ctx, e.r, `SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE from_step_id IN (`+in+`) UNION SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE to_step_id IN (`+in+`) ORDER BY 1, 2`, eargs, scanPair)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list edges: %w", err)
	}
	driverkit.LinkEdges(steps, edges)
	return steps, nil
}

func scanPair(r rowScanner) ([2]int64, error) {
	var v [2]int64
	return v, r.Scan(&v[0], &v[1])
}

type idState struct {
	id    int64
	state taskertype.State
}

func scanIDState(r rowScanner) (idState, error) {
	var v idState
	var st string
	err := r.Scan(&v.id, &st)
	v.state = taskertype.State(st)
	return v, err
}

// stepTransition writes one step transition row, demoting the previous one.
func (x *executor) stepTransitions(ctx context.Context, rows []stepTransitionRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(rows))
	seen := map[int64]bool{}
	for _, r := range rows {
		if !seen[r.stepID] {
			seen[r.stepID] = true
			ids = append(ids, r.stepID)
		}
	}
	if _, err := x.w.ExecContext(ctx, `UPDATE tasker_workflow_step_transitions SET most_recent = 0
		WHERE workflow_step_id IN (SELECT value FROM json_each(?)) AND most_recent = 1`, idsJSON(ids)); err != nil {
		return fmt.Errorf("sqlite: step transitions: %w", err)
	}
	// Only the last row of each step is most recent.
	last := map[int64]int{}
	for i, r := range rows {
		last[r.stepID] = i
	}
	const chunk = 400
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		args := make([]any, 0, (end-start)*8)
		for i := start; i < end; i++ {
			r := rows[i]
			meta := r.meta
			if len(meta) == 0 {
				meta = json.RawMessage(`{}`)
			}
			var from any
			if r.from != "" {
				from = string(r.from)
			}
			args = append(args, r.stepID, r.taskID, from, string(r.to), string(meta), r.seq*10, boolInt(last[r.stepID] == i), r.now)
		}
		q := `INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata,
			sort_key, most_recent, created_at) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?),", end-start), ",")
		if _, err := x.w.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("sqlite: step transitions: %w", err)
		}
	}
	return nil
}

type stepTransitionRow struct {
	stepID, taskID int64
	from, to       taskertype.State
	meta           json.RawMessage
	seq            int
	now            int64
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
	now := us(p.Now)
	q := `SELECT workflow_step_id, state FROM tasker_workflow_steps
		WHERE queue IN (SELECT value FROM json_each(?)) AND state IN ('pending','error') AND pending_parents = 0 AND blocked = 0
			AND next_attempt_at <= ?`
	args := []any{queuesJSON(p.Queues), now}
	if len(p.Handlers) > 0 {
		handlers, err := json.Marshal(p.Handlers)
		if err != nil {
			return nil, err
		}
		q += ` AND handler IN (SELECT value FROM json_each(?))`
		args = append(args, string(handlers))
	}
	q += ` ORDER BY next_attempt_at, workflow_step_id LIMIT ?`
	ready, err := queryAll(ctx, x.w, q, append(args, p.Limit), scanIDState)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find ready steps: %w", err)
	}
	if len(ready) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(ready))
	wasError := map[int64]bool{}
	for i, r := range ready {
		ids[i] = r.id
		wasError[r.id] = r.state == taskertype.StateError
	}
	steps, seqs, err := querySteps(ctx, x.w, `UPDATE tasker_workflow_steps SET state = 'in_progress', attempts = attempts + 1,
		lease_owner = ?, lease_expires_at = ?, last_attempted_at = ?, updated_at = ?,
		transition_seq = transition_seq + CASE WHEN state = 'error' THEN 2 ELSE 1 END
		WHERE workflow_step_id IN (SELECT value FROM json_each(?)) RETURNING `+stepCols,
		[]any{p.Owner, us(p.LeaseExpiresAt), now, now, idsJSON(ids)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim steps: %w", err)
	}
	trans := make([]stepTransitionRow, 0, len(steps)+2)
	taskIDs := []int64{}
	seenTask := map[int64]bool{}
	for i, s := range steps {
		meta := json.RawMessage(fmt.Sprintf(`{"attempt":%d,"worker":%q}`, s.Attempts, p.Owner))
		if wasError[s.ID] {
			trans = append(trans, stepTransitionRow{s.ID, s.TaskID, taskertype.StateError, taskertype.StatePending,
				json.RawMessage(fmt.Sprintf(`{"retry_attempt":%d}`, s.Attempts)), seqs[i] - 1, now})
		}
		trans = append(trans, stepTransitionRow{s.ID, s.TaskID, taskertype.StatePending, taskertype.StateInProgress, meta, seqs[i], now})
		if !seenTask[s.TaskID] {
			seenTask[s.TaskID] = true
			taskIDs = append(taskIDs, s.TaskID)
		}
	}
	if err := x.stepTransitions(ctx, trans); err != nil {
		return nil, err
	}
	// Start the tasks that were pending.
	starts, err := queryAll(ctx, x.w, `UPDATE tasker_tasks SET state = 'in_progress', transition_seq = transition_seq + 1,
		updated_at = ? WHERE task_id IN (SELECT value FROM json_each(?)) AND state = 'pending' RETURNING task_id, transition_seq`,
		[]any{now, idsJSON(taskIDs)}, scanPair)
	if err != nil {
		return nil, fmt.Errorf("sqlite: start tasks: %w", err)
	}
	started := make(map[int64]bool, len(starts))
	for _, s := range starts {
		started[s[0]] = true
		if err := x.taskTransition(ctx, s[0], string(taskertype.StatePending), taskertype.StateInProgress,
			json.RawMessage(`{"reason":"steps_claimed"}`), int(s[1]), now); err != nil {
			return nil, err
		}
	}
	taskList, err := queryAll(ctx, x.w, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id IN (SELECT value FROM json_each(?))`,
		[]any{idsJSON(taskIDs)}, scanTask)
	if err != nil {
		return nil, err
	}
	tasks := make(map[int64]*taskertype.Task, len(taskList))
	for _, t := range taskList {
		tasks[t.ID] = t
	}
	out := make([]*taskerdriver.ClaimedStep, len(steps))
	byID := map[int64]*taskerdriver.ClaimedStep{}
	for i, s := range steps {
		out[i] = &taskerdriver.ClaimedStep{Step: s, Task: tasks[s.TaskID], Dependencies: map[string]json.RawMessage{}, TaskStarted: started[s.TaskID]}
		byID[s.ID] = out[i]
	}
	type dep struct {
		to, from int64
		name     string
		results  sql.NullString
	}
	deps, err := queryAll(ctx, x.w, `SELECT e.to_step_id, p.workflow_step_id, p.name, p.results FROM tasker_workflow_step_edges e
		JOIN tasker_workflow_steps p ON p.workflow_step_id = e.from_step_id
		WHERE e.to_step_id IN (SELECT value FROM json_each(?))`, []any{idsJSON(ids)}, func(r rowScanner) (dep, error) {
		var d dep
		return d, r.Scan(&d.to, &d.from, &d.name, &d.results)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: dependency results: %w", err)
	}
	for _, d := range deps {
		c := byID[d.to]
		c.Dependencies[d.name] = rawOrNil(d.results)
		c.Step.ParentIDs = append(c.Step.ParentIDs, d.from)
	}
	return out, nil
}

func (x *executor) stepFinish(ctx context.Context, p *taskerdriver.StepFinishParams) (*taskerdriver.StepFinishResult, error) {
	if p.State != taskertype.StateComplete && p.State != taskertype.StateError {
		return nil, fmt.Errorf("sqlite: finish step in state %q: want complete or error", p.State)
	}
	now := us(p.Now)
	var errJSON any
	if p.Error != nil {
		b, err := json.Marshal(p.Error)
		if err != nil {
			return nil, err
		}
		errJSON = string(b)
	}
	var processed any
	if p.State == taskertype.StateComplete {
		processed = now
	}
	step, seq, err := scanStep(x.w.QueryRowContext(ctx, `UPDATE tasker_workflow_steps SET state = ?,
		results = coalesce(?, results), last_error = ?, blocked = ?, next_attempt_at = ?, processed_at = coalesce(?, processed_at),
		lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, transition_seq = transition_seq + 1
		WHERE workflow_step_id = ? AND state = 'in_progress' AND lease_owner = ? AND attempts = ?
		RETURNING `+stepCols,
		string(p.State), nullJSON(p.Results), errJSON, boolInt(p.Blocked), us(p.NextAttemptAt), processed, now,
		p.StepID, p.Owner, p.Attempt))
	if errors.Is(err, taskerdriver.ErrNotFound) {
		return nil, fmt.Errorf("%w: step %d attempt %d by %s", taskerdriver.ErrLeaseLost, p.StepID, p.Attempt, p.Owner)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: finish step: %w", err)
	}
	if err := x.stepTransitions(ctx, []stepTransitionRow{{step.ID, step.TaskID, taskertype.StateInProgress, p.State, p.Metadata, seq, now}}); err != nil {
		return nil, err
	}
	res := &taskerdriver.StepFinishResult{Step: step}
	if p.State == taskertype.StateComplete {
		n, err := x.satisfyChildren(ctx, []int64{step.ID}, now)
		if err != nil {
			return nil, err
		}
		res.ChildrenReady = n
	} else if !p.Blocked {
		x.topics = append(x.topics, taskerdriver.TopicStepsReady)
	}
	return res, nil
}

// satisfyChildren decrements the unfinished-parent count of the children of
// the given (now done) steps and returns how many became ready.
func (x *executor) satisfyChildren(ctx context.Context, parents []int64, now int64) (int, error) {
	if len(parents) == 0 {
		return 0, nil
	}
	children, err := queryAll(ctx, x.w, `UPDATE tasker_workflow_steps SET pending_parents = pending_parents - (
			SELECT count(*) FROM tasker_workflow_step_edges e WHERE e.to_step_id = tasker_workflow_steps.workflow_step_id
			AND e.from_step_id IN (SELECT value FROM json_each(?))), updated_at = ?
		WHERE workflow_step_id IN (SELECT to_step_id FROM tasker_workflow_step_edges WHERE from_step_id IN (SELECT value FROM json_each(?)))
		RETURNING pending_parents, state`,
		[]any{idsJSON(parents), now, idsJSON(parents)}, scanIDState) // id holds pending_parents
	if err != nil {
		return 0, fmt.Errorf("sqlite: satisfy children: %w", err)
	}
	ready := 0
	for _, c := range children {
		if pendingParents := c.id; pendingParents == 0 && c.state == taskertype.StatePending {
			ready++
		}
	}
	if ready > 0 {
		x.topics = append(x.topics, taskerdriver.TopicStepsReady)
	}
	return ready, nil
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
	var args []any
	if p.TaskID != 0 {
		where = append(where, "task_id = ?")
		args = append(args, p.TaskID)
	}
	if len(p.IDs) > 0 {
		where = append(where, "workflow_step_id IN ("+placeholders(len(p.IDs))+")")
		args = append(args, int64Args(p.IDs)...)
	}
	if len(where) == 0 {
		return nil, errors.New("sqlite: step state change needs a task or step ids")
	}
	if len(p.From) > 0 {
		where = append(where, "state IN ("+placeholders(len(p.From))+")")
		args = append(args, stateArgs(p.From)...)
	}
	if p.Owner != "" {
		where = append(where, "lease_owner = ?")
		args = append(args, p.Owner)
	}
	found, err := queryAll(ctx, x.w, `SELECT workflow_step_id, state FROM tasker_workflow_steps WHERE `+strings.Join(where, " AND "), args, scanIDState)
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
		from[f.id] = f.state
	}
	now := us(p.Now)
	sets := []string{"state = ?", "updated_at = ?", "transition_seq = transition_seq + 1", "blocked = 0",
		"lease_owner = NULL", "lease_expires_at = NULL"}
	uargs := []any{string(p.To), now}
	if p.Results != nil {
		sets = append(sets, "results = ?")
		uargs = append(uargs, string(p.Results))
	}
	if p.To.Done() {
		sets = append(sets, "processed_at = ?")
		uargs = append(uargs, now)
	}
	if p.ResetAttempts {
		sets = append(sets, "attempts = 0", "last_error = NULL", "next_attempt_at = ?")
		uargs = append(uargs, now)
	}
	if p.DecrementAttempt {
		sets = append(sets, "attempts = max(attempts - 1, 0)")
	}
	steps, seqs, err := querySteps(ctx, x.w, `UPDATE tasker_workflow_steps SET `+strings.Join(sets, ", ")+
		` WHERE workflow_step_id IN (SELECT value FROM json_each(?)) RETURNING `+stepCols, append(uargs, idsJSON(ids)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: set step state: %w", err)
	}
	trans := make([]stepTransitionRow, len(steps))
	for i, s := range steps {
		trans[i] = stepTransitionRow{s.ID, s.TaskID, from[s.ID], p.To, p.Metadata, seqs[i], now}
	}
	if err := x.stepTransitions(ctx, trans); err != nil {
		return nil, err
	}
	if p.To.Done() {
		if _, err := x.satisfyChildren(ctx, ids, now); err != nil {
			return nil, err
		}
	}
	if p.To == taskertype.StatePending {
		x.topics = append(x.topics, taskerdriver.TopicStepsReady)
	}
	return steps, nil
}

func (e *executor) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	var step *taskertype.Step
	err := e.write(ctx, func(x *executor) error {
		sets := []string{"updated_at = ?"}
		args := []any{us(p.Now)}
		if p.RetryLimit != nil {
			sets = append(sets, "retry_limit = ?")
			args = append(args, *p.RetryLimit)
		}
		if p.Retryable != nil {
			sets = append(sets, "retryable = ?")
			args = append(args, boolInt(*p.Retryable))
		}
		if p.Inputs != nil {
			sets = append(sets, "inputs = ?")
			args = append(args, string(p.Inputs))
		}
		var err error
		step, _, err = scanStep(x.w.QueryRowContext(ctx, `UPDATE tasker_workflow_steps SET `+strings.Join(sets, ", ")+
			` WHERE workflow_step_id = ? RETURNING `+stepCols, append(args, p.ID)...))
		return err
	})
	return step, err
}

func (e *executor) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	if len(p.IDs) == 0 {
		return nil, nil
	}
	var out []int64
	err := e.write(ctx, func(x *executor) error {
		var err error
		out, err = queryAll(ctx, x.w, `UPDATE tasker_workflow_steps SET lease_expires_at = ?
			WHERE workflow_step_id IN (SELECT value FROM json_each(?)) AND lease_owner = ? AND state = 'in_progress'
			RETURNING workflow_step_id`, []any{us(p.LeaseExpiresAt), idsJSON(p.IDs), p.Owner}, scanID)
		if err != nil {
			return fmt.Errorf("sqlite: heartbeat: %w", err)
		}
		return nil
	})
	return out, err
}

func scanID(r rowScanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

func (e *executor) StepListExpired(ctx context.Context, p *taskerdriver.StepListExpiredParams) ([]*taskertype.Step, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	steps, _, err := querySteps(ctx, e.r, `SELECT `+stepCols+` FROM tasker_workflow_steps
		WHERE state = 'in_progress' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`, []any{us(p.Now), limit})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list expired steps: %w", err)
	}
	return steps, nil
}

func (e *executor) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	var a, b sql.NullInt64
	if err := e.r.QueryRowContext(ctx, `SELECT
		(SELECT min(next_attempt_at) FROM tasker_workflow_steps
			WHERE queue IN (SELECT value FROM json_each(?)) AND state IN ('pending','error') AND pending_parents = 0 AND blocked = 0),
		CASE WHEN ? THEN (SELECT min(lease_expires_at) FROM tasker_workflow_steps WHERE state = 'in_progress') END`,
		queuesJSON(p.Queues), boolInt(p.Leases)).Scan(&a, &b); err != nil {
		return time.Time{}, fmt.Errorf("sqlite: next wake: %w", err)
	}
	ta, tb := fromUS(a), fromUS(b)
	if a.Valid && a.Int64 == 0 {
		ta = time.Unix(0, 0).UTC() // ready since creation
	}
	return driverkit.Earliest(ta, tb), nil
}

// queuesJSON is the JSON array of the queues a claim looks at: the empty
// queue (in-process steps) when none is given.
func queuesJSON(queues []string) string {
	b, _ := json.Marshal(driverkit.Queues(queues))
	return string(b)
}

func (e *executor) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	const cols = `id, task_id, %s, coalesce(from_state, ''), to_state, metadata, sort_key, most_recent, created_at`
	var q string
	var arg int64
	switch {
	case p.StepID != 0:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE workflow_step_id = ? ORDER BY sort_key`, "workflow_step_id")
		arg = p.StepID
	case p.AllSteps:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE task_id = ? ORDER BY workflow_step_id, sort_key`, "workflow_step_id")
		arg = p.TaskID
	default:
		q = fmt.Sprintf(`SELECT `+cols+` FROM tasker_task_transitions WHERE task_id = ? ORDER BY sort_key`, "0")
		arg = p.TaskID
	}
	out, err := queryAll(ctx, e.r, q, []any{arg}, func(r rowScanner) (*taskertype.Transition, error) {
		var t taskertype.Transition
		var from, to, meta string
		var mostRecent int
		var created int64
		if err := r.Scan(&t.ID, &t.TaskID, &t.StepID, &from, &to, &meta, &t.SortKey, &mostRecent, &created); err != nil {
			return nil, err
		}
		t.FromState = taskertype.State(from)
		t.ToState = taskertype.State(to)
		t.Metadata = json.RawMessage(meta)
		t.MostRecent = mostRecent != 0
		t.CreatedAt = time.UnixMicro(created).UTC()
		return &t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list transitions: %w", err)
	}
	if out == nil {
		out = []*taskertype.Transition{}
	}
	return out, nil
}

var _ taskerdriver.ExecutorTx = (*executor)(nil)

func (e *executor) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	if len(p.States) == 0 {
		return 0, nil
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	states, err := json.Marshal(p.States)
	if err != nil {
		return 0, err
	}
	var n int
	err = e.write(ctx, func(x *executor) error {
		res, err := x.w.ExecContext(ctx, `DELETE FROM tasker_tasks WHERE task_id IN (
			SELECT task_id FROM tasker_tasks WHERE completed_at IS NOT NULL AND completed_at < ?
			AND state IN (SELECT value FROM json_each(?)) ORDER BY completed_at LIMIT ?)`, us(p.Before), string(states), limit)
		if err != nil {
			return fmt.Errorf("sqlite: delete finished tasks: %w", err)
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		return err
	})
	return n, err
}

func (e *executor) LeaderAttempt(ctx context.Context, p *taskerdriver.LeaderAttemptParams) (bool, error) {
	var leads bool
	err := e.write(ctx, func(x *executor) error {
		now := us(p.Now)
		var leader string
		err := x.w.QueryRowContext(ctx, `INSERT INTO tasker_leaders (name, leader_id, elected_at, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET leader_id = excluded.leader_id, expires_at = excluded.expires_at,
				elected_at = CASE WHEN tasker_leaders.leader_id = excluded.leader_id THEN tasker_leaders.elected_at ELSE excluded.elected_at END
			WHERE tasker_leaders.expires_at < ? OR tasker_leaders.leader_id = excluded.leader_id
			RETURNING leader_id`, p.Name, p.ID, now, us(p.Now.Add(p.TTL)), now).Scan(&leader)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: leader election: %w", err)
		}
		leads = leader == p.ID
		return nil
	})
	return leads, err
}

func (e *executor) LeaderResign(ctx context.Context, p *taskerdriver.LeaderAttemptParams) error {
	return e.write(ctx, func(x *executor) error {
		_, err := x.w.ExecContext(ctx, `DELETE FROM tasker_leaders WHERE name = ? AND leader_id = ?`, p.Name, p.ID)
		return err
	})
}

func (e *executor) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	h := &taskerdriver.HealthCounts{Tasks: map[taskertype.State]int{}, Steps: map[taskertype.State]int{}}
	for _, s := range taskertype.States {
		h.Tasks[s], h.Steps[s] = 0, 0
	}
	type count struct {
		state string
		n     int
	}
	scan := func(r rowScanner) (count, error) {
		var c count
		return c, r.Scan(&c.state, &c.n)
	}
	tasks, err := queryAll(ctx, e.r, `SELECT state, count(*) FROM tasker_tasks GROUP BY state`, nil, scan)
	if err != nil {
		return nil, fmt.Errorf("sqlite: health counts: %w", err)
	}
	for _, c := range tasks {
		h.Tasks[taskertype.State(c.state)] = c.n
	}
	steps, err := queryAll(ctx, e.r, `SELECT state, count(*) FROM tasker_workflow_steps GROUP BY state`, nil, scan)
	if err != nil {
		return nil, fmt.Errorf("sqlite: health counts: %w", err)
	}
	for _, c := range steps {
		h.Steps[taskertype.State(c.state)] = c.n
	}
	if err := e.r.QueryRowContext(ctx, `SELECT
		coalesce(sum(state = 'error' AND blocked = 0), 0),
		coalesce(sum(state = 'error' AND blocked = 0 AND next_attempt_at > ?), 0),
		coalesce(sum(state = 'error' AND blocked = 1), 0)
		FROM tasker_workflow_steps WHERE state = 'error'`, us(now)).Scan(&h.RetryableErrors, &h.InBackoff, &h.ExhaustedRetries); err != nil {
		return nil, fmt.Errorf("sqlite: health counts: %w", err)
	}
	return h, nil
}

func (e *executor) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	out := make([]taskerdriver.StepFinishOutcome, len(ps))
	err := e.write(ctx, func(x *executor) error {
		for i, p := range ps {
			r, err := x.stepFinish(ctx, p)
			if err != nil && !errors.Is(err, taskerdriver.ErrLeaseLost) {
				return err
			}
			out[i] = taskerdriver.StepFinishOutcome{Result: r, Err: err}
		}
		return nil
	})
	return out, err
}

func (e *executor) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	out := make(map[int64]*taskerdriver.TaskWithProgress, len(ids))
	for _, id := range ids {
		// SQLite has one writer: a transaction already excludes every other.
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
	out := make([]*taskertype.Task, len(ps))
	err := e.write(ctx, func(x *executor) error {
		for i, p := range ps {
			t, err := x.taskSetState(ctx, p)
			if err != nil {
				return err
			}
			out[i] = t
		}
		return nil
	})
	return out, err
}
