package tasker_test

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver/taskerdrivertest"
)

// analyticsEnv is a client on a fresh database with the seeded analytics
// history (taskerdrivertest.SeedAnalytics at t0), its clock at t0+30min.
func analyticsEnv(t *testing.T, seed bool) (*tasker.Client, *testdb.Clock, time.Time) {
	t.Helper()
	d := openTestDriver(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := testdb.NewClock(t0.Add(30 * time.Minute))
	c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	if seed {
		taskerdrivertest.SeedAnalytics(t.Context(), t, d.Executor(), t0)
	}
	return c, clock, t0
}

func TestAnalyticsPerformanceGolden(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		c, clock, _ := analyticsEnv(t, true)
		r, err := c.AnalyticsPerformance(t.Context(), nil)
		require.NoError(t, err)
		require.Equal(t, tasker.SystemOverview{ActiveTasks: 2, TotalNamespaces: 2, UniqueTaskTypes: 3, SystemHealthScore: 0.75}, r.SystemOverview)
		h := r.PerformanceTrends.LastHour
		require.Equal(t, tasker.PeriodPerformance{TaskThroughput: 4, AnalyzedTasks: 4, CompletionRate: 75, ErrorRate: 25,
			AvgTaskDuration: 22.667, AvgStepDuration: 10, StepThroughput: 7,
			TaskDuration: tasker.Distribution{Count: 3, Avg: 22.667, P50: 18, P95: 37.8, P99: 39.56, Max: 40},
			StepDuration: tasker.Distribution{Count: 5, Avg: 10, P50: 6, P95: 25.6, P99: 29.12, Max: 30}}, h)
		// The pending task created an hour before t0 is in the last 4 and
		// 24 hours; the one two hours after t0 is in the future.
		for _, p := range []tasker.PeriodPerformance{r.PerformanceTrends.Last4Hours, r.PerformanceTrends.Last24Hours} {
			require.Equal(t, 5, p.TaskThroughput)
			require.Equal(t, 60.0, p.CompletionRate)
			require.Equal(t, 20.0, p.ErrorRate)
			require.Equal(t, 8, p.StepThroughput)
		}
		require.False(t, r.CacheInfo.Cached)
		require.Equal(t, clock.Now().UTC(), r.GeneratedAt)

		// Served from the cache until its 90 s are over, unless asked not to.
		clock.Advance(89 * time.Second)
		again, err := c.AnalyticsPerformance(t.Context(), nil)
		require.NoError(t, err)
		require.True(t, again.CacheInfo.Cached)
		require.Equal(t, r.GeneratedAt, again.GeneratedAt)
		fresh, err := c.AnalyticsPerformance(t.Context(), &tasker.AnalyticsOptions{NoCache: true})
		require.NoError(t, err)
		require.False(t, fresh.CacheInfo.Cached)
		require.Equal(t, clock.Now().UTC(), fresh.GeneratedAt)
		clock.Advance(91 * time.Second)
		later, err := c.AnalyticsPerformance(t.Context(), nil)
		require.NoError(t, err)
		require.False(t, later.CacheInfo.Cached, "expired")
	})
}

