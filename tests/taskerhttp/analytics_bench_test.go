package taskerhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerhttp"
)

// BenchmarkAnalyticsRoutes measures GET /tasker/analytics/performance,
// /bottlenecks and /series on PostgreSQL with 1,000,000 tasks (4-step diamonds, 4M
// steps, 4M edges, about 15M transitions) created over 30 days, through the
// route's handler, every request a cache miss (the injected clock moves past
// the cache's life between requests). Gated:
//
//	TASKER_BENCH_ANALYTICS=1 TASKER_TEST_DATABASE_URL=postgres://... \
//	  go test ./taskerhttp -run '^$' -bench BenchmarkAnalyticsRoutes -benchtime 20x   # in tests/
//
// The data lives in the database tasker_bench_analytics (or
// TASKER_BENCH_ANALYTICS_URL), seeded once with generate_series and kept
// for the next run; TASKER_BENCH_ANALYTICS_TASKS changes the size.
func BenchmarkAnalyticsRoutes(b *testing.B) {
	if os.Getenv("TASKER_BENCH_ANALYTICS") != "1" {
		b.Skip("set TASKER_BENCH_ANALYTICS=1 (and TASKER_TEST_DATABASE_URL) to run the 1,000,000-task analytics benchmark")
	}
	ctx := context.Background()
	n := 1_000_000
	if v := os.Getenv("TASKER_BENCH_ANALYTICS_TASKS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	dsn := benchAnalyticsURL(b)
	d, err := taskerpgx.Open(ctx, dsn)
	require.NoError(b, err)
	b.Cleanup(func() { _ = d.Close() })
	require.NoError(b, d.Migrate(ctx))
	end := seedAnalyticsBench(b, d, n)

	clock := testdb.NewClock(end.Add(time.Minute))
	c, err := tasker.NewClient(ctx, d, &tasker.Config{Now: clock.Now})
	require.NoError(b, err)
	h := taskerhttp.NewHandler(c, nil)
	for _, bc := range []struct{ name, path string }{
		{"performance", "/tasker/analytics/performance"},
		{"bottlenecks_24h", "/tasker/analytics/bottlenecks?period=24"},
		{"bottlenecks_24h_one_template", "/tasker/analytics/bottlenecks?namespace=ns1&name=tmpl1&version=1.0.0&period=24"},
		{"bottlenecks_720h", "/tasker/analytics/bottlenecks?period=720"},
		// The dashboard's overview charts (1 h, 24 h, 7 d), 30 days, and
		// one template.
		{"series_1h_60", "/tasker/analytics/series?period=1&buckets=60"},
		{"series_24h_48", "/tasker/analytics/series?period=24&buckets=48"},
		{"series_168h_56", "/tasker/analytics/series?period=168&buckets=56"},
		{"series_720h_60", "/tasker/analytics/series?period=720&buckets=60"},
		{"series_168h_56_one_template", "/tasker/analytics/series?namespace=ns1&name=tmpl1&version=1.0.0&period=168&buckets=56"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				clock.Advance(3 * time.Minute) // past both caches' life
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, localRequest(http.MethodGet, bc.path))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", bc.path, rec.Code, rec.Body)
				}
			}
		})
	}
}

