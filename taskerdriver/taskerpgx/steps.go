package taskerpgx

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const stepCols = driverkit.StepColumns

func scanStep(r pgx.Row) (driverkit.SeqStep, error) {
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
		return driverkit.SeqStep{}, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	st.State = taskertype.State(state)
	st.HandlerConfig = rawJSON(hcfg)
	st.Policy = rawJSON(policy)
	st.Inputs = rawJSON(inputs)
	st.Results = rawJSON(results)
	if err := driverkit.ScannedStep(&st, lastErr); err != nil {
		return driverkit.SeqStep{}, fmt.Errorf("postgres: %w", err)
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
	return driverkit.SeqStep{Step: &st, Seq: seq}, nil
}

func querySteps(ctx context.Context, q querier, sql string, args []any) ([]*taskertype.Step, []int, error) {
	rows, err := queryAll(ctx, q, sql, args, scanStep)
	steps, seqs := driverkit.UnzipSteps(rows)
	return steps, seqs, err
}

func (e *executor) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	return driverkit.One(e.StepList(ctx, &taskerdriver.StepListParams{IDs: []int64{id}}))
}

func (e *executor) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	var args sqlArgs
	steps, err := driverkit.ListSteps(stepWhere(args.add, p.TaskID, p.IDs, p.States), func(cond string) ([]*taskertype.Step, error) {
		steps, _, err := querySteps(ctx, e.q, `SELECT `+stepCols+` FROM tasker_workflow_steps`+cond+` ORDER BY task_id, position`, args)
		return steps, err
	}, func(ids []int64) ([][2]int64, error) {
		return queryAll(ctx, e.q, `SELECT from_step_id, to_step_id FROM tasker_workflow_step_edges
		WHERE from_step_id = ANY($1) OR to_step_id = ANY($1) ORDER BY 1, 2`, []any{ids}, scanPair)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driverName, err)
	}
	return steps, nil
}

// stepWhere returns the conditions that select the steps of a task, of
// ids, in states (each when given), adding their arguments with arg.
func stepWhere(arg func(any) string, taskID int64, ids []int64, states []taskertype.State) []string {
	var where []string
	if taskID != 0 {
		where = append(where, "task_id = "+arg(taskID))
	}
	if len(ids) > 0 {
		where = append(where, "workflow_step_id = ANY("+arg(ids)+")")
	}
	if len(states) > 0 {
		where = append(where, "state = ANY("+arg(stateStrings(states))+")")
	}
	return where
}

func scanPair(r pgx.Row) ([2]int64, error) {
	var v [2]int64
	return v, r.Scan(&v[0], &v[1])
}

func (e *executor) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskerdriver.ClaimedStep, error) { return x.stepClaim(ctx, p) })
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
		driverkit.SeqStep
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
			c.old, c.SeqStep = old, ss
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim steps: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	steps, seqs, wasError := make([]*taskertype.Step, len(rows)), make([]int, len(rows)), make([]bool, len(rows))
	for i, c := range rows {
		steps[i], seqs[i], wasError[i] = c.Step, c.Seq, c.old == string(taskertype.StateError)
	}
	trans, taskIDs := driverkit.ClaimTransitions(steps, seqs, wasError, p.Owner)
	ids := driverkit.StepIDs(steps)
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
	var (
		starts   [][2]int64
		taskList []*taskertype.Task
		deps     []driverkit.Dependency
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
		if deps, err = collect(br, func(r pgx.Row) (driverkit.Dependency, error) {
			var d driverkit.Dependency
			var results []byte
			err := r.Scan(&d.Child, &d.Parent, &d.Name, &results)
			d.Results = rawJSON(results)
			return d, err
		}); err != nil {
			return fmt.Errorf("dependency results: %w", err)
		}
		return br.Close()
	}()
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	return driverkit.ClaimDone(steps, taskList, starts, deps, func(taskID int64, meta json.RawMessage, seq int) error {
		return x.taskTransition(ctx, taskID, string(taskertype.StatePending), taskertype.StateInProgress, meta, seq, now)
	})
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

func (e *executor) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	ss, err := scanStep(e.q.QueryRow(ctx, `UPDATE tasker_workflow_steps SET updated_at = $1,
		retry_limit = coalesce($2, retry_limit), retryable = coalesce($3, retryable), inputs = coalesce($4::jsonb, inputs)
		WHERE workflow_step_id = $5 RETURNING `+stepCols, p.Now.UTC(), p.RetryLimit, p.Retryable, jsonArg(p.Inputs), p.ID))
	return ss.Step, valueRejected(err)
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
	steps, _, err := querySteps(ctx, e.q, `SELECT `+stepCols+` FROM tasker_workflow_steps
		WHERE state = 'in_progress' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`, []any{p.Now.UTC(), driverkit.Limit(p.Limit, 100)})
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
	return driverkit.ListTransitions(driverName, p, "$1", "0::bigint", func(q string, arg int64) ([]*taskertype.Transition, error) {
		return queryAll(ctx, e.q, q, []any{arg}, scanTransition)
	})
}

func scanTransition(r pgx.Row) (*taskertype.Transition, error) {
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
}
