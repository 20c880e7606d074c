package taskersqlite

import (
	"path/filepath"
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
	d, err := Open(filepath.Join(t.TempDir(), "tasker.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	require.NoError(t, d.Migrate(t.Context()))
	now := time.Now()
	// A full scan: of a table (by name, or by the aliases the statements
	// give them: st, tt, ed, n), or of a whole index.
	fullScan := regexp.MustCompile(`^SCAN (tasker_\w+|st|tt|ed|n)\b|^SCAN \w+ USING (COVERING )?INDEX`)
	check := func(what, q string, args ...any) {
		t.Helper()
		rows, err := d.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		for _, line := range plan {
			require.False(t, fullScan.MatchString(line), "%s: %q scans a whole table:\n%s", what, line, strings.Join(plan, "\n"))
		}
		joined := strings.Join(plan, "\n")
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
}
