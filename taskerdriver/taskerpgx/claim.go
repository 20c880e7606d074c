package taskerpgx

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func (e *executor) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskerdriver.ClaimedStep, error) { return x.stepClaim(ctx, p) })
}

func (x *executor) stepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	sql, args := claimQuery(p)
	// With a generic plan, as a pass's claim (finishAndClaim): planned at
	// each execution, the claim's planning cost more than its execution.
	pt, generic := x.q.(*pipeTx)
	if generic {
		pt.Defer(genericPlanSQL)
	}
	rows, err := queryAll(ctx, x.q, sql, args, scanClaimed)
	if generic {
		pt.Defer(restorePlanSQL) // with the transaction's next statement, or its commit
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim steps: %w", err)
	}
	return x.claimed(ctx, p, rows)
}

// claimed is one row of claimSQL: a claimed step with its task.
type claimed struct {
	old       string
	readyAt   time.Time
	starts    []int64 // on the claim's first row: (task id, transition_seq) of each task it started, flattened
	firstOf   bool    // the first row of its task: carries the task's context
	children  int     // the steps that depend on this one
	parents   []byte  // JSON [[id, name, results], ...]
	task      *taskertype.Task
	stepTaken driverkit.SeqStep
}

// claimSQL claims the steps, starts their pending tasks, writes their
// transitions and returns each claimed step with its task (the context on
// the first row of each task only) and its parents' results, in one
// statement (arguments: claimArgs; rows: scanClaimed). Written by the
// statement, the transitions need no statement after it: a pass's claim
// leaves nothing to send with the commit (StepFinishAndClaimParams.Settle).
var claimSQL = claimSQLOf(``)

// claimTasksSQL is claimSQL restricted to the tasks $7 (StepClaimParams.
// TaskIDs), a statement of its own: with the restriction optional in one
// statement ($7 IS NULL OR ...), its generic plan could not bound the
// ready scan by the tasks, and walked the ready steps of every older task.
var claimTasksSQL = claimSQLOf(`task_id = ANY($7)`)

// claimQuery is the claim statement for p and its arguments.
func claimQuery(p *taskerdriver.StepClaimParams) (string, []any) {
	if len(p.TaskIDs) > 0 {
		return claimTasksSQL, append(claimArgs(p), p.TaskIDs)
	}
	return claimSQL, claimArgs(p)
}

// newTaskClaimSQL is claimSQL restricted to the task this session's
// insert numbered last (the arguments of claimArgs): the claim
// that follows a task's insert in its round trip (taskInsert). currval is
// read in a subquery, evaluated once: compared directly, a volatile
// function cannot bound the index scan, and the claim walked every ready
// step of older tasks to reach the new one's (TestNewTaskClaimPlan).
var newTaskClaimSQL = claimSQLOf(`task_id = (SELECT currval(pg_get_serial_sequence('tasker_tasks', 'task_id')))`)

