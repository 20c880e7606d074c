package taskerpgx_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// A pass's finish and claim statements do work linear in the pass's
// results or claims, with the plans the driver's prepared statements
// settle on (generic) and with custom ones, on tables whose statistics say
// they are empty (a new database): no node reads more rows, over all its
// executions, than a few per result. Two plans were quadratic: each
// finished step's readied children looked up per row (a node run 3,264
// times for 64 results), then every leased step read through the lease
// index and joined to every result (32 ms for 130 results); and in the
// claim, each claimed step's parents looked up in the whole list of them.
// Nor does the finish read its steps through the lease index, which holds
// every leased step of every worker (the join of those to the results was
// the quadratic plan).
// The pass here completes the roots of 64 diamonds, readying 128 children,
// which the claim then takes.
func TestPassPlansAreLinear(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := openEmptied(t)
	ex := d.Executor()
	now := time.Now().UTC()
	// Finished tasks the statistics do not know of (as on a database whose
	// statistics were taken while it was empty): 8,000 steps, none leased.
	_, err := d.Pool().Exec(ctx, `
		INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 'old', '1', 'complete', 'old-' || g, now(), now(), now() FROM generate_series(1, 2000) g;
		INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, created_at, updated_at)
			SELECT task_id, n, 0, 'h', 'complete', now(), now() FROM tasker_tasks, unnest('{a,b,c,d}'::text[]) n`)
	require.NoError(t, err)
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
	one, oneArgs := taskerpgx.FinishSatisfyQuery(ps[:1], now)
	for _, generic := range []bool{false, true} {
		root, err := taskerpgx.ExplainAnalyzeIn(ctx, d, generic, one, oneArgs...)
		require.NoError(t, err)
		requireLinear(t, root, 1, "finish of one, generic plan: %v", generic)
	}
	finish, finishArgs := taskerpgx.FinishSatisfyQuery(ps, now)
	for _, generic := range []bool{false, true} {
		root, err := taskerpgx.ExplainAnalyzeIn(ctx, d, generic, finish, finishArgs...)
		require.NoError(t, err)
		require.EqualValues(t, n, root["Actual Rows"], "the finish returns every finished step")
		requireLinear(t, root, n, "finish, generic plan: %v", generic)
		require.NotContains(t, indexes(root), "tasker_workflow_steps_lease",
			"the finish does not read the steps of every lease (generic plan: %v)", generic)
	}

	// The children the finish readies, claimed.
	_, err = ex.StepFinishMany(ctx, ps)
	require.NoError(t, err)
	claim := taskerpgx.ClaimArgs(&taskerdriver.StepClaimParams{Now: now, Limit: 2 * n, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	for _, generic := range []bool{false, true} {
		root, err := taskerpgx.ExplainAnalyzeIn(ctx, d, generic, taskerpgx.ClaimSQL, claim...)
		require.NoError(t, err)
		require.EqualValues(t, 2*n, root["Actual Rows"], "the claim returns every claimed step")
		requireLinear(t, root, 2*n, "claim, generic plan: %v", generic)
	}

	// A settling pass's notification, move and check, the children claimed,
	// beside a backlog of 4,000 ready steps the statistics do not know of
	// either: the notification finds none of the children unclaimed
	// without walking the backlog, the check finds its tasks by key.
	_, err = ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 2 * n, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	_, err = d.Pool().Exec(ctx, `INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, created_at, updated_at)
		SELECT task_id, n, 1, 'h', 'pending', now(), now() FROM tasker_tasks, unnest('{e,f}'::text[]) n WHERE name = 'old'`)
	require.NoError(t, err)
	completed := make([]int64, n)
	tasks := make([]int64, n)
	for i, c := range claimed {
		completed[i], tasks[i] = c.Step.ID, c.Step.TaskID
	}
	// A claim of 2n steps from that backlog reads what it claims, not the
	// backlog (its LIMIT a parameter in the generic plan).
	for _, generic := range []bool{false, true} {
		root, err := taskerpgx.ExplainAnalyzeIn(ctx, d, generic, taskerpgx.ClaimSQL, claim...)
		require.NoError(t, err)
		require.EqualValues(t, 2*n, root["Actual Rows"], "the claim returns every claimed step")
		requireLinear(t, root, 2*n, "claim from a backlog, generic plan: %v", generic)
	}
	for _, generic := range []bool{false, true} {
		root, err := taskerpgx.ExplainAnalyzeIn(ctx, d, generic, taskerpgx.SettleNotifySQL, "tasker_test_plan", completed)
		require.NoError(t, err)
		require.EqualValues(t, 0, root["Actual Rows"], "every child claimed: no notification")
		requireLinear(t, root, n, "settle's notification, generic plan: %v", generic)
		root, err = taskerpgx.ExplainAnalyzeIn(ctx, d, generic, taskerpgx.UnsettledSQL, tasks, now)
		require.NoError(t, err)
		require.EqualValues(t, 0, root["Actual Rows"], "every task runs")
		// Linear in the tasks' steps (4 each), as their counts are.
		requireLinear(t, root, 4*n, "settle's check, generic plan: %v", generic)
		root, err = taskerpgx.ExplainAnalyzeIn(ctx, d, generic, taskerpgx.SettledDoneSQL, tasks, "in_progress", "complete", "r", now, true, "tasker_test_plan")
		require.NoError(t, err)
		require.EqualValues(t, 0, root["Actual Rows"], "no task has all its steps done")
		requireLinear(t, root, 4*n, "settle's move of the tasks done, generic plan: %v", generic)
	}
}

// indexes lists the indexes the plan under root reads.
func indexes(root map[string]any) []string {
	var out []string
	if name, ok := root["Index Name"].(string); ok {
		out = append(out, name)
	}
	if kids, ok := root["Plans"].([]any); ok {
		for _, k := range kids {
			out = append(out, indexes(k.(map[string]any))...)
		}
	}
	return out
}

// requireLinear fails when a node of the executed plan under root read
// more than 4 rows per item of n over all its executions (its rows and
// those its filters removed, times its loops).
func requireLinear(t *testing.T, root map[string]any, n int, what string, args ...any) {
	t.Helper()
	var worst struct {
		node string
		rows float64
	}
	var walk func(node map[string]any)
	walk = func(node map[string]any) {
		read := node["Actual Rows"].(float64)
		for _, k := range []string{"Rows Removed by Filter", "Rows Removed by Join Filter"} {
			if v, ok := node[k].(float64); ok {
				read += v
			}
		}
		if read *= node["Actual Loops"].(float64); read > worst.rows {
			worst.node, worst.rows = fmt.Sprintf("%v on %v (%v)", node["Node Type"], node["Relation Name"], node["Index Name"]), read
		}
		if kids, ok := node["Plans"].([]any); ok {
			for _, k := range kids {
				walk(k.(map[string]any))
			}
		}
	}
	walk(root)
	require.LessOrEqual(t, worst.rows, float64(4*n), "%s: %s read %v rows for %d items", fmt.Sprintf(what, args...), worst.node, worst.rows, n)
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
	require.Len(t, regexp.MustCompile(`tasker_tasks_pkey on tasker_tasks( t)? .*\n\s*Index Cond: \(task_id = u(_1)?\.id\)`).FindAllString(moves, -1), 2, "the moved tasks are read and updated by their keys:\n%s", moves)
	require.NotContains(t, moves, "tasker_tasks_state", "not through the state index:\n%s", moves)
}
