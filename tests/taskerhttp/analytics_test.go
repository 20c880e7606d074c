package taskerhttp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver/taskerdrivertest"
	"github.com/tasker-go/tasker/taskerhttp"
)

// newAnalyticsEnv serves, with API-token authentication, a client whose
// clock is at t0+30min on a database with the seeded analytics history
// (taskerdrivertest.SeedAnalytics at t0).
func newAnalyticsEnv(t *testing.T) (*env, *testdb.Clock) {
	t.Helper()
	d := openTestDriver(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := testdb.NewClock(t0.Add(30 * time.Minute))
	c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: testRegistry(t), Now: clock.Now})
	require.NoError(t, err)
	taskerdrivertest.SeedAnalytics(t.Context(), t, d.Executor(), t0)
	return newEnvWithClient(t, c, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil)}), clock
}

func TestAnalyticsRoutes(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e, clock := newAnalyticsEnv(t)
		ok := "Bearer " + e.token(t, "analyst", "tasker.analytics:index")
		other := "Bearer " + e.token(t, "reader", "tasker.task:index")

		for _, path := range []string{"/tasker/analytics/performance", "/tasker/analytics/bottlenecks?period=1"} {
			require.Equal(t, "unauthorized", e.do("GET", path, nil).want(t, http.StatusUnauthorized).errorCode(t))
			res := e.do("GET", path, nil, "Authorization", other).want(t, http.StatusForbidden)
			require.Contains(t, string(res.Body), "tasker.analytics:index")
		}

		perf := e.do("GET", "/tasker/analytics/performance", nil, "Authorization", ok).want(t, http.StatusOK)
		require.Equal(t, "no-cache, no-store, must-revalidate", perf.Header.Get("Cache-Control"))
		m := perf.json(t)
		require.Equal(t, map[string]any{"active_tasks": 2.0, "total_namespaces": 2.0, "unique_task_types": 3.0, "system_health_score": 0.75},
			m["system_overview"])
		hour := m["performance_trends"].(map[string]any)["last_hour"].(map[string]any)
		require.Equal(t, 4.0, hour["task_throughput"])
		require.Equal(t, 75.0, hour["completion_rate"])
		require.Equal(t, 22.667, hour["avg_task_duration"])
		require.Equal(t, map[string]any{"count": 3.0, "avg": 22.667, "p50": 18.0, "p95": 37.8, "p99": 39.56, "max": 40.0}, hour["task_duration"])
		require.Equal(t, false, m["cache_info"].(map[string]any)["cached"])
		require.Equal(t, clock.Now().UTC().Format(time.RFC3339), m["generated_at"])
		again := e.do("GET", "/tasker/analytics/performance", nil, "Authorization", ok).want(t, http.StatusOK).json(t)
		require.Equal(t, true, again["cache_info"].(map[string]any)["cached"])

		b := e.do("GET", "/tasker/analytics/bottlenecks?namespace=shop&name=order&version=1.0.0&period=1", nil, "Authorization", ok).
			want(t, http.StatusOK).json(t)
		require.Equal(t, map[string]any{"namespace": "shop", "name": "order", "version": "1.0.0"}, b["scope"])
		require.Equal(t, 1.0, b["analysis_period_hours"])
		require.Equal(t, 3.0, b["scope_summary"].(map[string]any)["total_tasks"])
		require.Equal(t, map[string]any{"p50": 14.0, "p95": 17.6, "p99": 17.92}, b["performance_distribution"].(map[string]any)["percentiles"])
		errs := b["bottleneck_analysis"].(map[string]any)["error_patterns"].(map[string]any)
		require.Equal(t, 2.0, errs["total_errors"])
		require.Equal(t, 50.0, errs["retry_success_rate"])
		dep := b["bottleneck_analysis"].(map[string]any)["dependency_bottlenecks"].(map[string]any)
		require.Equal(t, []any{"b"}, dep["most_blocked_steps"])
		require.Equal(t, 5.0, dep["avg_wait_time"])
		require.LessOrEqual(t, len(b["recommendations"].([]any)), 5)

		def := e.do("GET", "/tasker/analytics/bottlenecks", nil, "Authorization", ok).want(t, http.StatusOK).json(t)
		require.Equal(t, 24.0, def["analysis_period_hours"])
		require.Equal(t, 5.0, def["scope_summary"].(map[string]any)["total_tasks"])

		for _, bad := range []string{"0", "721", "-3", "24h", "1.5"} {
			res := e.do("GET", "/tasker/analytics/bottlenecks?period="+bad, nil, "Authorization", ok).want(t, http.StatusBadRequest)
			require.Equal(t, "invalid_parameter", res.errorCode(t))
			require.Contains(t, res.errorFields(t), "period")
			require.Contains(t, res.errorFields(t)["period"], "from 1 to 720")
		}
	})
}

