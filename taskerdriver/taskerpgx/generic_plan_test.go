package taskerpgx_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
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
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, taskerpgx.GenericPlanSQL); err != nil {
				return err
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
		require.Contains(t, lock+counts, "$1", "%s: generic plans (the parameter, not its value)", when)
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