// claimSQLOf is the claim statement with tasks, a condition on task_id
// ("": every task).
func claimSQLOf(tasks string) string {
	if tasks != "" {
		tasks = " AND " + tasks
	}
	return `WITH ready AS (
			SELECT workflow_step_id, state AS old_state, greatest(updated_at, next_attempt_at) AS ready_at FROM tasker_workflow_steps
			WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked AND next_attempt_at <= $1
				AND ($5::text[] IS NULL OR handler = ANY($5)) AND queue = ANY($6)` + tasks + `
			ORDER BY task_id, workflow_step_id -- fair: older tasks first (docs/design.md)
			LIMIT $2
			FOR UPDATE SKIP LOCKED),
		c AS (
			UPDATE tasker_workflow_steps s SET state = 'in_progress', attempts = s.attempts + 1,
				lease_owner = $3, lease_expires_at = $4, last_attempted_at = $1, updated_at = $1,
				transition_seq = s.transition_seq + CASE WHEN ready.old_state = 'error' THEN 2 ELSE 1 END
			FROM ready WHERE s.workflow_step_id = ready.workflow_step_id
			RETURNING ready.old_state, ready.ready_at, ` + stepColsS + `),
		-- The claimed rows' tasks and parents are looked up by key (an
		-- array built from c, LIMIT 1 on each parent): the planner's
		-- estimates of c are no guide, and a join it chose scanned whole
		-- tables per claim. The state test is written so that no index can
		-- serve it (IS TRUE): as a plain condition, a plan made while few
		-- tasks were pending read every pending task through the state
		-- index (TestGenericPlansMadeSmallStayLinear). It stays in the
		-- update's condition, which PostgreSQL checks again on a task
		-- another transaction changed meanwhile.
		started AS (
			UPDATE tasker_tasks SET state = 'in_progress', transition_seq = transition_seq + 1, updated_at = $1
			WHERE task_id = ANY(ARRAY(SELECT DISTINCT task_id FROM c)) AND (state = 'pending') IS TRUE
			RETURNING task_id, transition_seq),
		-- The transitions, as driverkit.ClaimTransitions and ClaimDone
		-- write them for the SQLite driver (the same rows: the conformance
		-- suite's StepClaimTransitions): a retry passes from error through
		-- pending, and a task the claim started gets its own.
		step_transitions AS (
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT c.workflow_step_id, c.task_id, v.from_state, v.to_state, v.meta, v.seq * 10, $1 FROM c CROSS JOIN LATERAL (VALUES
				('error', 'pending', jsonb_build_object('retry_attempt', c.attempts), c.transition_seq - 1),
				('pending', 'in_progress', jsonb_build_object('attempt', c.attempts, 'worker', $3::text), c.transition_seq)
			) AS v(from_state, to_state, meta, seq)
			WHERE v.from_state = 'pending' OR c.old_state = 'error'),
		task_transitions AS (
			INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
			SELECT task_id, 'pending', 'in_progress', '` + string(driverkit.TaskStartedMeta) + `', transition_seq * 10, $1 FROM started),
		-- The tasks the claim started, once, on the first row: (task id,
		-- transition_seq) pairs flattened. Looked up per row, or joined to
		-- the rows (a nested loop when the plan was made on small tables),
		-- the CTE was read once per claimed step, quadratic in the claim's
		-- size (TestPassPlansAreLinear, TestGenericPlansMadeSmallStayLinear).
		starts AS (SELECT array_agg(x ORDER BY task_id, i) AS pairs
			FROM started, LATERAL (VALUES (1, task_id), (2, transition_seq::bigint)) AS v(i, x))
		-- Each claimed step's parents are read by key from its edges.
		SELECT c.*, CASE WHEN c.workflow_step_id = (SELECT min(workflow_step_id) FROM c) THEN (SELECT pairs FROM starts) END,
			` + claimFirst + `, deps.parents,
			(SELECT count(*) FROM tasker_workflow_step_edges WHERE from_step_id = c.workflow_step_id), ` + claimTaskCols + `
		FROM c CROSS JOIN LATERAL (SELECT * FROM tasker_tasks WHERE task_id = c.task_id LIMIT 1) t
			LEFT JOIN LATERAL (SELECT json_agg(json_build_array(e.from_step_id, p.name, p.results)) AS parents
				FROM tasker_workflow_step_edges e
				CROSS JOIN LATERAL (SELECT name, results FROM tasker_workflow_steps WHERE workflow_step_id = e.from_step_id LIMIT 1) p
				WHERE e.to_step_id = c.workflow_step_id) deps ON true`
}

// stepColsS are the step's columns prefixed with s.
var stepColsS = driverkit.Prefixed("s.", stepCols)

func claimArgs(p *taskerdriver.StepClaimParams) []any {
	return []any{p.Now.UTC(), p.Limit, p.Owner, p.LeaseExpiresAt.UTC(), orNull(p.Handlers), driverkit.Queues(p.Queues)}
}

func scanClaimed(r pgx.Row) (claimed, error) {
	var c claimed
	var err error
	c.stepTaken, err = scanStep(rowPair{r: r, head: []any{&c.old, &c.readyAt}, mid: []any{&c.starts, &c.firstOf, &c.parents, &c.children},
		inner: func(r pgx.Row) error {
			var err error
			c.task, err = scanTask(r)
			return err
		}})
	return c, err
}