func TestAnalyticsSeriesRoute(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e, clock := newAnalyticsEnv(t)
		ok := "Bearer " + e.token(t, "analyst", "tasker.analytics:index")
		other := "Bearer " + e.token(t, "reader", "tasker.task:index")
		const path = "/tasker/analytics/series?period=1&buckets=4"
		require.Equal(t, "unauthorized", e.do("GET", path, nil).want(t, http.StatusUnauthorized).errorCode(t))
		res := e.do("GET", path, nil, "Authorization", other).want(t, http.StatusForbidden)
		require.Contains(t, string(res.Body), "tasker.analytics:index")

		// The clock is at t0+30min: 15-minute buckets from t0−15min; the
		// seeded tasks finish in the second.
		res = e.do("GET", path, nil, "Authorization", ok).want(t, http.StatusOK)
		require.Equal(t, "no-cache, no-store, must-revalidate", res.Header.Get("Cache-Control"))
		m := res.json(t)
		t0 := clock.Now().Add(-30 * time.Minute).UTC()
		require.Equal(t, 1.0, m["period_hours"])
		require.Equal(t, 900.0, m["bucket_seconds"])
		require.Equal(t, t0.Add(-15*time.Minute).Format(time.RFC3339), m["since"])
		require.Equal(t, t0.Add(45*time.Minute).Format(time.RFC3339), m["until"])
		require.Equal(t, 5000.0, m["sample_limit_per_bucket"])
		buckets := m["buckets"].([]any)
		require.Len(t, buckets, 4)
		require.Equal(t, map[string]any{"start": t0.Format(time.RFC3339), "end": t0.Add(15 * time.Minute).Format(time.RFC3339),
			"tasks_finished": 4.0, "tasks_completed": 3.0, "tasks_failed": 1.0, "error_rate": 25.0, "analyzed_tasks": 4.0,
			"steps_completed": 5.0, "step_attempts_failed": 2.0,
			"step_duration": map[string]any{"count": 5.0, "avg": 10.0, "p50": 6.0, "p95": 25.6, "p99": 29.12, "max": 30.0}}, buckets[1])
		require.Equal(t, 0.0, buckets[0].(map[string]any)["tasks_finished"])
		require.Equal(t, false, m["cache_info"].(map[string]any)["cached"])
		require.Equal(t, true, e.do("GET", path, nil, "Authorization", ok).want(t, http.StatusOK).json(t)["cache_info"].(map[string]any)["cached"])

		scoped := e.do("GET", "/tasker/analytics/series?namespace=shop&name=refund&version=2.0.0&period=1&buckets=1", nil, "Authorization", ok).
			want(t, http.StatusOK).json(t)
		require.Equal(t, map[string]any{"namespace": "shop", "name": "refund", "version": "2.0.0"}, scoped["scope"])
		require.Equal(t, 1.0, scoped["buckets"].([]any)[0].(map[string]any)["tasks_completed"])

		def := e.do("GET", "/tasker/analytics/series", nil, "Authorization", ok).want(t, http.StatusOK).json(t)
		require.Equal(t, 24.0, def["period_hours"])
		require.Len(t, def["buckets"].([]any), 24)

		for _, bad := range []struct{ query, field, says string }{
			{"period=0", "period", "from 1 to 720"},
			{"period=721", "period", "from 1 to 720"},
			{"period=1.5", "period", "period=24"},
			{"buckets=0", "buckets", "from 1 to 240"},
			{"buckets=241", "buckets", "from 1 to 240"},
			{"buckets=x", "buckets", "buckets=24"},
			{"period=24&buckets=7", "buckets", "give a divisor of 1440, for example 24"},
			{"period=1&buckets=7", "buckets", "give a divisor of 60"},
		} {
			res := e.do("GET", "/tasker/analytics/series?"+bad.query, nil, "Authorization", ok).want(t, http.StatusBadRequest)
			require.Equal(t, "invalid_parameter", res.errorCode(t), bad.query)
			require.Contains(t, res.errorFields(t), bad.field, bad.query)
			require.Contains(t, res.errorFields(t)[bad.field], bad.says, bad.query)
		}
	})
}
