package taskerpgx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// A prepared statement planned while the tasks table was empty keeps its
// whole-table plan as the table grows; RefreshStatistics analyzes the
// table once it has outgrown its statistics, and the same prepared
// statement, in the same session, is planned again by its index. Tables
// that have not grown are left alone.
func TestRefreshStatisticsReplansStatements(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := openEmptied(t)
	got, err := d.RefreshStatistics(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "nothing has grown")

	conn, err := d.Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	explain := func() string {
		t.Helper()
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE by_ids('{1,2}')`)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan;
		PREPARE by_ids(bigint[]) AS SELECT namespace FROM tasker_tasks WHERE task_id = ANY($1)`)
	require.NoError(t, err)
	defer func() {
		_, _ = conn.Exec(context.Background(), `DEALLOCATE by_ids; RESET plan_cache_mode`)
	}()
	require.Contains(t, explain(), "Seq Scan on tasker_tasks", "planned on an empty table")

	_, err = d.Pool().Exec(ctx, `INSERT INTO tasker_tasks (namespace, name, version, identity_hash, requested_at, created_at, updated_at)
		SELECT 'ns', 't', '1', 'stats-' || g, now(), now(), now() FROM generate_series(1, 5000) g`)
	require.NoError(t, err)
	require.Contains(t, explain(), "Seq Scan on tasker_tasks", "the cached plan outlives the table's growth")

	// A role that does not own the tables may not analyze them (ANALYZE
	// would only warn): they are not named for it.
	err = pgx.BeginTxFunc(ctx, d.Pool(), pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE ROLE tasker_test_not_owner; SET LOCAL ROLE tasker_test_not_owner`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, taskerpgx.StaleStatisticsSQL, taskerpgx.StatisticsTables)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Empty(t, names, "not the owner")
		return errRollback // the role goes with the transaction
	})
	require.ErrorIs(t, err, errRollback)

	// A table another ANALYZE or a VACUUM holds is skipped, not waited for.
	holder, err := d.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(context.Background()) }() // a failure must not leave the lock held
	_, err = holder.Exec(ctx, `LOCK TABLE tasker_tasks IN SHARE UPDATE EXCLUSIVE MODE`)
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = d.RefreshStatistics(wctx)
	cancel()
	require.NoError(t, err, "skipped, not waited for")
	require.Contains(t, explain(), "Seq Scan on tasker_tasks", "not analyzed while locked")
	require.NoError(t, holder.Rollback(ctx))

	got, err = d.RefreshStatistics(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"tasker_tasks"}, got)
	require.Contains(t, explain(), "tasker_tasks_pkey", "planned again from the new statistics")

	got, err = d.RefreshStatistics(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "analyzed once for this growth")
}

// openEmptied returns a migrated database whose tables the planner has seen
// empty (vacuumed and analyzed before any row): a new database's state.
func openEmptied(t *testing.T) *taskerpgx.Driver {
	t.Helper()
	d := open(t)
	require.NoError(t, d.Migrate(t.Context()))
	_, err := d.Pool().Exec(t.Context(), `VACUUM ANALYZE tasker_tasks, tasker_workflow_steps, tasker_workflow_step_edges`)
	require.NoError(t, err)
	return d
}