// benchAnalyticsURL returns the benchmark database's URL, creating the
// database when it does not exist.
func benchAnalyticsURL(b *testing.B) string {
	if v := os.Getenv("TASKER_BENCH_ANALYTICS_URL"); v != "" {
		return v
	}
	base := os.Getenv("TASKER_TEST_DATABASE_URL")
	if base == "" {
		b.Skip("set TASKER_TEST_DATABASE_URL or TASKER_BENCH_ANALYTICS_URL")
	}
	conn, err := pgx.Connect(context.Background(), base)
	require.NoError(b, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var exists bool
	require.NoError(b, conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tasker_bench_analytics')`).Scan(&exists))
	if !exists {
		_, err = conn.Exec(context.Background(), `CREATE DATABASE tasker_bench_analytics`)
		require.NoError(b, err)
	}
	u, err := url.Parse(base)
	require.NoError(b, err)
	u.Path = "/tasker_bench_analytics"
	return u.String()
}

// seedAnalyticsBench fills the database with n diamonds created evenly over
// the 30 days before 2026-12-01 (unless it holds exactly them already) and
// returns that end. Task i is of template ns(i%3).tmpl(i%10)@1.0.0; 5 % of
// the tasks end in error (b failed 3 times, d waits), 1 % are in progress
// (b running, d waits), 10 % of the complete ones retried b once; a task
// takes 1 to 120 s, its steps a quarter to a half of it.
func seedAnalyticsBench(b *testing.B, d *taskerpgx.Driver, n int) time.Time {
	ctx := context.Background()
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// The task transitions are written last: a seed that stopped half-way
	// has none.
	var have int
	var done bool
	require.NoError(b, d.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM tasker_tasks), EXISTS (SELECT 1 FROM tasker_task_transitions)`).Scan(&have, &done))
	if have == n && done {
		return end
	}
	start := time.Now()
	stmts := []string{
		`TRUNCATE tasker_tasks, tasker_workflow_steps, tasker_workflow_step_edges, tasker_task_transitions, tasker_workflow_step_transitions CASCADE`,
		`SET synchronous_commit = off`,
		`SET maintenance_work_mem = '256MB'`,
		// The tasks.
		`INSERT INTO tasker_tasks (task_id, namespace, name, version, state, identity_hash, transition_seq, requested_at, created_at, updated_at, completed_at)
		SELECT i, 'ns' || (i % 3), 'tmpl' || (i % 10), '1.0.0',
			CASE WHEN i % 20 = 0 THEN 'error' WHEN i % 100 = 1 THEN 'in_progress' ELSE 'complete' END,
			'bench-' || i, 3, c, c, c + dur, CASE WHEN i % 100 = 1 THEN NULL ELSE c + dur END
		FROM (SELECT i, $1::timestamptz - make_interval(secs => ($2::bigint - i) * 2592000.0 / $2::bigint) AS c,
			make_interval(secs => 1 + (i * 7919) % 120) AS dur FROM generate_series(1, $2::bigint) i) x`,
		`SELECT setval('tasker_tasks_task_id_seq', $2::bigint)`,
		// Their steps: a → b, c → d. k is the position; f0 and f1 the
		// fractions of the task's duration where the step starts and ends.
		`INSERT INTO tasker_workflow_steps (workflow_step_id, task_id, name, position, state, handler, attempts, retry_limit, retryable,
			blocked, pending_parents, last_attempted_at, processed_at, transition_seq, created_at, updated_at)
		SELECT (t.task_id - 1) * 4 + k + 1, t.task_id, s.name, k, st.state, 'h', st.attempts, 3, true,
			st.state = 'error', CASE WHEN st.state = 'pending' THEN 1 ELSE 0 END,
			CASE WHEN st.state <> 'pending' THEN t.created_at + (t.updated_at - t.created_at) * f0 END,
			CASE WHEN st.state = 'complete' THEN t.created_at + (t.updated_at - t.created_at) * f1 END,
			1, t.created_at, t.updated_at
		FROM tasker_tasks t
		CROSS JOIN (VALUES (0, 'a', 0.0, 0.25), (1, 'b', 0.3, 0.7), (2, 'c', 0.3, 0.6), (3, 'd', 0.75, 1.0)) s(k, name, f0, f1)
		CROSS JOIN LATERAL (SELECT CASE
				WHEN t.state = 'complete' OR s.k IN (0, 2) THEN 'complete'
				WHEN s.k = 3 THEN 'pending'
				WHEN t.state = 'error' THEN 'error' ELSE 'in_progress' END AS state,
			CASE WHEN s.k = 1 AND t.state = 'error' THEN 3 WHEN s.k = 1 AND t.state = 'complete' AND t.task_id % 10 = 3 THEN 2
				WHEN s.k = 3 AND t.state <> 'complete' THEN 0 ELSE 1 END AS attempts) st`,
		`SELECT setval('tasker_workflow_steps_workflow_step_id_seq', $2::bigint * 4)`,
		`INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, task_id)
		SELECT (i - 1) * 4 + e.f, (i - 1) * 4 + e.t, i FROM generate_series(1, $2::bigint) i
		CROSS JOIN (VALUES (1, 2), (1, 3), (2, 4), (3, 4)) e(f, t)`,
		// Every attempt's transitions: pending → in_progress, then → error
		// and error → pending for each failed attempt but the last, and the
		// last attempt's outcome.
		`INSERT INTO tasker_workflow_step_transitions (workflow_step_id, task_id, from_state, to_state, metadata, sort_key, created_at)
		SELECT s.workflow_step_id, s.task_id, v.from_state, v.to_state, v.meta, v.sort_key, v.at
		FROM tasker_workflow_steps s CROSS JOIN LATERAL (
			SELECT NULL AS from_state, 'pending' AS to_state, '{}'::jsonb AS meta, 0 AS sort_key, s.created_at AS at
			UNION ALL SELECT 'pending', 'in_progress', '{}', (j * 3 - 2) * 10, s.last_attempted_at FROM generate_series(1, s.attempts) j
			UNION ALL SELECT 'in_progress', 'error', '{"reason":"attempt_failed","error_kind":"retryable"}', (j * 3 - 1) * 10, s.last_attempted_at
				FROM generate_series(1, s.attempts - 1) j
			UNION ALL SELECT 'error', 'pending', '{}', j * 30, s.last_attempted_at FROM generate_series(1, s.attempts - 1) j
			UNION ALL SELECT 'in_progress', s.state, CASE WHEN s.state = 'error' THEN '{"reason":"attempt_failed","error_kind":"permanent"}'::jsonb ELSE '{}' END,
				(s.attempts * 3 - 1) * 10, coalesce(s.processed_at, s.updated_at) WHERE s.state IN ('complete', 'error')) v`,
		`INSERT INTO tasker_task_transitions (task_id, from_state, to_state, sort_key, created_at)
		SELECT t.task_id, v.f, v.t, v.k, v.at FROM tasker_tasks t
		CROSS JOIN LATERAL (VALUES (NULL, 'pending', 0, t.created_at), ('pending', 'in_progress', 10, t.created_at),
			('in_progress', t.state, 20, t.updated_at)) v(f, t, k, at)
		WHERE v.k < 20 OR t.state <> 'in_progress'`,
		`VACUUM ANALYZE`,
	}
	conn, err := d.Pool().Acquire(ctx)
	require.NoError(b, err)
	defer conn.Release()
	for _, s := range stmts {
		t0 := time.Now()
		var err error
		switch {
		case strings.Contains(s, "$1"):
			_, err = conn.Exec(ctx, s, end, n)
		case strings.Contains(s, "$2"):
			_, err = conn.Exec(ctx, strings.ReplaceAll(s, "$2", "$1"), n)
		default:
			_, err = conn.Exec(ctx, s)
		}
		require.NoError(b, err, s)
		b.Logf("seed: %.60s… %s", s, time.Since(t0).Round(time.Millisecond))
	}
	b.Logf("seeded %d tasks in %s", n, time.Since(start).Round(time.Second))
	fmt.Fprintf(os.Stderr, "seeded %d tasks in %s\n", n, time.Since(start).Round(time.Second))
	return end
}
