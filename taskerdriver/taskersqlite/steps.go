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

const stepCols = driverkit.StepColumns

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
		return nil, 0, driverkit.NoRows(err, sql.ErrNoRows)
	}
	st.State = taskertype.State(state)
	st.HandlerConfig = rawOrNil(hcfg)
	st.Policy = rawOrNil(policy)
	st.Inputs = rawOrNil(inputs)
	st.Results = rawOrNil(results)
	if err := driverkit.ScannedStep(&st, []byte(lastErr.String)); err != nil {
		return nil, 0, fmt.Errorf("sqlite: %w", err)
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
	return &st, seq, nil
}

func scanSeqStep(r rowScanner) (driverkit.SeqStep, error) {
	s, seq, err := scanStep(r)
	return driverkit.SeqStep{Step: s, Seq: seq}, err
}

// querySteps runs a query returning stepCols and the transition sequences.
func querySteps(ctx context.Context, q querier, query string, args []any) ([]*taskertype.Step, []int, error) {
	rows, err := queryAll(ctx, q, query, args, scanSeqStep)
	steps, seqs := driverkit.UnzipSteps(rows)
	return steps, seqs, err
}

func (e *executor) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	where, args := stepWhere(p.TaskID, p.TaskIDs, p.IDs, p.States)
	steps, err := driverkit.ListSteps(where, func(cond string) ([]*taskertype.Step, error) {
		steps, _, err := querySteps(ctx, e.r, `SELECT `+driverkit.StepListColumns(p, "NULL")+` FROM tasker_workflow_steps`+cond+` ORDER BY task_id, position`, args)
		return steps, err
	}, func(ids []int64) ([][2]int64, error) { // parent and child ids
		in := jsonList(ids) // one argument, however many steps a page of tasks has
		return queryAll(ctx, e.r, `SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE from_step_id IN (SELECT value FROM json_each(?)) UNION SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE to_step_id IN (SELECT value FROM json_each(?)) ORDER BY 1, 2`, []any{in, in}, scanPair)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driverName, err)
	}
	return steps, nil
}

func (e *executor) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	return driverkit.One(e.StepList(ctx, &taskerdriver.StepListParams{IDs: []int64{id}}))
}

// stepWhere returns the conditions, and their arguments, that select the
// steps of a task, of the tasks taskIDs, of ids, in states (each when
// given).
func stepWhere(taskID int64, taskIDs, ids []int64, states []taskertype.State) (where []string, args []any) {
	if taskID != 0 {
		where = append(where, "task_id = ?")
		args = append(args, taskID)
	}
	if len(taskIDs) > 0 {
		where = append(where, "task_id IN (SELECT value FROM json_each(?))")
		args = append(args, jsonList(taskIDs))
	}
	if len(ids) > 0 {
		where = append(where, "workflow_step_id IN ("+placeholders(len(ids))+")")
		args = append(args, int64Args(ids)...)
	}
	if len(states) > 0 {
		where = append(where, "state IN ("+placeholders(len(states))+")")
		args = append(args, stateArgs(states)...)
	}
	return where, args
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

func (e *executor) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskerdriver.ClaimedStep, error) { return x.stepClaim(ctx, p, nil) })
}

