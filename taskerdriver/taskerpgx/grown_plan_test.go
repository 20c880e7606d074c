package taskerpgx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// Every statement of a worker pass (the finish, the claim, the lock and
// counts of its tasks, a settling pass's notification, move and check,
// the deferred task moves) and of a creation's claim (the claim and a
// settling creation's notification) keeps doing work linear in the pass's
// size with the generic plan it was given while the tables were small: a
// session keeps its generic plan until the statistics change, and a new
// database's tables grow long before they are analyzed. Each statement is
// prepared (its parameters' types inferred, as pgx prepares it) in a
// transaction with the driver's settings and generic plans, executed once
// (the generic plan made, the execution undone) while the tables hold only
// the pass's 32 diamonds, then executed again, with the same plan, after
// 3,000 other tasks arrived in the same transaction: 12,000 steps waiting,
// ready (a backlog of 1,500), leased (1,500, 1,000 of them to the pass's
// own worker) and complete, with their edges. No node of the second
// execution reads more than a few rows per item of the pass (requireLinear).
func TestGenericPlansMadeSmallStayLinear(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const p = 32 // the pass's tasks, each a diamond a → b, c → d
	const topic = "tasker_test_grown_plan"
	// The pass's diamonds' steps (a, b, c, d), by what the pass is at.
	var (
		started = [4]string{"in_progress", "pending", "pending", "pending"}      // a leased: the finish's
		ready   = [4]string{"complete", "pending", "pending", "pending"}         // b and c ready: the claim's
		claimed = [4]string{"complete", "in_progress", "in_progress", "pending"} // b and c claimed: the settling's
		done    = [4]string{"complete", "complete", "complete", "complete"}      // all done: the moves'
	)
	finished := func(steps []int64, state taskertype.State) []*taskerdriver.StepFinishParams {
		ps := make([]*taskerdriver.StepFinishParams, len(steps))
		for i, id := range steps {
			ps[i] = &taskerdriver.StepFinishParams{StepID: id, Owner: "w", Attempt: 1, State: state, Now: now}
			if state == taskertype.StateComplete {
				ps[i].Results = json.RawMessage(`{"ok":true}`)
			} else {
				ps[i].NextAttemptAt = now.Add(time.Second)
			}
		}
		return ps
	}
	moves := func(tasks []int64) []any {
		n := len(tasks)
		froms, tos, metas, finals := make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
		for i := range tasks {
			froms[i], tos[i], metas[i], finals[i] = "in_progress", "complete", "{}", true
		}
		return []any{tasks, froms, tos, metas, finals, now, int64(n)}
	}
	claimOf := func(tasks []int64) (string, []any) {
		return taskerpgx.ClaimQuery(&taskerdriver.StepClaimParams{Now: now, Limit: 2 * p, Owner: "w",
			LeaseExpiresAt: now.Add(time.Minute), TaskIDs: tasks})
	}
	for _, c := range []struct {
		name  string
		steps [4]string // the pass's diamonds
		// newTask: the statement is a creation's, of the task the session
		// inserted last, a diamond inserted after the growth (fresh); the
		// generic plan is made with the pass's last task as the new one.
		newTask bool
		query   func(pass, fresh diamondSteps) (string, []any)
		rows    float64 // the rows the statement returns
		n       int     // the pass's size, in the items the statement reads a few rows for
	}{
		{name: "finish and satisfy", steps: started, rows: p, n: p,
			query: func(pass, _ diamondSteps) (string, []any) {
				return taskerpgx.FinishSatisfyQuery(finished(pass.a, taskertype.StateComplete), now)
			}},
		{name: "finish (errors)", steps: started, rows: p, n: p,
			query: func(pass, _ diamondSteps) (string, []any) {
				return taskerpgx.FinishQuery(finished(pass.a, taskertype.StateError), now)
			}},
		{name: "claim", steps: ready, rows: 2 * p, n: 2 * p,
			query: func(_, _ diamondSteps) (string, []any) { return claimOf(nil) }},
		{name: "claim of a new task", steps: ready, newTask: true, rows: 1, n: 4,
			query: func(_, _ diamondSteps) (string, []any) {
				_, args := claimOf(nil)
				return taskerpgx.NewTaskClaimSQL, args
			}},
		{name: "claim of a new task, named", steps: ready, newTask: true, rows: 1, n: 4,
			query: func(_, fresh diamondSteps) (string, []any) { return claimOf(fresh.tasks) }},
		{name: "lock", steps: claimed, rows: p, n: p,
			query: func(pass, _ diamondSteps) (string, []any) { return taskerpgx.LockTasksSQL, []any{pass.tasks} }},
		{name: "counts", steps: claimed, rows: p, n: 4 * p,
			query: func(pass, _ diamondSteps) (string, []any) { return taskerpgx.ProgressSQL, []any{pass.tasks} }},
		{name: "settle's notification", steps: claimed, rows: 0, n: p,
			query: func(pass, _ diamondSteps) (string, []any) {
				return taskerpgx.SettleNotifySQL, []any{topic, pass.a}
			}},
		{name: "settle's move, steps left", steps: claimed, rows: 0, n: 4 * p,
			query: func(pass, _ diamondSteps) (string, []any) {
				return taskerpgx.SettledDoneSQL, []any{pass.tasks, "in_progress", "complete", "r", now, true, topic}
			}},
		{name: "settle's move, all done", steps: done, rows: p, n: 4 * p,
			query: func(pass, _ diamondSteps) (string, []any) {
				return taskerpgx.SettledDoneSQL, []any{pass.tasks, "in_progress", "complete", "r", now, true, topic}
			}},
		{name: "settle's check", steps: claimed, rows: 0, n: 4 * p,
			query: func(pass, _ diamondSteps) (string, []any) { return taskerpgx.UnsettledSQL, []any{pass.tasks, now} }},
		{name: "task moves", steps: done, rows: 1, n: p,
			query: func(pass, _ diamondSteps) (string, []any) { return taskerpgx.MoveTasksSQL, moves(pass.tasks) }},
		{name: "new task's notification", steps: ready, newTask: true, rows: 1, n: 4,
			query: func(_, _ diamondSteps) (string, []any) { return taskerpgx.NewTaskNotifySQL, []any{topic} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			d := openEmptied(t) // a database of its own: the small tables are small on disk too
			conn, err := d.Pool().Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			var small, grown map[string]any
			var sql string
			err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
				for _, q := range []string{taskerpgx.TxSettingsSQL, taskerpgx.GenericPlanSQL} {
					if _, err := tx.Exec(ctx, q); err != nil {
						return err
					}
				}
				pass, err := diamonds(ctx, tx, "pass", p, "in_progress", c.steps, "w", now)
				if err != nil {
					return err
				}
				last := pass.last()
				sql, _ = c.query(pass, last)
				if _, err := tx.Exec(ctx, `PREPARE grown_plan AS `+sql); err != nil {
					return err
				}
				run := func(fresh diamondSteps) (map[string]any, error) {
					_, args := c.query(pass, fresh)
					execute, err := executeStatement(ctx, tx, "grown_plan", args)
					if err != nil {
						return nil, err
					}
					return explainAnalyze(ctx, tx, execute)
				}
				// The generic plan, made on the small tables; the execution
				// undone.
				if _, err := tx.Exec(ctx, `SAVEPOINT small`); err != nil {
					return err
				}
				if small, err = run(last); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT small`); err != nil {
					return err
				}
				if err := grow(ctx, tx, now); err != nil {
					return err
				}
				fresh := pass
				if c.newTask { // the creation's insert, whose task the statement names
					if fresh, err = diamonds(ctx, tx, "new", 1, "pending", [4]string{"pending", "pending", "pending", "pending"}, "", now); err != nil {
						return err
					}
				}
				if grown, err = run(fresh); err != nil {
					return err
				}
				var generic, custom int64
				if err := tx.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'grown_plan'`).
					Scan(&generic, &custom); err != nil {
					return err
				}
				if generic == 0 || custom != 0 {
					return fmt.Errorf("not generic plans only: %d generic, %d custom", generic, custom)
				}
				return errRollback
			})
			_, derr := conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE grown_plan`) // prepared statements outlive transactions
			require.ErrorIs(t, err, errRollback)
			require.NoError(t, derr)
			plan := planTree(grown)
			require.Equal(t, small["Total Cost"], grown["Total Cost"],
				"executed with the plan made on the small tables, not one made again:\n%s", plan)
			require.Equal(t, c.rows, grown["Actual Rows"], "%.60s…: rows returned\n%s", sql, plan)
			requireLinear(t, grown, c.n, "%.60s…, generic plan made small, executed grown; plan:\n%s", sql, plan)
		})
	}
}

// diamondSteps are diamonds (a → b, c → d) by task, with their steps' ids
// by name, in task order.
type diamondSteps struct {
	tasks, a, b, c, d []int64
}

// last is the last diamond of ds.
func (ds diamondSteps) last() diamondSteps {
	n := len(ds.tasks) - 1
	return diamondSteps{tasks: ds.tasks[n:], a: ds.a[n:], b: ds.b[n:], c: ds.c[n:], d: ds.d[n:]}
}

// diamonds inserts count tasks named name in state task, each a diamond
// a → b, c → d whose steps are in the states steps (a, b, c, d), those in
// progress at their first attempt and leased to owner, each step waiting
// for its parents that are not complete.
func diamonds(ctx context.Context, tx pgx.Tx, name string, count int, task string, steps [4]string, owner string, now time.Time) (diamondSteps, error) {
	var out diamondSteps
	err := tx.QueryRow(ctx, `
		WITH t AS (
			INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', $1::text, '1', $3, $1 || '-' || g, $6, $6, $6 FROM generate_series(1, $2) g RETURNING task_id),
		s AS (
			INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, attempts, pending_parents,
				lease_owner, lease_expires_at, last_attempted_at, created_at, updated_at)
			SELECT t.task_id, v.name, v.position, 'h', v.state, CASE WHEN v.state = 'pending' THEN 0 ELSE 1 END, v.waits,
				CASE WHEN v.state = 'in_progress' THEN $5 END, CASE WHEN v.state = 'in_progress' THEN $6 + interval '1 minute' END,
				CASE WHEN v.state = 'pending' THEN NULL ELSE $6 END, $6, $6
			FROM t, (VALUES ('a', 0, ($4::text[])[1], 0),
				('b', 1, ($4::text[])[2], (($4::text[])[1] <> 'complete')::int),
				('c', 2, ($4::text[])[3], (($4::text[])[1] <> 'complete')::int),
				('d', 3, ($4::text[])[4], (($4::text[])[2] <> 'complete')::int + (($4::text[])[3] <> 'complete')::int)) AS v(name, position, state, waits)
			RETURNING task_id, name, workflow_step_id),
		e AS (
			INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, task_id)
			SELECT f.workflow_step_id, o.workflow_step_id, f.task_id FROM s f JOIN s o ON o.task_id = f.task_id
			WHERE (f.name, o.name) IN (('a', 'b'), ('a', 'c'), ('b', 'd'), ('c', 'd')))
		SELECT (SELECT array_agg(task_id ORDER BY task_id) FROM t),
			array_agg(workflow_step_id ORDER BY task_id) FILTER (WHERE name = 'a'),
			array_agg(workflow_step_id ORDER BY task_id) FILTER (WHERE name = 'b'),
			array_agg(workflow_step_id ORDER BY task_id) FILTER (WHERE name = 'c'),
			array_agg(workflow_step_id ORDER BY task_id) FILTER (WHERE name = 'd')
		FROM s`, name, count, task, steps[:], owner, now).Scan(&out.tasks, &out.a, &out.b, &out.c, &out.d)
	return out, err
}

// grow adds 3,000 tasks (12,000 steps, 12,000 edges): 500 new (their
// first steps ready), 500 half done (two steps ready), 500 running two
// steps leased to w (the pass's worker), 500 running their first step
// leased to v, 1,000 complete.
func grow(ctx context.Context, tx pgx.Tx, now time.Time) error {
	for _, g := range []struct {
		name, task, owner string
		count             int
		steps             [4]string
	}{
		{"other-new", "pending", "", 500, [4]string{"pending", "pending", "pending", "pending"}},
		{"other-ready", "in_progress", "", 500, [4]string{"complete", "pending", "pending", "pending"}},
		{"other-running-w", "in_progress", "w", 500, [4]string{"complete", "in_progress", "in_progress", "pending"}},
		{"other-running-v", "in_progress", "v", 500, [4]string{"in_progress", "pending", "pending", "pending"}},
		{"other-done", "complete", "", 1000, [4]string{"complete", "complete", "complete", "complete"}},
	} {
		if _, err := diamonds(ctx, tx, g.name, g.count, g.task, g.steps, g.owner, now); err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
	}
	return nil
}

// executeStatement returns the EXECUTE of the prepared statement name
// with args as literals of the types PostgreSQL inferred for its
// parameters (EXPLAIN EXECUTE takes no bound parameters): PostgreSQL
// writes each literal from the value pgx sends.
func executeStatement(ctx context.Context, tx pgx.Tx, name string, args []any) (string, error) {
	var types []string
	if err := tx.QueryRow(ctx, `SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = $1`, name).Scan(&types); err != nil {
		return "", err
	}
	if len(types) != len(args) {
		return "", fmt.Errorf("%d arguments for %d parameters", len(args), len(types))
	}
	lits := make([]string, len(args))
	for i, typ := range types {
		if err := tx.QueryRow(ctx, `SELECT quote_nullable($1::`+typ+`::text) || '::`+typ+`'`, args[i]).Scan(&lits[i]); err != nil {
			return "", fmt.Errorf("argument $%d (%s): %w", i+1, typ, err)
		}
	}
	return `EXECUTE ` + name + `(` + strings.Join(lits, ", ") + `)`, nil
}

// explainAnalyze runs execute under EXPLAIN (ANALYZE, FORMAT JSON) and
// returns its plan's root node.
func explainAnalyze(ctx context.Context, tx pgx.Tx, execute string) (map[string]any, error) {
	var doc []map[string]any
	if err := tx.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+execute).Scan(&doc); err != nil {
		return nil, err
	}
	return doc[0]["Plan"].(map[string]any), nil
}

// planTree is the plan under root, one node a line, indented: its type,
// relation and index, conditions, and the rows it returned (per loop),
// removed by filters, and its loops.
func planTree(root map[string]any) string {
	var b strings.Builder
	var walk func(node map[string]any, depth int)
	walk = func(node map[string]any, depth int) {
		fmt.Fprintf(&b, "%s%v", strings.Repeat("  ", depth), node["Node Type"])
		for _, k := range []string{"Parent Relationship", "Subplan Name", "CTE Name", "Relation Name", "Index Name"} {
			if v, ok := node[k]; ok {
				fmt.Fprintf(&b, " %s=%v", k, v)
			}
		}
		for _, k := range []string{"Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "One-Time Filter"} {
			if v, ok := node[k]; ok {
				fmt.Fprintf(&b, " [%s: %v]", k, v)
			}
		}
		fmt.Fprintf(&b, " rows=%v loops=%v", node["Actual Rows"], node["Actual Loops"])
		for _, k := range []string{"Rows Removed by Filter", "Rows Removed by Join Filter"} {
			if v, ok := node[k]; ok {
				fmt.Fprintf(&b, " %s=%v", k, v)
			}
		}
		b.WriteString("\n")
		if kids, ok := node["Plans"].([]any); ok {
			for _, k := range kids {
				walk(k.(map[string]any), depth+1)
			}
		}
	}
	walk(root, 0)
	return b.String()
}
