package taskerpgx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/taskerdriver"
)

var _ taskerdriver.StatisticsKeeper = (*Driver)(nil)

// statisticsTables are the tables the engine's prepared statements plan
// from: the ones a worker pass and a creation read by key.
var statisticsTables = []string{"tasker_tasks", "tasker_workflow_steps", "tasker_workflow_step_edges"}

// staleStatisticsSQL names the tables of $1 that have more than doubled
// (plus 8 pages) since their statistics were taken and that this role may
// analyze (it owns them, as the role that migrates them does; for any other
// ANALYZE only warns and skips, and autovacuum's statistics are all there
// is). relpages is what the last ANALYZE or VACUUM saw (0 for a table never
// looked at).
const staleStatisticsSQL = `SELECT c.relname FROM pg_class c
	WHERE c.oid = ANY(ARRAY(SELECT to_regclass(t) FROM unnest($1::text[]) t))
		AND pg_has_role(c.relowner, 'USAGE')
		AND pg_relation_size(c.oid) / current_setting('block_size')::bigint > 2 * greatest(c.relpages, 0) + 8
	ORDER BY c.relname`

// RefreshStatistics implements taskerdriver.StatisticsKeeper: it runs
// ANALYZE on each of the engine's key-read tables whose size has more
// than doubled since its statistics were taken (one that is locked, by
// autovacuum for instance, is skipped until a later round). A prepared statement's
// generic plan is made from the statistics of the moment and kept until
// they change: made while the tables were nearly empty (a new database),
// it reads whole tables or whole indexes as they grow, for as long as
// autovacuum has not analyzed them. ANALYZE makes every session plan those
// statements again. A doubling rule analyzes a growing table a few times
// in its life (at 8, 24, 56, … pages), each a sample of at most 30,000
// rows (default_statistics_target).
func (d *Driver) RefreshStatistics(ctx context.Context) ([]string, error) {
	rows, err := d.pool.Query(ctx, staleStatisticsSQL, statisticsTables)
	if err != nil {
		return nil, fmt.Errorf("postgres: statistics: %w", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: statistics: %w", err)
	}
	for _, t := range stale {
		// SKIP_LOCKED: a table autovacuum (or another ANALYZE) is working on
		// is left to the next round instead of holding up the leader's
		// services behind it.
		if _, err := d.pool.Exec(ctx, "ANALYZE (SKIP_LOCKED) "+pgx.Identifier{t}.Sanitize()); err != nil {
			return nil, fmt.Errorf("postgres: analyze %s: %w", t, err)
		}
	}
	return stale, nil
}
