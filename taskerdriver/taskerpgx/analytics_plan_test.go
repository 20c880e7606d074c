package taskerpgx_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// Every table the analytics statements read has an index path: with
// sequential scans priced out (enable_seqscan off; the planner still picks
// one where no index serves), no plan scans a tasker table whole. The
// window's tasks come from an index range.
func TestAnalyticsPlansUseIndexes(t *testing.T) {
	t.Parallel()
	d := open(t)
	require.NoError(t, d.Migrate(t.Context()))
	now := time.Now()
	seq := regexp.MustCompile(`Seq Scan on (tasker_\w+)`)
	check := func(what, q string, args ...any) {
		t.Helper()
		var plan []string
		err := pgx.BeginTxFunc(t.Context(), d.Pool(), pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(t.Context(), "EXPLAIN "+q, args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		require.NoError(t, err)
		joined := strings.Join(plan, "\n")
		require.NotRegexp(t, seq, joined, "%s scans a table whole:\n%s", what, joined)
		require.Regexp(t, `Index (Only )?Scan (Backward )?using tasker_tasks_\w+ on tasker_tasks`, joined, what)
	}
	for _, p := range []*taskerdriver.AnalyticsParams{
		{Since: now.Add(-time.Hour), Until: now, Detail: true, Buckets: []float64{1, 10}},
		{Since: now.Add(-time.Hour), Until: now, Namespace: "ns", Name: "n", Version: "1", Detail: true},
		{Since: now.Add(-time.Hour), Until: now},
	} {
		q, args := taskerpgx.AnalyticsSQL(p)
		check("window", q, args...)
	}
	check("overview", taskerpgx.OverviewSQL)
}
