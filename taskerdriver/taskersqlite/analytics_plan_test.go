package taskersqlite

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// The analytics statements read tasks through an index (the window's
// created_at range, the template index, the state index) and the other
// tables through their task_id indexes: no plan scans a whole table.
func TestAnalyticsPlansUseIndexes(t *testing.T) {
	t.Parallel()
	d := migrated(t)
	now := time.Now()
	// A full scan: of a table (by name, or by the aliases the statements
	// give them: tk, st, tt, ed, n), or of a whole index.
	fullScan := regexp.MustCompile(`^SCAN (tasker_\w+|tk|st|tt|ed|n)\b|^SCAN \w+ USING (COVERING )?INDEX`)
	check := func(what, q string, args ...any) {
		t.Helper()
		joined := plan(t, d, q, args...)
		for _, line := range strings.Split(joined, "\n") {
			require.False(t, fullScan.MatchString(line), "%s: %q scans a whole table:\n%s", what, line, joined)
		}
		require.Contains(t, joined, "tasker_tasks", what)
		require.Regexp(t, `tasker_tasks USING (COVERING )?INDEX`, joined, what)
	}
	for _, p := range []*taskerdriver.AnalyticsParams{
		{Since: now.Add(-time.Hour), Until: now, Detail: true, Buckets: []float64{1, 10}},
		{Since: now.Add(-time.Hour), Until: now, Namespace: "ns", Name: "n", Version: "1", Detail: true},
		{Since: now.Add(-time.Hour), Until: now},
	} {
		q, args := analyticsSQL(p)
		check("window", q, args...)
	}
	check("overview", overviewSQL)
	for _, p := range []*taskerdriver.AnalyticsSeriesParams{
		{Since: now.Add(-24 * time.Hour), Width: time.Hour, Buckets: 24},
		{Since: now.Add(-24 * time.Hour), Width: time.Hour, Buckets: 24, Namespace: "ns", Name: "n", Version: "1"},
	} {
		q, args := seriesSQL(p)
		check("series", q, args...)
		joined := plan(t, d, q, args...)
		require.Regexp(t, `SEARCH tk USING INDEX tasker_tasks_finished \(completed_at>\? AND completed_at<\?\)`, joined, "series: each bucket's count is a range of the finished index")
		require.Regexp(t, `SEARCH tasker_tasks USING (COVERING )?INDEX tasker_tasks_finished \(completed_at>\? AND completed_at<\?\)`, joined,
			"series: each bucket's sample is a range of the finished index")
	}
}

// plan returns the EXPLAIN QUERY PLAN of q, one line a step.
func plan(t *testing.T, d *Driver, q string, args ...any) string {
	t.Helper()
	rows, err := d.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		out = append(out, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(out, "\n")
}