func TestAnalyticsBottlenecksGolden(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		c, clock, _ := analyticsEnv(t, true)
		r, err := c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{PeriodHours: 1})
		require.NoError(t, err)
		require.Equal(t, tasker.ScopeSummary{TotalTasks: 4, AnalyzedTasks: 4, UniqueTaskTypes: 2, TimeSpanHours: 1}, r.ScopeSummary)
		a := r.BottleneckAnalysis
		require.Len(t, a.SlowestTasks, 4)
		require.Equal(t, tasker.SlowTask{TaskID: a.SlowestTasks[0].TaskID, DurationSeconds: 40, TaskName: "refund", NamespaceName: "shop",
			Version: "2.0.0", Status: "complete", StepCount: 1, CompletedSteps: 1}, a.SlowestTasks[0])
		require.Len(t, a.SlowestSteps, 5)
		require.Equal(t, "r", a.SlowestSteps[0].StepName)
		require.Equal(t, 30.0, a.SlowestSteps[0].DurationSeconds)
		require.Equal(t, tasker.ErrorPatterns{TotalErrors: 2, RecentErrorRate: 25, CommonErrorTypes: []string{"permanent", "retryable"},
			ErrorTypeCounts: map[string]int{"permanent": 1, "retryable": 1}, RetrySuccessRate: 50, RetriedSteps: 2}, a.ErrorPatterns)
		wait := tasker.Distribution{Count: 2, Avg: 5, P50: 5, P95: 5.9, P99: 5.98, Max: 6}
		require.Equal(t, tasker.DependencyBottlenecks{BlockingDependencies: 1, AvgWaitTime: 5, MostBlockedSteps: []string{"b"},
			BlockedSteps: []tasker.BlockedStep{{StepName: "b", TaskName: "order", NamespaceName: "shop", Version: "1.0.0", WaitTime: wait}},
			WaitTime:     wait, QueueTime: tasker.Distribution{Count: 6, Avg: 2.5, P50: 1, P95: 7.75, P99: 9.55, Max: 10}}, a.DependencyBottlenecks)

		p := r.PerformanceDistribution
		require.Equal(t, tasker.Percentiles{P50: 18, P95: 37.8, P99: 39.56}, p.Percentiles)
		require.Equal(t, []tasker.DurationBucket{{"0-1s", 0}, {"1-10s", 1}, {"10-30s", 1}, {"30-60s", 1}, {"60-300s", 0}, {"300s+", 0}},
			p.DistributionBuckets)
		require.Equal(t, []tasker.TemplatePerformance{
			{NamespaceName: "shop", TaskName: "order", Version: "1.0.0", Tasks: 3, Complete: 2, Error: 1,
				Duration: tasker.Distribution{Count: 2, Avg: 14, P50: 14, P95: 17.6, P99: 17.92, Max: 18}},
			{NamespaceName: "shop", TaskName: "refund", Version: "2.0.0", Tasks: 1, Complete: 1,
				Duration: tasker.Distribution{Count: 1, Avg: 40, P50: 40, P95: 40, P99: 40, Max: 40}},
		}, p.Templates)
		require.Len(t, p.Steps, 3)
		require.Equal(t, tasker.StepPerformance{NamespaceName: "shop", TaskName: "order", Version: "1.0.0", StepName: "b", Steps: 3, FailedAttempts: 1,
			Duration: tasker.Distribution{Count: 2, Avg: 7, P50: 7, P95: 7.9, P99: 7.98, Max: 8}, WaitTime: wait}, p.Steps[1])

		require.Equal(t, []string{
			"25.00% of the tasks ended in error; the most common failure kind is permanent (1 attempts)",
			"step r of shop.refund@2.0.0 is the slowest: p95 30.000s, p50 30.000s over 1 runs",
			"ready steps wait p95 7.750s for a worker: add workers or concurrency",
			"step b of shop.order@1.0.0 waits 5.000s on average for its dependencies: shorten or parallelize its parents",
			"1 steps are waiting behind unfinished parents; for tasks in error, retry or resolve the failed steps",
		}, r.Recommendations)
		require.Equal(t, 1, r.AnalysisPeriodHours)
		require.Equal(t, clock.Now().UTC(), r.GeneratedAt)
		require.False(t, r.CacheInfo.Cached)
		require.Equal(t, 120, r.CacheInfo.TTLSeconds)

		// Scoped; each scope and period is cached on its own.
		r, err = c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{Namespace: "shop", Name: "refund", PeriodHours: 1})
		require.NoError(t, err)
		require.False(t, r.CacheInfo.Cached)
		require.Equal(t, 1, r.ScopeSummary.TotalTasks)
		require.Equal(t, tasker.AnalyticsScope{Namespace: "shop", Name: "refund"}, r.Scope)
		require.Equal(t, tasker.Percentiles{P50: 40, P95: 40, P99: 40}, r.PerformanceDistribution.Percentiles)
		r, err = c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{Version: "1.0.0", PeriodHours: 1})
		require.NoError(t, err)
		require.Equal(t, 3, r.ScopeSummary.TotalTasks)
		r, err = c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{Version: "1.0.0", PeriodHours: 1})
		require.NoError(t, err)
		require.True(t, r.CacheInfo.Cached)

		// The default period is 24 hours: the pending task of t0−1h is in.
		r, err = c.AnalyticsBottlenecks(t.Context(), nil)
		require.NoError(t, err)
		require.Equal(t, 24, r.AnalysisPeriodHours)
		require.Equal(t, 5, r.ScopeSummary.TotalTasks)
	})
}

func TestAnalyticsEmptyDatabase(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		c, _, _ := analyticsEnv(t, false)
		p, err := c.AnalyticsPerformance(t.Context(), nil)
		require.NoError(t, err)
		require.Equal(t, tasker.SystemOverview{SystemHealthScore: 1}, p.SystemOverview)
		require.Equal(t, tasker.PeriodPerformance{}, p.PerformanceTrends.Last24Hours)
		b, err := c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{PeriodHours: 720})
		require.NoError(t, err)
		require.Equal(t, tasker.ScopeSummary{TimeSpanHours: 720}, b.ScopeSummary)
		require.Empty(t, b.Recommendations)
		// Every list is [] and every number 0 in JSON: no null, no NaN.
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "null")
		require.NotContains(t, string(raw), "NaN")
		require.Contains(t, string(raw), `"slowest_tasks":[]`)
		require.Contains(t, string(raw), `"percentiles":{"p50":0,"p95":0,"p99":0}`)
	})
}

func TestAnalyticsPeriodValidated(t *testing.T) {
	t.Parallel()
	c, _, _ := analyticsEnv(t, false)
	for _, h := range []int{-1, 721} {
		_, err := c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{PeriodHours: h})
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["period"], "from 1 to 720")
	}
	_, err := c.AnalyticsBottlenecks(t.Context(), &tasker.BottleneckQuery{Version: "\xff"})
	var ve *tasker.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Fields["version"], "not UTF-8")
}

