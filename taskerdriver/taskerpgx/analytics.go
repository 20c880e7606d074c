package taskerpgx

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

// pgDist returns the distribution columns (count, avg, p50, p95, p99, max)
// of the non-null values of v in src, grouped by keys, as a JSON array
// (keys empty: one JSON object).
func pgDist(src, v string, keys ...string) string {
	cols := `count(` + v + `) AS count, coalesce(avg(` + v + `), 0) AS avg,
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ` + v + `), 0) AS p50,
		coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY ` + v + `), 0) AS p95,
		coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY ` + v + `), 0) AS p99,
		coalesce(max(` + v + `), 0) AS max`
	if len(keys) == 0 {
		return `(SELECT row_to_json(d) FROM (SELECT ` + cols + ` FROM ` + src + ` WHERE ` + v + ` IS NOT NULL) d)`
	}
	k := strings.Join(keys, ", ")
	return `(SELECT coalesce(json_agg(d), '[]') FROM (SELECT ` + k + `, ` + cols + ` FROM ` + src + ` WHERE ` + v + ` IS NOT NULL GROUP BY ` + k + `) d)`
}

// secs is the seconds between two timestamptz expressions.
func secs(to, from string) string {
	return `extract(epoch FROM (` + to + ` - ` + from + `))::float8`
}

func (e *executor) AnalyticsWindow(ctx context.Context, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	q, args := analyticsSQL(p)
	doc, err := e.analyticsQuery(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("postgres: analytics: %w", err)
	}
	w, err := driverkit.DecodeAnalytics(doc, p)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return w, nil
}

