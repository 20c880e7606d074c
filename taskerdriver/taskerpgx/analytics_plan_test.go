package taskerpgx_test

import (
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
		joined := explainWithoutSeqScans(t, d, q, args...)
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
	for _, p := range []*taskerdriver.AnalyticsSeriesParams{
		{Since: now.Add(-24 * time.Hour), Width: time.Hour, Buckets: 24},
		{Since: now.Add(-24 * time.Hour), Width: time.Hour, Buckets: 24, Namespace: "ns", Name: "n", Version: "1"},
	} {
		q, args := taskerpgx.SeriesSQL(p)
		check("series", q, args...)
		joined := explainWithoutSeqScans(t, d, q, args...)
		require.Regexp(t, `Index (Only )?Scan (Backward )?using tasker_tasks_finished on tasker_tasks`, joined, "series: each bucket is a range of the finished index")
		require.NotContains(t, joined, "tasker_tasks_named", "series: a scope does not read every task of the template")
	}
}

// A selective annotation filter of the task list is answered by the GIN
// index on the annotations (containment of each candidate first), not by
// reading every annotation.
func TestAnnotationFilterPlanUsesGINIndex(t *testing.T) {
	t.Parallel()
	d := open(t)
	require.NoError(t, d.Migrate(t.Context()))
	_, err := d.Pool().Exec(t.Context(), `
		INSERT INTO tasker_tasks (namespace, name, version, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 't', '1.0.0', 'h' || g, now(), now(), now() FROM generate_series(1, 5000) g;
		INSERT INTO tasker_annotation_types (name, created_at) VALUES ('fact', now());
		INSERT INTO tasker_task_annotations (task_id, annotation_type_id, annotation, created_at)
			SELECT task_id, 1, jsonb_build_object('order', 'o' || task_id, 'id', task_id), now() FROM tasker_tasks;
		ANALYZE tasker_tasks, tasker_task_annotations, tasker_annotation_types`)
	require.NoError(t, err)
	for _, f := range []*taskerdriver.AnnotationFilter{{Type: "fact", Key: "order", Value: "o42"}, {Type: "fact", Key: "id", Value: "42"}} {
		cond, args := taskerpgx.AnnotationWhere(f)
		joined := explainWithoutSeqScans(t, d, `SELECT count(*) FROM tasker_tasks WHERE `+cond, args...)
		require.Contains(t, joined, "Bitmap Index Scan on tasker_task_annotations_annotation", "%s = %s:\n%s", f.Key, f.Value, joined)
		var n int
		require.NoError(t, d.Pool().QueryRow(t.Context(), `SELECT count(*) FROM tasker_tasks WHERE `+cond, args...).Scan(&n))
		require.Equal(t, 1, n)
	}
}

// explainWithoutSeqScans returns the plan of q, one line a row, with
// sequential scans priced out (enable_seqscan off in its transaction).
func explainWithoutSeqScans(t *testing.T, d *taskerpgx.Driver, q string, args ...any) string {
	t.Helper()
	var plan []string
	err := pgx.BeginTxFunc(t.Context(), d.Pool(), pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `SET LOCAL enable_seqscan = off`); err != nil {
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
	return strings.Join(plan, "\n")
}