func TestAnalyticsSeriesGolden(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		c, clock, t0 := analyticsEnv(t, true)
		// The clock is at t0+30min: 15-minute buckets from t0−15min; the
		// four seeded tasks finish between t0+10s and t0+3min40s.
		r, err := c.AnalyticsSeries(t.Context(), &tasker.SeriesQuery{PeriodHours: 1, Buckets: 4})
		require.NoError(t, err)
		require.Equal(t, 900, r.BucketSeconds)
		require.Equal(t, t0.Add(-15*time.Minute), r.Since)
		require.Equal(t, t0.Add(45*time.Minute), r.Until)
		require.Equal(t, 5000, r.SampleLimitPerBucket)
		require.Len(t, r.Buckets, 4)
		require.Equal(t, tasker.SeriesBucket{Start: t0, End: t0.Add(15 * time.Minute), TasksFinished: 4, TasksCompleted: 3, TasksFailed: 1,
			ErrorRate: 25, AnalyzedTasks: 4, StepsCompleted: 5, StepAttemptsFailed: 2,
			StepDuration: tasker.Distribution{Count: 5, Avg: 10, P50: 6, P95: 25.6, P99: 29.12, Max: 30}}, r.Buckets[1])
		for _, i := range []int{0, 2, 3} {
			b := r.Buckets[i]
			require.Equal(t, tasker.SeriesBucket{Start: t0.Add(time.Duration(i-1) * 15 * time.Minute), End: t0.Add(time.Duration(i) * 15 * time.Minute)}, b)
		}
		require.False(t, r.CacheInfo.Cached)
		require.Equal(t, 90, r.CacheInfo.TTLSeconds)

		// Minute buckets: each task in its own.
		m, err := c.AnalyticsSeries(t.Context(), &tasker.SeriesQuery{PeriodHours: 1, Buckets: 60, Namespace: "shop"})
		require.NoError(t, err)
		require.Equal(t, t0.Add(-29*time.Minute), m.Since)
		require.Equal(t, tasker.AnalyticsScope{Namespace: "shop"}, m.Scope)
		got := [][3]int{}
		for _, b := range m.Buckets[29:33] {
			got = append(got, [3]int{b.TasksCompleted, b.TasksFailed, b.StepsCompleted})
		}
		require.Equal(t, [][3]int{{1, 0, 2}, {1, 0, 2}, {0, 1, 0}, {1, 0, 1}}, got)
		require.Equal(t, 100.0, m.Buckets[31].ErrorRate)
		require.Equal(t, tasker.Distribution{Count: 2, Avg: 6, P50: 6, P95: 7.8, P99: 7.96, Max: 8}, m.Buckets[30].StepDuration)
		require.Equal(t, 60, m.CacheInfo.TTLSeconds, "at most a bucket")

		// Cached until the TTL passes, or a new bucket starts.
		again, err := c.AnalyticsSeries(t.Context(), &tasker.SeriesQuery{PeriodHours: 1, Buckets: 4})
		require.NoError(t, err)
		require.True(t, again.CacheInfo.Cached)
		clock.Advance(59 * time.Second)
		again, err = c.AnalyticsSeries(t.Context(), &tasker.SeriesQuery{PeriodHours: 1, Buckets: 60, Namespace: "shop"})
		require.NoError(t, err)
		require.True(t, again.CacheInfo.Cached)
		clock.Advance(time.Second)
		again, err = c.AnalyticsSeries(t.Context(), &tasker.SeriesQuery{PeriodHours: 1, Buckets: 60, Namespace: "shop"})
		require.NoError(t, err)
		require.False(t, again.CacheInfo.Cached, "the clock entered the next minute bucket")
		require.Equal(t, t0.Add(-28*time.Minute), again.Since)

		// The defaults: 24 hours in 24 buckets.
		def, err := c.AnalyticsSeries(t.Context(), nil)
		require.NoError(t, err)
		require.Equal(t, 24, def.PeriodHours)
		require.Len(t, def.Buckets, 24)
		require.Equal(t, 3, def.Buckets[23].TasksCompleted)
	})
}

func TestAnalyticsSeriesValidation(t *testing.T) {
	t.Parallel()
	c, _, _ := analyticsEnv(t, false)
	for _, tc := range []struct {
		q     tasker.SeriesQuery
		field string
		msg   string
	}{
		{tasker.SeriesQuery{PeriodHours: 721}, "period", "from 1 to 720"},
		{tasker.SeriesQuery{PeriodHours: -1}, "period", "from 1 to 720"},
		{tasker.SeriesQuery{Buckets: 241}, "buckets", "from 1 to 240"},
		{tasker.SeriesQuery{Buckets: -2}, "buckets", "from 1 to 240"},
		{tasker.SeriesQuery{PeriodHours: 24, Buckets: 7}, "buckets", "give a divisor of 1440, for example 24"},
		{tasker.SeriesQuery{Name: "a\x00b"}, "name", ""},
	} {
		_, err := c.AnalyticsSeries(t.Context(), &tc.q)
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve, "%+v", tc.q)
		require.Contains(t, ve.Fields, tc.field)
		require.Contains(t, ve.Fields[tc.field], tc.msg)
	}
}
