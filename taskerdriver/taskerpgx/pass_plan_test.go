package taskerpgx_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// A pass's finish statement does work linear in the pass's results: no
// node of its executed plan runs more often than there are results (each
// step's readied children looked up per row once made it quadratic: a pass
// of 64 results ran a node 3,264 times, most of the statement's time).
// The pass here completes the roots of 64 diamonds, readying 128 children.
func TestFinishPlanIsLinear(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := open(t)
	require.NoError(t, d.Migrate(ctx))
	ex := d.Executor()
	now := time.Now().UTC()
	const n = 64
	for i := range n {
		_, err := ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "diamond", Version: "1",
			Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: fmt.Sprint("plan-", i), RequestedAt: now, Now: now,
			Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}, {Name: "b", Handler: "h", Parents: []int{0}},
				{Name: "c", Handler: "h", Parents: []int{0}}, {Name: "d", Handler: "h", Parents: []int{1, 2}}}})
		require.NoError(t, err)
	}
	claimed, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: n, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, claimed, n)
	ps := make([]*taskerdriver.StepFinishParams, n)
	for i, c := range claimed {
		ps[i] = &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w", Attempt: c.Step.Attempts,
			State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: now}
	}
	q, args := taskerpgx.FinishSatisfyQuery(ps, now)

	var plan []map[string]any
	err = pgx.BeginTxFunc(ctx, d.Pool(), pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Len(t, plan, 1)
	root := plan[0]["Plan"].(map[string]any)
	require.EqualValues(t, n, root["Actual Rows"], "the statement returns every finished step")

	// The node executed most often.
	var worst struct {
		node  string
		loops float64
	}
	var walk func(node map[string]any)
	walk = func(node map[string]any) {
		loops := node["Actual Loops"].(float64)
		if loops > worst.loops {
			worst.node, worst.loops = fmt.Sprintf("%v on %v (%v)", node["Node Type"], node["Relation Name"], node["Index Name"]), loops
		}
		if kids, ok := node["Plans"].([]any); ok {
			for _, k := range kids {
				walk(k.(map[string]any))
			}
		}
	}
	walk(root)
	require.LessOrEqual(t, worst.loops, float64(2*n), "a node runs once per result or less, not once per pair of them: %s ran %v times", worst.node, worst.loops)
}

var errRollback = fmt.Errorf("rollback")

// The claim that follows a task's insert (create-and-claim) finds the new
// task's steps by an index condition on the task, not by walking the ready
// steps of every older task: with currval compared directly (volatile) it
// was a filter, and during a burst of creations each claim walked the
// backlog (8 ms a claim behind 2,000 queued diamonds).
func TestNewTaskClaimPlan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := open(t)
	require.NoError(t, d.Migrate(ctx))
	now := time.Now().UTC()
	_, err := d.Pool().Exec(ctx, `
		INSERT INTO tasker_tasks (namespace, name, version, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 't', '1', 'h' || g, now(), now(), now() FROM generate_series(1, 2000) g;
		INSERT INTO tasker_workflow_steps (task_id, name, position, handler, created_at, updated_at)
			SELECT task_id, 'a', 0, 'h', now(), now() FROM tasker_tasks;
		ANALYZE tasker_tasks, tasker_workflow_steps`)
	require.NoError(t, err)
	plan := explainWithoutSeqScans(t, d, taskerpgx.NewTaskClaimSQL,
		now, 64, "w", now.Add(time.Minute), []string(nil), []string{""})
	require.Regexp(t, `Index Scan using tasker_workflow_steps_ready on tasker_workflow_steps(?s:.)*?Index Cond: \(\(task_id = `, plan,
		"the new task's id bounds the ready index scan:\n%s", plan)
}

// In the driver's transactions sequential scans are priced out: planned
// on tables that look empty to the planner (a new database, vacuumed before
// its first task), the statements of a worker pass and of a creation use
// no sequential scan, where the same claim on the pool, outside them, does
// (the control). That is all the setting does: a plan made on empty
// statistics may still read a whole index (TestRefreshStatisticsReplans-
// Statements covers replanning as the tables grow). With a few pages of
// tasks in progress, the task moves find their tasks by key, not through
// the state index.
func TestWriteTransactionsPlanWithoutSeqScans(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := openEmptied(t)
	seq := regexp.MustCompile(`Seq Scan on (tasker_\w+)`)
	now := time.Now().UTC()
	stmts := taskerpgx.WriteStatements(now)

	claim := stmts[taskerpgx.ClaimSQL]
	control, err := taskerpgx.ExplainIn(ctx, d, false, taskerpgx.ClaimSQL, claim...)
	require.NoError(t, err)
	require.Regexp(t, seq, control, "control: on empty-looking tables the planner picks whole-table scans")

	for q, args := range stmts {
		plan, err := taskerpgx.ExplainIn(ctx, d, true, q, args...)
		require.NoError(t, err)
		require.NotRegexp(t, seq, plan, "%.60s…:\n%s", q, plan)
	}
	// The task moves, once a few pages of tasks are in progress: found by
	// their keys, not through the state index (every task in the state).
	_, err = d.Pool().Exec(ctx, `
		INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 't', '1', 'in_progress', 'h' || g, now(), now(), now() FROM generate_series(1, 200) g;
		ANALYZE tasker_tasks`)
	require.NoError(t, err)
	moves, err := taskerpgx.ExplainIn(ctx, d, true, taskerpgx.MoveTasksSQL, stmts[taskerpgx.MoveTasksSQL]...)
	require.NoError(t, err)
	require.Regexp(t, `Index Cond: \(task_id = ANY`, moves, "the moved tasks are found by their keys:\n%s", moves)
	require.NotContains(t, moves, "tasker_tasks_state", "not through the state index:\n%s", moves)
}