// analyticsSQL returns the statement of AnalyticsWindow: one JSON document.
func analyticsSQL(p *taskerdriver.AnalyticsParams) (string, []any) {
	cond, args := driverkit.AnalyticsWhere(p, func(i int) string { return fmt.Sprintf("$%d", i) }, p.Since.UTC(), p.Until.UTC())
	args = append(args, driverkit.Limit(p.Limit, driverkit.AnalyticsDefaultLimit))
	limit := fmt.Sprintf("$%d", len(args))

	// w: the window's newest tasks; s: their steps, with their run time.
	// Every other table is read per task of w, by its task_id index: a
	// LATERAL subquery with OFFSET 0 (which the planner cannot flatten)
	// keeps the planner, whose estimates of CTE joins are far off, from
	// hashing a whole table instead.
	with := `WITH w AS MATERIALIZED (
		SELECT task_id, namespace, name, version, state, created_at, completed_at,
			CASE WHEN state = 'complete' THEN ` + secs("completed_at", "created_at") + ` END AS duration
		FROM tasker_tasks WHERE ` + cond + ` ORDER BY created_at DESC, task_id DESC LIMIT ` + limit + `),
	s AS MATERIALIZED (
		SELECT st.workflow_step_id, st.task_id, w.namespace, w.name, w.version, st.name AS step, st.state, st.attempts,
			st.retryable, st.blocked, st.pending_parents, st.created_at,
			CASE WHEN st.state = 'complete' THEN ` + secs("st.processed_at", "st.last_attempted_at") + ` END AS duration
		FROM w CROSS JOIN LATERAL (SELECT * FROM tasker_workflow_steps st WHERE st.task_id = w.task_id OFFSET 0) st)`
	fields := []string{
		`'tasks', (SELECT count(*) FROM tasker_tasks WHERE ` + cond + `)`,
		`'analyzed', (SELECT count(*) FROM w)`,
		`'task_states', (SELECT coalesce(json_object_agg(state, n), '{}') FROM (SELECT state, count(*) AS n FROM w GROUP BY state) x)`,
		`'step_states', (SELECT coalesce(json_object_agg(state, n), '{}') FROM (SELECT state, count(*) AS n FROM s GROUP BY state) x)`,
		`'task_types', (SELECT count(*) FROM (SELECT DISTINCT namespace, name, version FROM w) x)`,
		`'task_duration', ` + pgDist("w", "duration"),
		`'step_duration', ` + pgDist("s", "duration"),
		`'duration_buckets', (SELECT json_build_array(` + strings.Join(driverkit.AnalyticsBuckets(p, "duration"), ", ") + `) FROM w)`,
	}
	if p.Detail {
		// tr: each step's first start, first completion and failed
		// attempts, from its transitions; par: when its parents were all
		// done; sx: the steps with their waits.
		with += `,
	tr AS MATERIALIZED (
		SELECT ` + driverkit.AnalyticsStepTimes + `
		FROM w CROSS JOIN LATERAL (SELECT * FROM tasker_workflow_step_transitions tt WHERE tt.task_id = w.task_id OFFSET 0) tt
		GROUP BY tt.workflow_step_id),
	ed AS MATERIALIZED (
		SELECT e.from_step_id, e.to_step_id
		FROM w CROSS JOIN LATERAL (SELECT * FROM tasker_workflow_step_edges e WHERE e.task_id = w.task_id OFFSET 0) e),
	par AS (
		SELECT ed.to_step_id, CASE WHEN count(tr.done_at) = count(*) THEN max(tr.done_at) END AS ready_at
		FROM ed LEFT JOIN tr ON tr.workflow_step_id = ed.from_step_id GROUP BY ed.to_step_id),
	` + driverkit.AnalyticsStepWaits(secs)
		args = append(args, driverkit.Limit(p.Top, driverkit.AnalyticsDefaultTop))
		top := fmt.Sprintf("$%d", len(args))
		keys := []string{"namespace", "name", "version"}
		stepKeys := []string{"namespace", "name", "version", "step"}
		fields = append(fields,
			`'template_counts', (SELECT coalesce(json_agg(x ORDER BY namespace, name, version), '[]') FROM (
				SELECT namespace, name, version, count(*) AS tasks, count(*) FILTER (WHERE state = 'complete') AS complete,
					count(*) FILTER (WHERE state = 'error') AS error FROM w GROUP BY namespace, name, version) x)`,
			`'template_durations', `+pgDist("w", "duration", keys...),
			`'step_counts', (SELECT coalesce(json_agg(x ORDER BY namespace, name, version, step), '[]') FROM (
				SELECT namespace, name, version, step, count(*) AS steps, sum(failed) AS failed_attempts
				FROM sx GROUP BY namespace, name, version, step) x)`,
			`'step_durations', `+pgDist("sx", "duration", stepKeys...),
			`'step_waits', `+pgDist("sx", "dep_wait", stepKeys...),
			// The step counts of the slowest tasks only: the top is chosen
			// first, then joined to its steps.
			`'slowest_tasks', (SELECT coalesce(json_agg(x ORDER BY duration DESC, task_id), '[]') FROM (
				SELECT top.task_id, top.namespace, top.name, top.version, top.state, top.duration,
					count(s.task_id) AS steps, count(*) FILTER (WHERE s.state = 'complete') AS complete_steps,
					count(*) FILTER (WHERE s.state = 'error') AS error_steps
				FROM (SELECT task_id, namespace, name, version, state, `+secs("completed_at", "created_at")+` AS duration FROM w
					WHERE state IN ('complete', 'error') AND completed_at IS NOT NULL
					ORDER BY duration DESC, task_id LIMIT `+top+`) top
				LEFT JOIN s ON s.task_id = top.task_id
				GROUP BY top.task_id, top.namespace, top.name, top.version, top.state, top.duration) x)`,
			`'slowest_steps', (SELECT coalesce(json_agg(x ORDER BY duration DESC, step_id), '[]') FROM (
				SELECT workflow_step_id AS step_id, task_id, namespace, name, version, step, duration, attempts, retryable
				FROM s WHERE duration IS NOT NULL ORDER BY duration DESC, workflow_step_id LIMIT `+top+`) x)`,
			`'error_kinds', (SELECT coalesce(json_object_agg(kind, n), '{}') FROM (
				SELECT coalesce(t.metadata->>'error_kind', 'unknown') AS kind, count(*) AS n
				FROM w CROSS JOIN LATERAL (SELECT * FROM tasker_workflow_step_transitions t WHERE t.task_id = w.task_id OFFSET 0) t
				WHERE t.from_state = 'in_progress' AND t.to_state = 'error' GROUP BY 1) x)`,
			`'dependency_wait', `+pgDist("sx", "dep_wait"),
			`'queue_wait', `+pgDist("sx", "queue_wait"),
		)
		fields = append(fields, driverkit.AnalyticsRetryCounts...)
	}
	return with + `
	SELECT json_build_object(` + strings.Join(fields, ",\n") + `)::text`, args
}

