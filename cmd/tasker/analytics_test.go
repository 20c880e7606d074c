package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// The analytics commands on the database (--json and the tables) after two
// diamonds ran, and an out-of-range --period refused before any work.
func TestAnalyticsCommands(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	for range 2 {
		mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait", "-o", "json")...)
	}

	var perf tasker.PerformanceReport
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--database", db, "analytics", "performance", "--json")), &perf))
	require.Equal(t, 0, perf.SystemOverview.ActiveTasks)
	require.Equal(t, 1, perf.SystemOverview.UniqueTaskTypes)
	require.Equal(t, 1.0, perf.SystemOverview.SystemHealthScore)
	for _, p := range []tasker.PeriodPerformance{perf.PerformanceTrends.LastHour, perf.PerformanceTrends.Last24Hours} {
		require.Equal(t, 2, p.TaskThroughput)
		require.Equal(t, 100.0, p.CompletionRate)
		require.Equal(t, 8, p.StepThroughput)
		require.Equal(t, 2, p.TaskDuration.Count)
		require.Equal(t, 8, p.StepDuration.Count)
	}
	require.False(t, perf.CacheInfo.Cached, "the CLI on a database computes a fresh answer")

	text := mustRun(t, "--database", db, "analytics", "performance")
	require.Regexp(t, `(?m)^0 active tasks, 1 namespaces, 1 task types in use; health score 1\.000`, text)
	require.Regexp(t, `(?m)^PERIOD +TASKS +COMPLETE % +ERROR % +STEPS`, text)
	require.Regexp(t, `(?m)^last hour +2 +100\.00 +0\.00 +8 +\d+\.\d{3}s`, text)

	var b tasker.BottleneckReport
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--database", db, "analytics", "bottlenecks", "--name", "diamond_workflow", "--period", "2", "-o", "json")), &b))
	require.Equal(t, tasker.AnalyticsScope{Name: "diamond_workflow"}, b.Scope)
	require.Equal(t, 2, b.AnalysisPeriodHours)
	require.Equal(t, 2, b.ScopeSummary.TotalTasks)
	require.Len(t, b.PerformanceDistribution.Templates, 1)
	require.Len(t, b.PerformanceDistribution.Steps, 4)
	require.Len(t, b.BottleneckAnalysis.SlowestTasks, 2)
	require.Equal(t, 0, b.BottleneckAnalysis.ErrorPatterns.TotalErrors)
	require.Equal(t, 6, b.BottleneckAnalysis.DependencyBottlenecks.WaitTime.Count, "three dependent steps per diamond")

	text = mustRun(t, "--database", db, "analytics", "bottlenecks")
	require.Contains(t, text, "all templates, last 24 hours: 2 tasks (2 analyzed), 1 task types")
	require.Regexp(t, `(?m)^default\.diamond_workflow@1\.0\.0 +2 +2 +0 `, text)
	require.Regexp(t, `(?m)^default\.diamond_workflow@1\.0\.0 diamond_end +2 +0 `, text)
	require.Contains(t, text, "errors: 0 failed attempts")

	none := mustRun(t, "--database", db, "analytics", "bottlenecks", "--namespace", "nowhere", "--json")
	require.NoError(t, json.Unmarshal([]byte(none), &b))
	require.Equal(t, 0, b.ScopeSummary.TotalTasks)
	require.NotContains(t, none, "null")

	_, _, err := run(t, "--database", db, "analytics", "bottlenecks", "--period", "721")
	require.ErrorContains(t, err, "--period 721 is out of range: give a whole number of hours from 1 to 720")
	_, _, err = run(t, "--database", db, "analytics", "performance", "-o", "yaml")
	require.ErrorContains(t, err, `--output "yaml" is unknown`)
}

// Through --server: the same figures as from the database, with a token
// holding tasker.analytics:index; another credential is refused.
func TestAnalyticsCommandsThroughServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "analytics.db")
	mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait", "-o", "json")...)
	analyst := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "analyst", "--permission", "tasker.analytics:index"))
	reader := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "reader", "--permission", "tasker.task:index"))
	srv := startServe(t, taskerBinary(t), "--database", db, "--templates", examplesDir(t))

	var perf tasker.PerformanceReport
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "analytics", "performance", "--json", "--server", srv.base, "--token", analyst)), &perf))
	require.Equal(t, 1, perf.PerformanceTrends.LastHour.TaskThroughput)
	require.Equal(t, 4, perf.PerformanceTrends.LastHour.StepDuration.Count)
	require.Regexp(t, `(?m)^last hour +1 +100\.00 `, mustRun(t, "analytics", "performance", "--server", srv.base, "--token", analyst))

	out := mustRun(t, "analytics", "bottlenecks", "--namespace", "default", "--period", "1", "--server", srv.base, "--token", analyst)
	require.Contains(t, out, "namespace default, last 1 hours: 1 tasks (1 analyzed), 1 task types")

	_, _, err := run(t, "analytics", "bottlenecks", "--server", srv.base, "--token", reader)
	require.ErrorContains(t, err, "HTTP 403 forbidden")
	require.ErrorContains(t, err, "tasker.analytics:index")
}
