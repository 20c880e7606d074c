package taskerpgx_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// The pass's lock and counts of its tasks run with generic plans (planned
// once per connection, not at every execution): those plans find their
// rows by key whatever the statistics say, on a database whose statistics
// are empty (a new one) as on one analyzed with tasks and steps in every
// state, where a custom plan knew how many ids it was given.
func TestLockAndCountsGenericPlansUseKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := openEmptied(t)
	explain := func(q string) string {
		t.Helper()
		conn, err := d.Pool().Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		var plan []string
		err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
			for _, q := range []string{taskerpgx.TxSettingsSQL, taskerpgx.GenericPlanSQL} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `PREPARE plan_test(bigint[]) AS `+q); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `EXPLAIN EXECUTE plan_test('{1,2,3}')`)
			if err != nil {
				return err
			}
			if plan, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		_, err = conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE plan_test`)
		require.NoError(t, err)
		return strings.Join(plan, "\n")
	}
	check := func(when string) {
		t.Helper()
		lock := explain(taskerpgx.LockTasksSQL)
		require.Regexp(t, `Index Scan using tasker_tasks_pkey on tasker_tasks(?s:.)*Index Cond: \(task_id = ANY \(\$1\)\)`, lock, "%s:\n%s", when, lock)
		counts := explain(taskerpgx.ProgressSQL)
		require.Regexp(t, `Index Cond: \(task_id = ANY \(\$1\)\)`, counts, "%s:\n%s", when, counts)
	}
	check("empty statistics")

	_, err := d.Pool().Exec(ctx, `
		INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 't', '1', (ARRAY['pending','in_progress','complete'])[1 + g % 3], 'h' || g, now(), now(), now()
			FROM generate_series(1, 3000) g;
		INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, created_at, updated_at)
			SELECT task_id, 's' || p, p, 'h', (ARRAY['pending','in_progress','complete'])[1 + (task_id + p) % 3], now(), now()
			FROM tasker_tasks, generate_series(1, 4) p;
		ANALYZE tasker_tasks, tasker_workflow_steps`)
	require.NoError(t, err)
	check("3,000 tasks and 12,000 steps, analyzed")
}

// A worker pass runs its lock and counts with generic plans from their
// first execution, and puts the session's plan_cache_mode back for what
// follows in its transaction: after one pass on a connection whose session
// says auto, the two statements have generic plans only, and so has the
// claim, in the pass and before it (auto plans the first executions
// custom); on one whose session forces generic plans, a
// statement the transaction runs after the pass has generic plans only (a
// reset to auto would have planned it custom).
func TestPassPlansLockAndCountsGeneric(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	// plans runs one pass (a's result, b's claim, the task's lock and
	// counts) on a one-connection pool whose session has mode, and returns
	// the generic and custom plan counts of that connection's prepared
	// statements, by the start of their text.
	plans := func(mode string) map[string][2]int64 {
		t.Helper()
		cfg, err := pgxpool.ParseConfig(url)
		require.NoError(t, err)
		cfg.MaxConns = 1
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = mode
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		defer pool.Close()
		d := taskerpgx.New(pool)
		defer func() { _ = d.Close() }()
		require.NoError(t, d.Migrate(ctx))
		ex := d.Executor()
		now := testdb.Base
		task := testdb.CreateTask(t, ex, now, taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 1},
			taskerdriver.StepCreateParams{Name: "b", Handler: "h", RetryLimit: 1, Parents: []int{0}})
		claimed, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		tx, err := ex.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		res, err := tx.StepFinishAndClaim(ctx, &taskerdriver.StepFinishAndClaimParams{
			Finish: []*taskerdriver.StepFinishParams{{StepID: claimed[0].Step.ID, Owner: "w", Attempt: 1,
				State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: now}},
			Claim:    &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Hour)},
			Progress: []int64{task.Task.ID},
		})
		require.NoError(t, err)
		require.Len(t, res.Claimed, 1, "b claimed")
		require.Contains(t, res.Progress, task.Task.ID, "the task locked and counted")
		_, err = tx.TaskGet(ctx, task.Task.ID) // a statement after the pass
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		rows, err := pool.Query(ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
		require.NoError(t, err)
		out := map[string][2]int64{}
		var stmt string
		var generic, custom int64
		_, err = pgx.ForEachRow(rows, []any{&stmt, &generic, &custom}, func() error {
			for _, q := range []string{taskerpgx.ClaimSQL, taskerpgx.LockTasksSQL, taskerpgx.ProgressSQL, taskGetSQL} {
				if strings.HasPrefix(stmt, q) || q == taskGetSQL && strings.Contains(stmt, q) {
					c := out[q]
					out[q] = [2]int64{c[0] + generic, c[1] + custom}
				}
			}
			return nil
		})
		require.NoError(t, err)
		return out
	}
	auto := plans("auto")
	require.Equal(t, [2]int64{2, 0}, auto[taskerpgx.ClaimSQL], "generic plans only for the claims, in the pass and before it")
	for _, q := range []string{taskerpgx.LockTasksSQL, taskerpgx.ProgressSQL} {
		require.Equal(t, [2]int64{1, 0}, auto[q], "generic plans only for %.40s…", q)
	}
	generic := plans("force_generic_plan")
	after := generic[taskGetSQL]
	require.Positive(t, after[0], "the statement after the lock and counts was run")
	require.Zero(t, after[1], "with the session's mode (generic), not reset to auto (custom at first)")
}

// taskGetSQL is how TaskGet's statement ends.
const taskGetSQL = `FROM tasker_tasks WHERE task_id = $1`

// A settling pass's move of its tasks whose steps are all done, with the
// generic plan the pass's pipeline runs it with (prepared, then executed
// under force_generic_plan), made while the tables held only the pass's
// tasks and kept (a session keeps its generic plan until the statistics
// change) while 4,000 other tasks arrived, 2,000 of them running: it reads
// the pass's tasks and their steps by key, not every running task through
// the state index nor every step (a hash anti-join planned on the small
// table), whether it moves them or not.
func TestSettledDoneGenericPlanUsesKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := openEmptied(t)
	const others = `
		WITH t AS (
			INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 'other', '1', (ARRAY['in_progress','complete'])[1 + g % 2], 'other-' || g, now(), now(), now()
			FROM generate_series(1, 4000) g RETURNING task_id)
		INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, created_at, updated_at)
			SELECT task_id, 'a', 0, 'h', 'complete', now(), now() FROM t`
	const n = 64
	var ids []int64
	require.NoError(t, d.Pool().QueryRow(ctx, `
		WITH t AS (
			INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 'pass', '1', 'in_progress', 'pass-' || g, now(), now(), now() FROM generate_series(1, $1) g RETURNING task_id),
		s AS (
			INSERT INTO tasker_workflow_steps (task_id, name, position, handler, state, created_at, updated_at)
			SELECT task_id, n, 0, 'h', 'complete', now(), now() FROM t, unnest('{a,b,c,d}'::text[]) n)
		SELECT array_agg(task_id) FROM t`, n).Scan(&ids))
	for _, done := range []bool{false, true} {
		if !done {
			_, err := d.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET state = 'in_progress' WHERE task_id = ANY($1) AND name = 'd'`, ids)
			require.NoError(t, err)
		} else {
			_, err := d.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET state = 'complete' WHERE task_id = ANY($1)`, ids)
			require.NoError(t, err)
		}
		conn, err := d.Pool().Acquire(ctx)
		require.NoError(t, err)
		var root map[string]any
		err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
			for _, q := range []string{taskerpgx.TxSettingsSQL, taskerpgx.GenericPlanSQL,
				`PREPARE settled_done(bigint[], text, text, text, timestamptz, boolean, text) AS ` + taskerpgx.SettledDoneSQL,
				`EXECUTE settled_done('{}', 'in_progress', 'complete', 'r', now(), true, 'tasker_test_plan')`, // the generic plan, made now
				others} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			var doc []map[string]any
			if err := tx.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE settled_done(`+pgArray(ids)+`, 'in_progress', 'complete', 'r', now(), true, 'tasker_test_plan')`).
				Scan(&doc); err != nil {
				return err
			}
			root = doc[0]["Plan"].(map[string]any)
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		_, err = conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE settled_done`)
		require.NoError(t, err)
		conn.Release()
		want := map[bool]float64{false: 0, true: n}[done]
		require.Equal(t, want, root["Actual Rows"], "tasks moved (all steps done: %v)", done)
		requireLinear(t, root, 4*n, "the move's generic plan (all steps done: %v)", done)
		require.NotContains(t, indexes(root), "tasker_tasks_state", "all steps done: %v", done)
	}
}

// pgArray is ids as a PostgreSQL array literal.
func pgArray(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "'{" + strings.Join(parts, ",") + "}'::bigint[]"
}