// claimed completes the claim whose rows claimSQL returned (which wrote
// the transitions): the tasks it started, the steps-ready notification owed for
// the steps the transaction readied and left.
func (x *executor) claimed(ctx context.Context, p *taskerdriver.StepClaimParams, rows []claimed) ([]*taskerdriver.ClaimedStep, error) {
	now := p.Now.UTC()
	if len(rows) == 0 {
		return nil, nil
	}
	steps := make([]*taskertype.Step, len(rows))
	readyAt, children := make(map[int64]time.Time, len(rows)), make(map[int64]int, len(rows))
	var (
		taskList []*taskertype.Task
		starts   [][2]int64
		deps     []driverkit.Dependency
	)
	started := map[int64]bool{}
	for _, c := range rows {
		for j := 0; j+1 < len(c.starts); j += 2 {
			starts = append(starts, [2]int64{c.starts[j], c.starts[j+1]})
			started[c.starts[j]] = true
		}
	}
	for i, c := range rows {
		steps[i] = c.stepTaken.Step
		readyAt[c.stepTaken.Step.ID], children[c.stepTaken.Step.ID] = c.readyAt.UTC(), c.children
		if c.firstOf {
			if started[c.task.ID] { // the row was read before this statement started the task
				c.task.State, c.task.UpdatedAt = taskertype.StateInProgress, now
			}
			taskList = append(taskList, c.task)
		}
		ds, err := parentResults(c.stepTaken.Step.ID, c.parents)
		if err != nil {
			return nil, fmt.Errorf("postgres: claim: %w", err)
		}
		deps = append(deps, ds...)
	}
	// Steps this transaction readied and left to others are announced
	// with the next statement (delivered at commit).
	x.readied.Claimed(driverkit.StepIDs(steps))
	if x.readied.Owed() && !x.sent(taskerdriver.TopicStepsReady) {
		if err := deferExec(ctx, x.q, notifySQL, taskerdriver.TopicStepsReady); err != nil {
			return nil, fmt.Errorf("postgres: claim: notify: %w", err)
		}
		x.notified(taskerdriver.TopicStepsReady)
		x.readied = nil
	}
	return driverkit.ClaimDone(steps, taskList, starts, deps, readyAt, children, nil) // claimSQL wrote the transitions
}

// claimTaskCols are the task's columns in a claim's rows: its context only
// on the first row of the task (the rows of its other steps would repeat
// it, and a context can be large).
var claimTaskCols = strings.NewReplacer(
	"t.context,", "CASE WHEN "+claimFirst+" THEN t.context END,",
).Replace(driverkit.Prefixed("t.", taskCols))

// claimFirst is true on the first row of each task in a claim's rows.
const claimFirst = `c.workflow_step_id = min(c.workflow_step_id) OVER (PARTITION BY c.task_id)`

// parentResults decodes a claimed step's parents, as the claim returns
// them: a JSON array of [id, name, results].
func parentResults(child int64, raw []byte) ([]driverkit.Dependency, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var rows [][3]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("parents of step %d: %w", child, err)
	}
	out := make([]driverkit.Dependency, len(rows))
	for i, r := range rows {
		out[i].Child = child
		if err := json.Unmarshal(r[0], &out[i].Parent); err != nil {
			return nil, fmt.Errorf("parents of step %d: %w", child, err)
		}
		if err := json.Unmarshal(r[1], &out[i].Name); err != nil {
			return nil, fmt.Errorf("parents of step %d: %w", child, err)
		}
		out[i].Results = rawJSON(r[2])
	}
	return out, nil
}

// rowPair scans a row that holds two records: head columns, the outer
// scanner's columns, mid columns, then the inner scanner's columns (the
// inner scanner runs inside the outer one's Scan).
type rowPair struct {
	r         pgx.Row
	head, mid []any
	inner     func(pgx.Row) error
}

func (p rowPair) Scan(outer ...any) error {
	return p.inner(scanFunc(func(inner ...any) error {
		return p.r.Scan(slices.Concat(p.head, outer, p.mid, inner)...)
	}))
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// orNull is a claim's list parameter: NULL (no restriction) when empty.
func orNull[T any](list []T) []T {
	if len(list) == 0 {
		return nil
	}
	return list
}