// analyticsQuery runs the analytics statement, outside a transaction in a
// read-only one without JIT and without nested loops. The planner's
// estimates of the joins of CTEs are far off: too high, and compiling the
// plan (seconds) would cost more than running it; or too low, and a nested
// loop would rescan a CTE for every row of another. The per-task index
// lookups (LATERAL ... OFFSET 0) are nested loops still: nothing else can
// run them.
func (e *executor) analyticsQuery(ctx context.Context, q string, args []any) ([]byte, error) {
	var doc []byte
	if e.tx != nil {
		return doc, e.q.QueryRow(ctx, q, args...).Scan(&doc)
	}
	err := pgx.BeginTxFunc(ctx, e.d.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off; SET LOCAL enable_nestloop = off`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, q, args...).Scan(&doc)
	})
	return doc, err
}

func (e *executor) AnalyticsOverview(ctx context.Context) (*taskerdriver.AnalyticsOverview, error) {
	return driverkit.AnalyticsOverview("postgres", e.q.QueryRow(ctx, overviewSQL))
}

// overviewSQL is the statement of AnalyticsOverview. The distinct templates
// are a loose index scan of tasker_tasks_named (one index descent per
// template, not a read of every task).
const overviewSQL = `WITH RECURSIVE t AS (
		(SELECT namespace, name, version FROM tasker_tasks ORDER BY namespace, name, version LIMIT 1)
		UNION ALL
		SELECT n.namespace, n.name, n.version FROM t CROSS JOIN LATERAL (
			SELECT namespace, name, version FROM tasker_tasks
			WHERE (namespace, name, version) > (t.namespace, t.name, t.version)
			ORDER BY namespace, name, version LIMIT 1) n)
	SELECT (SELECT count(*) FROM tasker_tasks WHERE state IN ('pending', 'in_progress')),
		(SELECT count(DISTINCT namespace) FROM t), (SELECT count(*) FROM t)`

func (e *executor) AnalyticsSeries(ctx context.Context, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	if p.Buckets <= 0 || p.Width <= 0 {
		return nil, fmt.Errorf("postgres: analytics series: %d buckets of %s: both must be positive", p.Buckets, p.Width)
	}
	q, args := seriesSQL(p)
	doc, err := e.analyticsQuery(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("postgres: analytics series: %w", err)
	}
	out, err := driverkit.DecodeAnalyticsSeries(doc, p)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}

// seriesSQL returns the statement of AnalyticsSeries: one JSON document.
// b: the buckets; c: each bucket's finished tasks counted, one index range
// of tasker_tasks_finished each; w: each bucket's last Limit finished
// tasks; s: their steps, and f: their failed attempts, read per task by
// the task_id indexes (LATERAL ... OFFSET 0, as analyticsSQL).
func seriesSQL(p *taskerdriver.AnalyticsSeriesParams) (string, []any) {
	args := []any{p.Since.UTC(), p.Width.Seconds(), p.Buckets, driverkit.Limit(p.Limit, driverkit.AnalyticsSeriesDefaultLimit)}
	scope, more := driverkit.AnalyticsSeriesScope(p, func(i int) string { return fmt.Sprintf("$%d", i) }, len(args))
	args = append(args, more...)
	q := `WITH b AS MATERIALIZED (
		SELECT bucket, $1::timestamptz + make_interval(secs => bucket * $2::float8) AS lo,
			$1::timestamptz + make_interval(secs => (bucket + 1) * $2::float8) AS hi
		FROM generate_series(0, $3::int - 1) bucket),
	c AS MATERIALIZED (
		SELECT b.bucket, c.finished, c.complete, c.error FROM b CROSS JOIN LATERAL (
			SELECT count(*) AS finished, count(*) FILTER (WHERE state = 'complete') AS complete,
				count(*) FILTER (WHERE state = 'error') AS error
			FROM tasker_tasks WHERE completed_at >= b.lo AND completed_at < b.hi` + scope + ` OFFSET 0) c),
	w AS MATERIALIZED (
		SELECT b.bucket, t.task_id FROM b CROSS JOIN LATERAL (
			SELECT task_id FROM tasker_tasks WHERE completed_at >= b.lo AND completed_at < b.hi` + scope + `
			ORDER BY completed_at DESC, task_id DESC LIMIT $4 OFFSET 0) t),
	s AS MATERIALIZED (
		SELECT w.bucket, st.state, CASE WHEN st.state = 'complete' THEN ` + secs("st.processed_at", "st.last_attempted_at") + ` END AS duration
		FROM w CROSS JOIN LATERAL (SELECT * FROM tasker_workflow_steps st WHERE st.task_id = w.task_id OFFSET 0) st),
	f AS (
		SELECT w.bucket, count(*) AS failed
		FROM w CROSS JOIN LATERAL (SELECT 1 FROM tasker_workflow_step_transitions tt
			WHERE tt.task_id = w.task_id AND tt.from_state = 'in_progress' AND tt.to_state = 'error' OFFSET 0) tt
		GROUP BY w.bucket)
	SELECT json_build_object(
		'buckets', (SELECT coalesce(json_agg(x ORDER BY bucket), '[]') FROM (
			SELECT c.bucket, c.finished, c.complete, c.error, coalesce(wa.n, 0) AS analyzed,
				coalesce(sa.n, 0) AS steps_complete, coalesce(f.failed, 0) AS failed_attempts
			FROM c LEFT JOIN (SELECT bucket, count(*) AS n FROM w GROUP BY bucket) wa ON wa.bucket = c.bucket
			LEFT JOIN (SELECT bucket, count(*) AS n FROM s WHERE state = 'complete' GROUP BY bucket) sa ON sa.bucket = c.bucket
			LEFT JOIN f ON f.bucket = c.bucket) x),
		'durations', ` + pgDist("s", "duration", "bucket") + `)::text`
	return q, args
}
