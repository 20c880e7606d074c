package taskerpgx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	steps, err := driverkit.ListSteps(stepWhere(args.add, p.TaskID, p.TaskIDs, p.IDs, p.States), func(cond string) ([]*taskertype.Step, error) {
		steps, _, err := querySteps(ctx, e.q, `SELECT `+driverkit.StepListColumns(p, "NULL::jsonb")+` FROM tasker_workflow_steps`+cond+` ORDER BY task_id, position`, args)
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
func stepWhere(arg func(any) string, taskID int64, taskIDs, ids []int64, states []taskertype.State) []string {
	var where []string
	if taskID != 0 {
		where = append(where, "task_id = "+arg(taskID))
	}
	if len(taskIDs) > 0 {
		where = append(where, "task_id = ANY("+arg(taskIDs)+")")
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

// collect reads the next result of a batch as rows.
func collect[T any](br pgx.BatchResults, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

func (e *executor) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	// With Metadata, the audit transition goes in the same statement.
	ss, err := scanStep(e.q.QueryRow(ctx, `WITH u AS (
			UPDATE tasker_workflow_steps SET updated_at = $1,
				retry_limit = coalesce($2, retry_limit), retryable = coalesce($3, retryable), inputs = coalesce($4::jsonb, inputs),
				transition_seq = transition_seq + CASE WHEN $6::jsonb IS NULL THEN 0 ELSE 1 END
			WHERE workflow_step_id = $5 RETURNING *),
		tr AS (
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT workflow_step_id, task_id, state, state, $6::jsonb, transition_seq * 10, $1 FROM u WHERE $6::jsonb IS NOT NULL)
		SELECT `+stepCols+` FROM u`, p.Now.UTC(), p.RetryLimit, p.Retryable, driverkit.JSONArg(p.Inputs), p.ID, driverkit.AuditMeta(p.Metadata)))
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
			WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked AND queue = ANY($1)
				AND ($3::text[] IS NULL OR handler = ANY($3))),
		CASE WHEN $2 THEN (SELECT min(lease_expires_at) FROM tasker_workflow_steps WHERE state = 'in_progress' AND lease_expires_at IS NOT NULL) END`,
		driverkit.Queues(p.Queues), p.Leases, orNull(p.Handlers)).Scan(&a, &b); err != nil {
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

// kit is an executor in a transaction seen by the shared procedures of
// driverkit: it gives them this driver's SQL.
type kit struct{ *executor }

var (
	_ driverkit.Kit             = kit{}
	_ driverkit.FinishSatisfier = kit{}
)

// StepFinishMany records a pass's finished attempts with set-based
// statements: one guarded update of every step, one batch of transitions,
// one decrement of the children, whatever the number of steps.
func (e *executor) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	if len(ps) == 0 {
		return []taskerdriver.StepFinishOutcome{}, nil // no transaction
	}
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]taskerdriver.StepFinishOutcome, error) {
		return driverkit.FinishSteps(ctx, kit{x}, ps)
	})
}

// StepFinishAndClaim records a pass's finished attempts, claims its next
// steps and reads the progress of the tasks it may decide in one round
// trip: the claim, then the lock and the count of the tasks, follow the
// finish statement in the same pipeline (pipeTx.Follow), each a statement
// of its own that sees what the ones before it wrote. A pass that settles
// (Settle) commits in the same round trip (settle.go).
func (e *executor) StepFinishAndClaim(ctx context.Context, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	if len(p.Finish) == 0 {
		return driverkit.FinishThenClaim(ctx, e, p)
	}
	var res *taskerdriver.StepFinishAndClaimResult
	err := e.write(ctx, func(x *executor) error {
		pt, ok := x.q.(*pipeTx)
		if !ok { // a transaction the driver did not begin
			var err error
			res, err = driverkit.FinishThenClaim(ctx, x, p)
			return err
		}
		var err error
		if x.canSettle(pt, p) {
			res, err = x.finishAndClaim(ctx, pt, p, &settling{pt: pt})
			if err == nil || !unsettled(err) || !pt.fresh() {
				return err // (not fresh: the rollback failed)
			}
			// A task of the pass is to be decided: rolled back, the pass
			// is written again without the offer, for the caller to
			// decide.
		}
		res, err = x.finishAndClaim(ctx, pt, p, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// finishAndClaim is StepFinishAndClaim in pt, settling when s is not nil.
func (x *executor) finishAndClaim(ctx context.Context, pt *pipeTx, p *taskerdriver.StepFinishAndClaimParams, s *settling) (*taskerdriver.StepFinishAndClaimResult, error) {
	claim := p.Claim
	if claim != nil && claim.Limit <= 0 {
		claim = nil
	}
	var (
		rows   []claimed
		tasks  []*taskertype.Task
		counts []taskCounts
	)
	// The claim, the lock and the counts find their rows by key, and
	// with generic plans whatever the statistics say, also when the plan
	// was made on small tables (TestLockAndCountsGenericPlansUseKeys,
	// TestGenericPlansMadeSmallStayLinear). With custom plans, which
	// PostgreSQL keeps choosing for them (a generic plan cannot see how
	// many ids an array holds, so it looks dearer), each execution was
	// planned afresh: for the lock and the counts 0.07–0.09 ms of
	// planning a statement for 0.015–0.04 ms of execution, for the claim
	// 0.1–0.9 ms (docs/benchmarks.md).
	generic := claim != nil || len(p.Progress) > 0
	if generic {
		pt.Follow(discardRows, genericPlanSQL)
	}
	if claim != nil {
		sql, args := claimQuery(claim)
		followRows(pt, &rows, scanClaimed, sql, args...)
	}
	var ids []int64
	if len(p.Progress) > 0 {
		ids = slices.Clone(p.Progress)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		followRows(pt, &tasks, scanTask, lockTasksSQL, ids)
		followRows(pt, &counts, scanProgress, progressSQL, ids)
		if s != nil { // with generic plans too: planned afresh, the check took longer than it ran
			s.check(x, p, ids)
		}
	}
	if generic {
		pt.Follow(discardRows, restorePlanSQL)
	}
	if s != nil {
		s.commit()
	}
	outs, err := driverkit.FinishSteps(ctx, kit{x}, p.Finish)
	if s != nil {
		err = errors.Join(err, s.done(ctx, x))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driverName, err)
	}
	res := &taskerdriver.StepFinishAndClaimResult{Finished: outs, Committed: s != nil && s.committed}
	if len(p.Progress) > 0 {
		res.Progress = withProgress(tasks, counts)
	}
	if res.Committed {
		res.Done = s.movedTasks(tasks, p.Finish[0].Now)
	}
	if claim != nil {
		res.Claimed, err = x.claimed(ctx, claim, rows)
	}
	return res, err
}

// discardRows reads a follower's rows and drops them.
func discardRows(r pgx.Rows) error {
	r.Close()
	return r.Err()
}

func (k kit) FinishUpdate(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, error) {
	steps, _, err := querySteps(ctx, k.q, finishSQL+` SELECT `+stepCols+` FROM upd`, finishArgs(ps, errs, now))
	if err != nil {
		return nil, fmt.Errorf("finish steps: %w", err)
	}
	return steps, nil
}

// FinishAndSatisfy is FinishUpdate and SatisfyChildren of the steps it
// completed in one statement (finishSatisfySQL; driverkit.FinishSatisfier):
// one round trip fewer per pass that records completions.
func (k kit) FinishAndSatisfy(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, map[int64]int, error) {
	type row struct {
		driverkit.SeqStep
		ready []int64 // on one row: the (parent, child) pairs the statement readied, flattened
	}
	rows, err := queryAll(ctx, k.q, finishSatisfySQL, finishArgs(ps, errs, now), func(r pgx.Row) (row, error) {
		var v row
		ss, err := scanStep(driverkit.AppendScan{Row: r, Into: []any{&v.ready}})
		v.SeqStep = ss
		return v, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("finish steps: %w", err)
	}
	steps := make([]*taskertype.Step, len(rows))
	var pairs [][2]int64
	for i, r := range rows {
		steps[i] = r.Step
		for j := 0; j+1 < len(r.ready); j += 2 {
			pairs = append(pairs, [2]int64{r.ready[j], r.ready[j+1]})
		}
	}
	ready, err := k.readied(ctx, pairs)
	return steps, ready, err
}

// finishSQL applies the guarded updates of a pass's finished attempts
// (CTE upd: the steps updated, with their transitions' metadata) and
// inserts their transitions (sort key driverkit.SortKey(seq) = seq*10);
// arguments: finishArgs.
//
// The update reads its steps by key ($1, the primary key's index
// condition) and takes each step's values from the argument arrays at the
// step's position in $1 (finishAt), with no join: joined to the results,
// the steps were read whole (a plan made while the table was small, kept
// as it grew) or through the lease index with a nested loop over the
// results (quadratic in a pass's size) (TestPassPlansAreLinear). Of two
// results for one step, the first is written.
var finishSQL = `WITH upd AS (
			UPDATE tasker_workflow_steps s SET state = ` + finishAt(2, "text") + `,
				results = coalesce(` + finishAt(3, "text") + `::jsonb, s.results), last_error = ` + finishAt(4, "text") + `::jsonb,
				blocked = ` + finishAt(5, "boolean") + `, next_attempt_at = ` + finishAt(6, "timestamptz") + `,
				processed_at = CASE WHEN ` + finishAt(2, "text") + ` = 'complete' THEN $9 ELSE s.processed_at END,
				lease_owner = NULL, lease_expires_at = NULL, updated_at = $9, transition_seq = s.transition_seq + 1
			WHERE s.workflow_step_id = ANY($1::bigint[]) AND s.state = 'in_progress'
				AND s.lease_owner = ` + finishAt(7, "text") + ` AND s.attempts = ` + finishAt(8, "int") + `
			RETURNING ` + driverkit.Prefixed("s.", stepCols) + `, ` + finishAt(10, "text") + ` AS meta),
		inserted AS (
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT workflow_step_id, task_id, 'in_progress', state, meta::jsonb, transition_seq * 10, $9 FROM upd)`

// finishAt is the finish's argument array $n (of typ) at the updated
// step's position in $1, the steps' ids.
func finishAt(n int, typ string) string {
	return fmt.Sprintf("($%d::%s[])[array_position($1::bigint[], s.workflow_step_id)]", n, typ)
}

// finishSatisfySQL is finishSQL followed by satisfySQL for the steps it
// completed; its rows are the updated steps, the first (lowest id) also
// carrying the (parent, child) pairs the statement readied, flattened into
// one array (each step's own list, a correlated subquery per row, made
// the statement quadratic in a pass's results: TestPassPlansAreLinear).
var finishSatisfySQL = finishSQL + `,
		parents AS (SELECT workflow_step_id AS id FROM upd WHERE state = 'complete'),
		` + satisfySQL("IN (SELECT id FROM parents)", "$9") + `
		SELECT ` + stepCols + `, CASE WHEN workflow_step_id = (SELECT min(workflow_step_id) FROM upd)
			THEN (SELECT array_agg(x ORDER BY child, parent, i) FROM readied, LATERAL (VALUES (1, parent), (2, child)) AS v(i, x)) END
		FROM upd`

func finishArgs(ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) []any {
	n := len(ps)
	ids, attempts := make([]int64, n), make([]int32, n)
	states, owners, metas := make([]string, n), make([]string, n), make([]string, n)
	results := make([]*string, n)
	blocked, next := make([]bool, n), make([]time.Time, n)
	for i, p := range ps {
		ids[i], attempts[i], states[i], owners[i] = p.StepID, int32(p.Attempt), string(p.State), p.Owner
		if len(p.Results) > 0 {
			r := string(p.Results)
			results[i] = &r
		}
		blocked[i], next[i] = p.Blocked, pgTime(p.NextAttemptAt)
		metas[i] = string(driverkit.Meta(p.Metadata))
	}
	return []any{ids, states, results, errs, blocked, next, owners, attempts, now, metas}
}

// WriteStepTransitions writes step transition rows (the last row of each
// step is the most recent, read from the sort keys:
// driverkit.TransitionQuery). The insert returns nothing, so in a
// transaction it travels with the next statement (deferExec).
func (k kit) WriteStepTransitions(ctx context.Context, rows []driverkit.StepTransition, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	stepIDs, taskIDs := make([]int64, n), make([]int64, n)
	froms, tos, metas := make([]*string, n), make([]string, n), make([]string, n)
	keys := make([]int32, n)
	for i, r := range rows {
		stepIDs[i], taskIDs[i] = r.StepID, r.TaskID
		if r.From != "" {
			f := string(r.From)
			froms[i] = &f
		}
		tos[i] = string(r.To)
		metas[i] = string(driverkit.Meta(r.Meta))
		keys[i] = int32(driverkit.SortKey(r.Seq))
	}
	if err := deferExec(ctx, k.q, `INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
		SELECT s, t, f, o, m::jsonb, k, $7 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[])
			AS u(s, t, f, o, m, k)`, stepIDs, taskIDs, froms, tos, metas, keys, now); err != nil {
		return fmt.Errorf("step transitions: %w", err)
	}
	return nil
}

// SatisfyChildren decrements the unfinished-parent counts of the children
// of parents and returns, per parent, how many of its children became
// ready. One statement (satisfySQL).
func (k kit) SatisfyChildren(ctx context.Context, parents []int64, now time.Time) (map[int64]int, error) {
	rows, err := queryAll(ctx, k.q, `WITH `+satisfySQL("= ANY($1)", "$2")+`
		SELECT parent, child FROM readied`, []any{parents, now}, scanPair)
	if err != nil {
		return nil, fmt.Errorf("satisfy children: %w", err)
	}
	return k.readied(ctx, rows)
}

// readied counts the children that (parent, child) pairs readied per
// parent and owes the steps-ready notification for them.
func (k kit) readied(ctx context.Context, pairs [][2]int64) (map[int64]int, error) {
	out, ready := driverkit.ReadiedBy(pairs)
	if len(ready) > 0 {
		if err := k.ready(ctx, ready); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// satisfySQL returns the CTEs that decrement the unfinished-parent counts
// of the children of the parents whose ids are `from_step_id `+parentsIn,
// at now (a placeholder), ending with readied (parent, child): the
// children that became ready. The first CTE locks the children in id order
// (so that workers finishing parents of the same children cannot
// deadlock) before the update touches any of them.
func satisfySQL(parentsIn, now string) string {
	return `locked AS MATERIALIZED (
			SELECT workflow_step_id FROM tasker_workflow_steps WHERE workflow_step_id IN (
				SELECT to_step_id FROM tasker_workflow_step_edges WHERE from_step_id ` + parentsIn + `)
			ORDER BY workflow_step_id FOR UPDATE),
		-- The children are counted once all are locked: locked, a
		-- one-time condition, runs first (the children it locks are all
		-- the parents' children). Compared row by row with what locked
		-- returned, it made a join quadratic in the pass's results.
		counts AS (
			SELECT to_step_id AS id, count(*) AS n, array_agg(from_step_id) AS parents FROM tasker_workflow_step_edges
			WHERE from_step_id ` + parentsIn + ` AND (SELECT count(*) FROM locked) >= 0 GROUP BY to_step_id),
		updated AS (
			UPDATE tasker_workflow_steps s SET pending_parents = s.pending_parents - counts.n, updated_at = ` + now + `
			FROM counts WHERE s.workflow_step_id = counts.id
			RETURNING s.workflow_step_id, s.pending_parents, s.state, counts.parents),
		-- The parents come with the update: joining the edges again here
		-- made a nested loop over both CTEs (the planner sees one row in
		-- each), quadratic in a pass's results.
		readied AS (
			SELECT unnest(parents) AS parent, workflow_step_id AS child FROM updated
			WHERE pending_parents = 0 AND state = 'pending')`
}

func (e *executor) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Step, error) { return driverkit.SetStepStates(ctx, kit{x}, p) })
}

func (k kit) FindSteps(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]driverkit.StepFound, error) {
	var args sqlArgs
	where := stepWhere(args.add, p.TaskID, nil, p.IDs, p.From)
	if p.Owner != "" {
		where = append(where, "lease_owner = "+args.add(p.Owner))
	}
	return queryAll(ctx, k.q, `SELECT workflow_step_id, state FROM tasker_workflow_steps WHERE `+
		strings.Join(where, " AND ")+` ORDER BY workflow_step_id FOR UPDATE`, args, func(r pgx.Row) (driverkit.StepFound, error) {
		var v driverkit.StepFound
		return v, r.Scan(&v.ID, &v.State)
	})
}

func (k kit) MoveSteps(ctx context.Context, p *taskerdriver.StepSetStateParams, ids []int64, now time.Time) ([]*taskertype.Step, []int, error) {
	var args sqlArgs
	arg := args.add
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
	return querySteps(ctx, k.q, `UPDATE tasker_workflow_steps SET `+strings.Join(sets, ", ")+
		` WHERE workflow_step_id = ANY(`+arg(ids)+`) RETURNING `+stepCols, args)
}

func (e *executor) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	if len(ids) == 0 {
		return map[int64]*taskerdriver.TaskWithProgress{}, nil
	}
	// One round trip, two statements: the counts must be read after the
	// locks are held (a statement of their own, with its own snapshot, so
	// that they see what the transaction that held a lock committed).
	b := &pgx.Batch{}
	b.Queue(lockTasksSQL, ids)
	b.Queue(progressSQL, ids)
	br := e.q.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	tasks, err := collect(br, scanTask)
	if err != nil {
		return nil, fmt.Errorf("postgres: lock tasks: %w", err)
	}
	counts, err := collect(br, scanProgress)
	if err != nil {
		return nil, fmt.Errorf("postgres: task progress: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("postgres: task progress: %w", err)
	}
	return withProgress(tasks, counts), nil
}

// genericPlanSQL switches the transaction's statements to generic plans
// (plan_cache_mode), keeping the setting it replaces, which
// restorePlanSQL puts back: a worker pass runs lockTasksSQL and
// progressSQL between them, whatever plan_cache_mode the session has.
const (
	genericPlanSQL = `SELECT set_config('tasker.plan_cache_mode', current_setting('plan_cache_mode'), true),
		set_config('plan_cache_mode', 'force_generic_plan', true)`
	restorePlanSQL = `SELECT set_config('plan_cache_mode', current_setting('tasker.plan_cache_mode'), true)`
)

// lockTasksSQL locks the tasks $1 in id order and returns them; progressSQL,
// a statement of its own after it, counts their steps (rows: scanProgress).
const (
	lockTasksSQL = `SELECT ` + taskCols + ` FROM tasker_tasks WHERE task_id = ANY($1) ORDER BY task_id FOR UPDATE`
	progressSQL  = `SELECT task_id, count(*),
		count(*) FILTER (WHERE state IN ('complete','resolved_manually')),
		count(*) FILTER (WHERE state = 'resolved_manually'),
		count(*) FILTER (WHERE state = 'in_progress'),
		count(*) FILTER (WHERE state IN ('pending','error') AND NOT blocked AND pending_parents = 0),
		count(*) FILTER (WHERE blocked),
		count(*) FILTER (WHERE state = 'cancelled'),
		min(next_attempt_at) FILTER (WHERE state IN ('pending','error') AND NOT blocked AND pending_parents = 0)
		FROM tasker_workflow_steps WHERE task_id = ANY($1) GROUP BY task_id`
)

// taskCounts is a row of progressSQL.
type taskCounts struct {
	id int64
	p  taskerdriver.TaskProgress
}

func scanProgress(r pgx.Row) (taskCounts, error) {
	var v taskCounts
	var next *time.Time
	err := r.Scan(&v.id, &v.p.Total, &v.p.Done, &v.p.Resolved, &v.p.InProgress, &v.p.Runnable, &v.p.Blocked, &v.p.Cancelled, &next)
	v.p.NextRunnableAt = fromPGPtr(next)
	return v, err
}

// withProgress pairs locked tasks with their counts (a task without steps
// has zero counts).
func withProgress(tasks []*taskertype.Task, counts []taskCounts) map[int64]*taskerdriver.TaskWithProgress {
	out := make(map[int64]*taskerdriver.TaskWithProgress, len(tasks))
	for _, t := range tasks {
		out[t.ID] = &taskerdriver.TaskWithProgress{Task: t, Progress: &taskerdriver.TaskProgress{}}
	}
	for _, c := range counts {
		if t := out[c.id]; t != nil {
			p := c.p
			t.Progress = &p
		}
	}
	return out
}

// TaskSetStateMany moves tasks with one update and one batch of transitions.
func (e *executor) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	return driverkit.Run(ctx, driverName, e.write, func(x *executor) ([]*taskertype.Task, error) {
		if _, ok := x.q.(*pipeTx); ok && driverkit.AllLocked(ps) {
			return x.deferTaskMoves(ctx, ps)
		}
		return driverkit.SetTaskStates(ctx, kit{x}, ps)
	})
}

// lockedMovesGuard ends the message of the error that fails a
// transaction whose deferred task moves found a task elsewhere
// (valueRejected maps it to taskerdriver.ErrStateConflict).
const lockedMovesGuard = "locked tasks were not in their expected state"

// moveTasksSQL moves the tasks $1 from the states $2 to $3 and writes their
// transitions (metadata $4, final $5, at $6), failing when fewer than $7
// moved. The tasks are locked already (deferTaskMoves), so their states
// are read first, each by its key alone (LIMIT 1, the state tested
// outside), and the update finds each by its key with no condition on
// the state: joined to the arguments, or with the state in the update's
// condition, a plan made on a small table reached them through the state
// index, every task in the state (TestWriteTransactionsPlanWithoutSeqScans,
// TestGenericPlansMadeSmallStayLinear).
const moveTasksSQL = `WITH u AS MATERIALIZED (
			SELECT u.* FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[]) AS u(id, from_state, to_state, meta, final)
			CROSS JOIN LATERAL (SELECT state FROM tasker_tasks WHERE task_id = u.id LIMIT 1) cur
			WHERE cur.state = u.from_state),
		m AS (
			UPDATE tasker_tasks t SET state = u.to_state, transition_seq = t.transition_seq + 1,
				updated_at = $6, completed_at = CASE WHEN u.final THEN $6::timestamptz END
			FROM u WHERE t.task_id = u.id
			RETURNING t.task_id, t.transition_seq, u.from_state, u.to_state, u.meta),
		tr AS (
			INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT task_id, from_state, to_state, meta::jsonb, transition_seq * 10, $6 FROM m)
		SELECT CASE WHEN count(*) <> $7 THEN
			('tasker: ' || ($7 - count(*)) || ' of ' || $7 || ' ` + lockedMovesGuard + `')::int END FROM m`

// deferTaskMoves moves tasks the transaction holds locked, in the states
// it read them in (TaskSetStateParams.Locked), with one statement that
// also writes their transitions and travels with the transaction's next
// one: the moved tasks are known without reading them back. A task found
// in another state fails the statement, and so the transaction.
func (x *executor) deferTaskMoves(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	// The time as stored: pgx sends microseconds, truncated.
	now := ps[0].Now.UTC().Truncate(time.Microsecond)
	n := len(ps)
	ids, froms, tos, metas, finals := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
	out := make([]*taskertype.Task, n)
	anyFinal := false
	for i, p := range ps {
		ids[i], froms[i], tos[i], metas[i], finals[i] = p.ID, string(p.From[0]), string(p.To), string(driverkit.Meta(p.Metadata)), p.To.Final()
		anyFinal = anyFinal || finals[i]
		out[i] = driverkit.MovedTask(p.Locked, p.To, now)
	}
	if err := deferExec(ctx, x.q, moveTasksSQL, ids, froms, tos, metas, finals, now, int64(n)); err != nil {
		return nil, fmt.Errorf("set task states: %w", err)
	}
	if anyFinal {
		if err := x.Notify(ctx, taskerdriver.TopicTaskChanged); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (k kit) MoveTasks(ctx context.Context, moves []driverkit.TaskMove, now time.Time) ([]*taskertype.Task, []int, error) {
	n := len(moves)
	ids, froms, tos, finals := make([]int64, n), make([]string, n), make([]string, n), make([]bool, n)
	for i, m := range moves {
		ids[i], froms[i], tos[i], finals[i] = m.ID, string(m.From), string(m.To), m.Final
	}
	rows, err := queryAll(ctx, k.q, `UPDATE tasker_tasks t SET state = u.to_state, transition_seq = t.transition_seq + 1,
			updated_at = $5, completed_at = CASE WHEN u.final THEN $5::timestamptz END
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[]) AS u(id, from_state, to_state, final)
		WHERE t.task_id = ANY($1::bigint[]) AND t.task_id = u.id AND t.state = u.from_state
		RETURNING `+driverkit.Prefixed("t.", taskCols)+`, t.transition_seq`, []any{ids, froms, tos, finals, now},
		func(r pgx.Row) (seqTask, error) {
			var st seqTask
			t, err := scanTask(driverkit.AppendScan{Row: r, Into: []any{&st.seq}})
			st.task = t
			return st, err
		})
	if err != nil {
		return nil, nil, err
	}
	tasks, seqs := make([]*taskertype.Task, len(rows)), make([]int, len(rows))
	for i, r := range rows {
		tasks[i], seqs[i] = r.task, r.seq
	}
	return tasks, seqs, nil
}

func (k kit) ExistingTasks(ctx context.Context, ids []int64) (map[int64]bool, error) {
	found, err := queryAll(ctx, k.q, `SELECT task_id FROM tasker_tasks WHERE task_id = ANY($1)`, []any{ids}, func(r pgx.Row) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, err
}

func (k kit) WriteTaskTransitions(ctx context.Context, rows []driverkit.TaskTransition, now time.Time) error {
	n := len(rows)
	ids, froms, tos, metas, keys := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
	for i, r := range rows {
		ids[i], froms[i], tos[i], metas[i], keys[i] = r.TaskID, string(r.From), string(r.To), string(r.Meta), int32(driverkit.SortKey(r.Seq))
	}
	if err := deferExec(ctx, k.q, `INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
		SELECT id, f, o, m::jsonb, k, $6 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(id, f, o, m, k)`,
		ids, froms, tos, metas, keys, now); err != nil {
		return fmt.Errorf("task transitions: %w", err)
	}
	return nil
}

type seqTask struct {
	task *taskertype.Task
	seq  int
}