// stepClaim claims steps as p asks. newTask, when not nil, is the task
// this transaction just created, to which p is restricted.
func (x *executor) stepClaim(ctx context.Context, p *taskerdriver.StepClaimParams, newTask *taskertype.Task) ([]*taskerdriver.ClaimedStep, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := us(p.Now)
	q := `SELECT workflow_step_id, state, max(updated_at, next_attempt_at) FROM tasker_workflow_steps
		WHERE queue IN (SELECT value FROM json_each(?)) AND state IN ('pending','error') AND pending_parents = 0 AND blocked = 0
			AND next_attempt_at <= ?`
	args := []any{queuesJSON(p.Queues), now}
	if len(p.Handlers) > 0 {
		q += ` AND handler IN (SELECT value FROM json_each(?))`
		args = append(args, stringsJSON(p.Handlers))
	}
	if len(p.TaskIDs) > 0 {
		ids, _ := json.Marshal(p.TaskIDs) // an []int64 always encodes
		q += ` AND task_id IN (SELECT value FROM json_each(?))`
		args = append(args, string(ids))
	}
	q += ` ORDER BY task_id, workflow_step_id LIMIT ?` // fair: older tasks first (docs/design.md)
	type readyStep struct {
		idState
		readyAt int64
	}
	ready, err := queryAll(ctx, x.w, q, append(args, p.Limit), func(r rowScanner) (readyStep, error) {
		var v readyStep
		var st string
		err := r.Scan(&v.id, &st, &v.readyAt)
		v.state = taskertype.State(st)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find ready steps: %w", err)
	}
	if len(ready) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(ready))
	wasError := map[int64]bool{}
	readyAt := make(map[int64]time.Time, len(ready))
	for i, r := range ready {
		ids[i] = r.id
		wasError[r.id] = r.state == taskertype.StateError
		readyAt[r.id] = fromUS(sql.NullInt64{Int64: r.readyAt, Valid: true})
	}
	// Each claimed step comes back with how many steps depend on it.
	type claimedStep struct {
		driverkit.SeqStep
		children int
	}
	rows, err := queryAll(ctx, x.w, `UPDATE tasker_workflow_steps SET state = 'in_progress', attempts = attempts + 1,
		lease_owner = ?, lease_expires_at = ?, last_attempted_at = ?, updated_at = ?,
		transition_seq = transition_seq + CASE WHEN state = 'error' THEN 2 ELSE 1 END
		WHERE workflow_step_id IN (SELECT value FROM json_each(?)) RETURNING `+stepCols+`,
			(SELECT count(*) FROM tasker_workflow_step_edges e WHERE e.from_step_id = tasker_workflow_steps.workflow_step_id)`,
		[]any{p.Owner, us(p.LeaseExpiresAt), now, now, idsJSON(ids)}, func(r rowScanner) (claimedStep, error) {
			var v claimedStep
			var err error
			v.SeqStep, err = scanSeqStep(driverkit.AppendScan{Row: r, Into: []any{&v.children}})
			return v, err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim steps: %w", err)
	}
	steps, seqs := make([]*taskertype.Step, len(rows)), make([]int, len(rows))
	children := make(map[int64]int, len(rows))
	for i, r := range rows {
		steps[i], seqs[i], children[r.Step.ID] = r.Step, r.Seq, r.children
	}
	wasErr := make([]bool, len(steps))
	for i, s := range steps {
		wasErr[i] = wasError[s.ID]
	}
	trans, taskIDs := driverkit.ClaimTransitions(steps, seqs, wasErr, p.Owner)
	if err := (kit{x}).WriteStepTransitions(ctx, trans, p.Now); err != nil {
		return nil, err
	}
	// The tasks, read before the claim starts those that were pending: a
	// claim that follows results (its tasks already run) then writes
	// nothing to them. A new task (newTask, from the creation of this
	// transaction) is not read again, and its ready steps are roots: they
	// have no parents to read.
	var taskList []*taskertype.Task
	if newTask != nil {
		t := *newTask
		taskList = []*taskertype.Task{&t}
	} else if taskList, err = queryAll(ctx, x.w, `SELECT `+taskCols+` FROM tasker_tasks WHERE task_id IN (SELECT value FROM json_each(?))`,
		[]any{idsJSON(taskIDs)}, scanTask); err != nil {
		return nil, err
	}
	var pending []int64
	for _, t := range taskList {
		if t.State == taskertype.StatePending {
			pending = append(pending, t.ID)
		}
	}
	var starts [][2]int64
	if len(pending) > 0 {
		if starts, err = queryAll(ctx, x.w, `UPDATE tasker_tasks SET state = 'in_progress', transition_seq = transition_seq + 1,
			updated_at = ? WHERE task_id IN (SELECT value FROM json_each(?)) AND state = 'pending' RETURNING task_id, transition_seq`,
			[]any{now, idsJSON(pending)}, scanPair); err != nil {
			return nil, fmt.Errorf("sqlite: start tasks: %w", err)
		}
		started := make(map[int64]bool, len(starts))
		for _, st := range starts {
			started[st[0]] = true
		}
		for _, t := range taskList {
			if started[t.ID] {
				t.State, t.UpdatedAt = taskertype.StateInProgress, fromUS(sql.NullInt64{Int64: now, Valid: true})
			}
		}
	}
	var deps []driverkit.Dependency
	if newTask == nil {
		deps, err = queryAll(ctx, x.w, `SELECT e.to_step_id, p.workflow_step_id, p.name, p.results FROM tasker_workflow_step_edges e
		JOIN tasker_workflow_steps p ON p.workflow_step_id = e.from_step_id
		WHERE e.to_step_id IN (SELECT value FROM json_each(?))`, []any{idsJSON(ids)}, func(r rowScanner) (driverkit.Dependency, error) {
			var d driverkit.Dependency
			var results sql.NullString
			err := r.Scan(&d.Child, &d.Parent, &d.Name, &results)
			d.Results = rawOrNil(results)
			return d, err
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: dependency results: %w", err)
		}
	}
	x.readied.Claimed(ids)
	return driverkit.ClaimDone(steps, taskList, starts, deps, readyAt, children, func(taskID int64, meta json.RawMessage, seq int) error {
		return x.taskTransition(ctx, taskID, string(taskertype.StatePending), taskertype.StateInProgress, meta, seq, now)
	})
}

func (e *executor) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	var sets columnSets
	if p.RetryLimit != nil {
		sets.set("retry_limit", *p.RetryLimit)
	}
	if p.Retryable != nil {
		sets.set("retryable", boolInt(*p.Retryable))
	}
	if p.Inputs != nil {
		sets.set("inputs", string(p.Inputs))
	}
	return auditedUpdate(ctx, e, stepRows, p.ID, p.Now, p.Metadata, sets, func(r rowScanner) (*taskertype.Step, error) {
		step, _, err := scanStep(r)
		return step, err
	})
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
	steps, _, err := querySteps(ctx, e.r, `SELECT `+stepCols+` FROM tasker_workflow_steps
		WHERE state = 'in_progress' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`, []any{us(p.Now), driverkit.Limit(p.Limit, 100)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list expired steps: %w", err)
	}
	return steps, nil
}

func (e *executor) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	var a, b sql.NullInt64
	handlers := ""
	args := []any{queuesJSON(p.Queues)}
	if len(p.Handlers) > 0 {
		handlers = ` AND handler IN (SELECT value FROM json_each(?))`
		args = append(args, stringsJSON(p.Handlers))
	}
	if err := e.r.QueryRowContext(ctx, `SELECT
		(SELECT min(next_attempt_at) FROM tasker_workflow_steps
			WHERE queue IN (SELECT value FROM json_each(?)) AND state IN ('pending','error') AND pending_parents = 0 AND blocked = 0`+handlers+`),
		CASE WHEN ? THEN (SELECT min(lease_expires_at) FROM tasker_workflow_steps WHERE state = 'in_progress' AND lease_expires_at IS NOT NULL) END`,
		append(args, boolInt(p.Leases))...).Scan(&a, &b); err != nil {
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
	return stringsJSON(driverkit.Queues(queues))
}

// stringsJSON is a JSON array of names, for json_each.
func stringsJSON(names []string) string {
	b, _ := json.Marshal(names) // a []string always encodes
	return string(b)
}

func (e *executor) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	return driverkit.ListTransitions(driverName, p, "?", "0", func(q string, arg int64) ([]*taskertype.Transition, error) {
		return queryAll(ctx, e.r, q, []any{arg}, scanTransition)
	})
}

func scanTransition(r rowScanner) (*taskertype.Transition, error) {
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
}

func (e *executor) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	if len(p.States) == 0 {
		return 0, nil
	}
	limit := driverkit.Limit(p.Limit, 1000)
	states, err := json.Marshal(p.States)
	if err != nil {
		return 0, err
	}
	var n int
	err = e.write(ctx, func(x *executor) error {
		ids, err := queryAll(ctx, x.w, `DELETE FROM tasker_tasks WHERE task_id IN (
			SELECT task_id FROM tasker_tasks WHERE completed_at IS NOT NULL AND completed_at < ?
			AND state IN (SELECT value FROM json_each(?)) ORDER BY completed_at LIMIT ?) RETURNING task_id`,
			[]any{us(p.Before), string(states), limit}, scanID)
		if err != nil {
			return fmt.Errorf("sqlite: delete finished tasks: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		// The steps, edges and transitions go by their foreign keys'
		// ON DELETE CASCADE. A database opened by the caller (New) may not
		// enforce foreign keys: the annotations, which users read, are
		// deleted explicitly (none are left when the cascade ran).
		if _, err := x.w.ExecContext(ctx, `DELETE FROM tasker_task_annotations WHERE task_id IN (SELECT value FROM json_each(?))`, idsJSON(ids)); err != nil {
			return fmt.Errorf("sqlite: delete finished tasks' annotations: %w", err)
		}
		return nil
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
	h, err := driverkit.HealthStates(func(table string) ([]driverkit.StateCount, error) {
		return queryAll(ctx, e.r, `SELECT state, count(*) FROM `+table+` GROUP BY state`, nil, func(r rowScanner) (driverkit.StateCount, error) {
			var c driverkit.StateCount
			return c, r.Scan(&c.State, &c.N)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: health counts: %w", err)
	}
	if err := e.r.QueryRowContext(ctx, `SELECT
		coalesce(sum(state = 'error' AND blocked = 0), 0),
		coalesce(sum(state = 'error' AND blocked = 0 AND next_attempt_at > ?), 0),
		coalesce(sum(state = 'error' AND blocked = 1), 0)
		FROM tasker_workflow_steps WHERE state = 'error'`, us(now)).Scan(&h.RetryableErrors, &h.InBackoff, &h.ExhaustedRetries); err != nil {
		return nil, fmt.Errorf("sqlite: health counts: %w", err)
	}
	// Each count reads one partial index (tasker_workflow_steps_ready,
	// tasker_event_outbox_due, tasker_event_outbox_dead): its cost grows
	// with the backlog, not with the history.
	if err := e.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM tasker_workflow_steps
			WHERE state IN ('pending','error') AND pending_parents = 0 AND blocked = 0 AND next_attempt_at <= ?),
		(SELECT count(*) FROM tasker_event_outbox WHERE state = 'pending'),
		(SELECT count(*) FROM tasker_event_outbox WHERE state = 'dead')`, us(now)).Scan(&h.ReadySteps, &h.OutboxBacklog, &h.DeadLetters); err != nil {
		return nil, fmt.Errorf("sqlite: backlog counts: %w", err)
	}
	return h, nil
}

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

// StepFinishAndClaim records then claims in one write transaction. It
// reads no Progress: on SQLite a read costs no round trip.
func (e *executor) StepFinishAndClaim(ctx context.Context, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	var res *taskerdriver.StepFinishAndClaimResult
	err := e.write(ctx, func(x *executor) error {
		var err error
		res, err = driverkit.FinishThenClaim(ctx, x, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// FinishUpdate updates the steps with one guarded statement per
// finishChunk results (a pass's results arrive together; SQLite runs each
// statement at a fixed cost of its own), and writes their transitions.
func (k kit) FinishUpdate(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, error) {
	steps := make([]*taskertype.Step, 0, len(ps))
	rows := make([]driverkit.StepTransition, 0, len(ps))
	t := us(now)
	// Of two results for one step, the first is recorded, as an update
	// per result did (the second found the step no longer leased).
	byID := make(map[int64]*taskerdriver.StepFinishParams, len(ps))
	first := make([]int, 0, len(ps))
	for i, p := range ps {
		if byID[p.StepID] == nil {
			byID[p.StepID] = p
			first = append(first, i)
		}
	}
	for start := 0; start < len(first); start += finishChunk {
		end := min(start+finishChunk, len(first))
		n := padded(end-start, finishChunk)
		args := make([]any, 0, n*9+1)
		for _, i := range first[start:end] {
			p := ps[i]
			var errJSON, processed any
			if errs[i] != nil {
				errJSON = *errs[i]
			}
			if p.State == taskertype.StateComplete {
				processed = t
			}
			args = append(args, p.StepID, string(p.State), driverkit.JSONArg(p.Results), errJSON, boolInt(p.Blocked), us(p.NextAttemptAt),
				processed, p.Owner, p.Attempt)
		}
		// Padded with rows that match no step to a power of two: each
		// statement text is prepared and kept once (stmtCache).
		args = append(args, make([]any, (n-(end-start))*9)...)
		got, seqs, err := querySteps(ctx, k.w, finishSQL(n), append(args, t))
		if err != nil {
			return nil, fmt.Errorf("finish steps: %w", err)
		}
		// A step the update left out lost its lease (the guard failed).
		for i, step := range got {
			p := byID[step.ID]
			steps = append(steps, step)
			rows = append(rows, driverkit.StepTransition{StepID: step.ID, TaskID: step.TaskID, From: taskertype.StateInProgress,
				To: step.State, Meta: p.Metadata, Seq: seqs[i]})
		}
	}
	if err := k.WriteStepTransitions(ctx, rows, now); err != nil {
		return nil, err
	}
	return steps, nil
}

// finishChunk bounds the results of one update (9 variables each, under
// SQLite's 32,766).
const finishChunk = 400

// finishSQL is the guarded update of n finished attempts: 9 arguments each
// (step id, state, results, error, blocked, next attempt, processed at,
// lease owner, attempt), then the time. Each step is found by its key
// (TestPassPlansUseKeys).
func finishSQL(n int) string {
	return `WITH u(fid, fstate, fresults, ferr, fblocked, fnext, fprocessed, fowner, fattempt) AS (VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?),", n), ",") + `)
		UPDATE tasker_workflow_steps SET state = fstate, results = coalesce(fresults, results), last_error = ferr, blocked = fblocked,
			next_attempt_at = fnext, processed_at = coalesce(fprocessed, processed_at),
			lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, transition_seq = transition_seq + 1
		FROM u WHERE workflow_step_id = fid AND state = 'in_progress' AND lease_owner = fowner AND attempts = fattempt
		RETURNING ` + stepCols
}

// WriteStepTransitions writes step transition rows (which one is most
// recent is read from the sort keys: driverkit.TransitionQuery).
func (k kit) WriteStepTransitions(ctx context.Context, rows []driverkit.StepTransition, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	t := us(now)
	values := make([]any, 0, len(rows)*stepTransitionCols)
	for _, r := range rows {
		var from any
		if r.From != "" {
			from = string(r.From)
		}
		values = append(values, r.StepID, r.TaskID, from, string(r.To), string(driverkit.Meta(r.Meta)), driverkit.SortKey(r.Seq), t)
	}
	if err := k.stepTransitions(ctx, values...); err != nil {
		return fmt.Errorf("step transitions: %w", err)
	}
	return nil
}

// SatisfyChildren decrements the unfinished-parent counts of the children
// of parents in one statement, and returns how many children each parent
// made ready: a child readied by several of them counts for each (the
// seam allows one or all). The readied children's parents among parents
// come with the update's rows, so no statement per parent is needed.
func (k kit) SatisfyChildren(ctx context.Context, parents []int64, now time.Time) (map[int64]int, error) {
	rows, err := queryAll(ctx, k.w, satisfySQL,
		[]any{idsJSON(parents), us(now)}, func(r rowScanner) (readiedChild, error) {
			var v readiedChild
			return v, r.Scan(&v.child, &v.parents)
		})
	if err != nil {
		return nil, fmt.Errorf("satisfy children: %w", err)
	}
	var pairs [][2]int64 // (parent, child made ready)
	for _, c := range rows {
		if !c.parents.Valid {
			continue // not ready yet
		}
		var ps []int64
		if err := json.Unmarshal([]byte(c.parents.String), &ps); err != nil {
			return nil, fmt.Errorf("satisfy children: parents of step %d: %w", c.child, err)
		}
		for _, parent := range ps {
			pairs = append(pairs, [2]int64{parent, c.child})
		}
	}
	out, ready := driverkit.ReadiedBy(pairs)
	if len(ready) > 0 {
		k.ready(ready)
	}
	return out, nil
}

// satisfySQL decrements the unfinished-parent counts of the children of
// the parents in ?1 (a JSON array) at ?2, returning each child with, when
// it became ready, the JSON array of those parents that readied it. Every
// row is found by its key (TestPassPlansUseKeys).
const satisfySQL = `UPDATE tasker_workflow_steps SET pending_parents = pending_parents - (
		SELECT count(*) FROM tasker_workflow_step_edges e WHERE e.to_step_id = tasker_workflow_steps.workflow_step_id
		AND e.from_step_id IN (SELECT value FROM json_each(?1))), updated_at = ?2
	WHERE workflow_step_id IN (SELECT to_step_id FROM tasker_workflow_step_edges WHERE from_step_id IN (SELECT value FROM json_each(?1)))
	RETURNING workflow_step_id, CASE WHEN pending_parents = 0 AND state = 'pending' THEN (
		SELECT json_group_array(e.from_step_id) FROM tasker_workflow_step_edges e
		WHERE e.to_step_id = tasker_workflow_steps.workflow_step_id AND e.from_step_id IN (SELECT value FROM json_each(?1))) END`

// readiedChild is a row of SatisfyChildren's update: a child, and when it
// became ready the JSON array of the parents that readied it.
type readiedChild struct {
	child   int64
	parents sql.NullString
}

func (e *executor) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Step, error) { return driverkit.SetStepStates(ctx, kit{x}, p) })
}

func (k kit) FindSteps(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]driverkit.StepFound, error) {
	where, args := stepWhere(p.TaskID, nil, p.IDs, p.From)
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

// TaskProgressMany reads each task with the counts of its steps, in one
// statement. SQLite has one writer: a transaction already excludes every
// other, so there is nothing to lock.
func (e *executor) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	rows, err := queryAll(ctx, e.r, progressSQL, []any{idsJSON(ids)}, func(r rowScanner) (*taskerdriver.TaskWithProgress, error) {
		var (
			p    taskerdriver.TaskProgress
			next sql.NullInt64
		)
		t, err := scanTask(driverkit.AppendScan{Row: r, Into: []any{&p.Total, &p.Done, &p.Resolved, &p.InProgress, &p.Runnable, &p.Blocked, &p.Cancelled, &next}})
		p.NextRunnableAt = fromUS(next)
		return &taskerdriver.TaskWithProgress{Task: t, Progress: &p}, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: task progress: %w", err)
	}
	out := make(map[int64]*taskerdriver.TaskWithProgress, len(rows))
	for _, r := range rows {
		out[r.Task.ID] = r
	}
	return out, nil
}

// progressSQL reads the tasks of ?1 (a JSON array of ids), each with the
// counts of its steps (read by the task's key).
var progressSQL = `SELECT ` + driverkit.Prefixed("t.", taskCols) + `, count(s.workflow_step_id),
		coalesce(sum(s.state IN ('complete','resolved_manually')), 0),
		coalesce(sum(s.state = 'resolved_manually'), 0),
		coalesce(sum(s.state = 'in_progress'), 0),
		coalesce(sum(s.state IN ('pending','error') AND s.blocked = 0 AND s.pending_parents = 0), 0),
		coalesce(sum(s.blocked), 0),
		coalesce(sum(s.state = 'cancelled'), 0),
		min(CASE WHEN s.state IN ('pending','error') AND s.blocked = 0 AND s.pending_parents = 0 THEN s.next_attempt_at END)
	FROM tasker_tasks t LEFT JOIN tasker_workflow_steps s ON s.task_id = t.task_id
	WHERE t.task_id IN (SELECT value FROM json_each(?1))
	GROUP BY t.task_id`

func (e *executor) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Task, error) { return driverkit.SetTaskStates(ctx, kit{x}, ps) })
}

// MoveTasks moves each task that is in its From state with one guarded
// update, which returns the task and its new transition sequence; a task
// elsewhere (or gone) is left out.
func (k kit) MoveTasks(ctx context.Context, moves []driverkit.TaskMove, now time.Time) ([]*taskertype.Task, []int, error) {
	t := us(now)
	var tasks []*taskertype.Task
	var seqs []int
	for _, m := range moves {
		completed := any(nil)
		if m.Final {
			completed = t
		}
		var seq int
		task, err := scanTask(driverkit.AppendScan{Row: k.w.QueryRowContext(ctx, `UPDATE tasker_tasks SET state = ?, transition_seq = transition_seq + 1,
		updated_at = ?, completed_at = ? WHERE task_id = ? AND state = ? RETURNING `+taskCols+`, transition_seq`,
			string(m.To), t, completed, m.ID, string(m.From)), Into: []any{&seq}})
		if errors.Is(err, taskerdriver.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("update task state: %w", err)
		}
		tasks, seqs = append(tasks, task), append(seqs, seq)
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
