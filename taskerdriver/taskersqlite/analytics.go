package taskersqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

// liteDist returns the distribution (count, avg, p50, p95, p99, max) of
// the non-null values of v in src, grouped by keys, as a JSON array (keys
// empty: one JSON object). SQLite has no percentile function: each value's
// rank (row_number over the ordered values) picks the two values around
// p·(n−1), interpolated as PostgreSQL's percentile_cont does.
func liteDist(src, v string, keys ...string) string {
	part, kcols, kpairs := "", "", ""
	if len(keys) > 0 {
		part = "PARTITION BY " + strings.Join(keys, ", ")
		kcols = strings.Join(keys, ", ") + ", "
		for _, k := range keys {
			kpairs += "'" + k + "', " + k + ", "
		}
	}
	inner := `SELECT ` + kcols + v + ` AS v, row_number() OVER (` + part + ` ORDER BY ` + v + `) - 1 AS i,
		count(*) OVER (` + part + `) AS n FROM ` + src + ` WHERE ` + v + ` IS NOT NULL`
	pct := func(p string) string {
		lo := "CAST(" + p + " * (n - 1) AS INTEGER)"
		at := "max(CASE WHEN i = " + lo + " THEN v END)"
		next := "max(CASE WHEN i = " + lo + " + 1 THEN v END)"
		frac := "(" + p + " * (max(n) - 1) - CAST(" + p + " * (max(n) - 1) AS INTEGER))"
		return "coalesce(" + at + " + " + frac + " * (coalesce(" + next + ", " + at + ") - " + at + "), 0)"
	}
	obj := `json_object(` + kpairs + `'count', count(*), 'avg', coalesce(avg(v), 0), 'p50', ` + pct("0.5") +
		`, 'p95', ` + pct("0.95") + `, 'p99', ` + pct("0.99") + `, 'max', coalesce(max(v), 0))`
	if len(keys) == 0 {
		return `json((SELECT ` + obj + ` FROM (` + inner + `)))`
	}
	return `json((SELECT coalesce(json_group_array(json(o)), '[]') FROM (SELECT ` + obj + ` AS o FROM (` + inner + `) GROUP BY ` +
		strings.Join(keys, ", ") + ` ORDER BY ` + strings.Join(keys, ", ") + `)))`
}

// secs is the seconds between two microsecond columns.
func secs(to, from string) string { return `((` + to + ` - ` + from + `) / 1e6)` }

func (e *executor) AnalyticsWindow(ctx context.Context, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	q, args := analyticsSQL(p)
	var doc string
	if err := e.r.QueryRowContext(ctx, q, args...).Scan(&doc); err != nil {
		return nil, fmt.Errorf("sqlite: analytics: %w", err)
	}
	w, err := driverkit.DecodeAnalytics([]byte(doc), p)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return w, nil
}

// analyticsSQL returns the statement of AnalyticsWindow: one JSON document.
func analyticsSQL(p *taskerdriver.AnalyticsParams) (string, []any) {
	cond, args := driverkit.AnalyticsWhere(p, func(int) string { return "?" }, us(p.Since), us(p.Until))
	limit := driverkit.Limit(p.Limit, driverkit.AnalyticsDefaultLimit)
	top := driverkit.Limit(p.Top, driverkit.AnalyticsDefaultTop)
	// The window's conditions appear twice (the count, and w): their
	// arguments too.
	args = append(append(args, args...), limit)

	// The window's tasks drive every join (CROSS JOIN keeps them the
	// outer loop in SQLite): the other tables are searched by task_id.
	with := `WITH w AS MATERIALIZED (
		SELECT task_id, namespace, name, version, state, created_at, completed_at,
			CASE WHEN state = 'complete' THEN ` + secs("completed_at", "created_at") + ` END AS duration
		FROM tasker_tasks WHERE ` + cond + ` ORDER BY created_at DESC, task_id DESC LIMIT ?),
	s AS MATERIALIZED (
		SELECT st.workflow_step_id, st.task_id, w.namespace, w.name, w.version, st.name AS step, st.state, st.attempts,
			st.retryable, st.blocked, st.pending_parents, st.created_at,
			CASE WHEN st.state = 'complete' THEN ` + secs("st.processed_at", "st.last_attempted_at") + ` END AS duration
		FROM w CROSS JOIN tasker_workflow_steps st ON st.task_id = w.task_id)`
	// The count of the whole window comes first in the arguments: it is
	// a CTE too.
	with = strings.Replace(with, "WITH ", "WITH total AS (SELECT count(*) AS n FROM tasker_tasks WHERE "+cond+"),\n\t", 1)
	fields := []string{
		`'tasks', (SELECT n FROM total)`,
		`'analyzed', (SELECT count(*) FROM w)`,
		`'task_states', json((SELECT coalesce(json_group_object(state, n), '{}') FROM (SELECT state, count(*) AS n FROM w GROUP BY state)))`,
		`'step_states', json((SELECT coalesce(json_group_object(state, n), '{}') FROM (SELECT state, count(*) AS n FROM s GROUP BY state)))`,
		`'task_types', (SELECT count(*) FROM (SELECT DISTINCT namespace, name, version FROM w))`,
		`'task_duration', ` + liteDist("w", "duration"),
		`'step_duration', ` + liteDist("s", "duration"),
		`'duration_buckets', json((SELECT json_array(` + strings.Join(driverkit.AnalyticsBuckets(p, "duration"), ", ") + `) FROM w))`,
	}
	if p.Detail {
		with += `,
	tr AS MATERIALIZED (
		SELECT ` + driverkit.AnalyticsStepTimes + `
		FROM w CROSS JOIN tasker_workflow_step_transitions tt ON tt.task_id = w.task_id GROUP BY tt.workflow_step_id),
	par AS (
		SELECT ed.to_step_id, CASE WHEN count(tr.done_at) = count(*) THEN max(tr.done_at) END AS ready_at
		FROM w CROSS JOIN tasker_workflow_step_edges ed ON ed.task_id = w.task_id
		LEFT JOIN tr ON tr.workflow_step_id = ed.from_step_id GROUP BY ed.to_step_id),
	` + driverkit.AnalyticsStepWaits(secs)
		keys := []string{"namespace", "name", "version"}
		stepKeys := []string{"namespace", "name", "version", "step"}
		ts := fmt.Sprint(top)
		fields = append(fields,
			`'template_counts', json((SELECT coalesce(json_group_array(json_object('namespace', namespace, 'name', name, 'version', version,
				'tasks', tasks, 'complete', complete, 'error', error)), '[]') FROM (
				SELECT namespace, name, version, count(*) AS tasks, count(*) FILTER (WHERE state = 'complete') AS complete,
					count(*) FILTER (WHERE state = 'error') AS error FROM w GROUP BY namespace, name, version ORDER BY namespace, name, version)))`,
			`'template_durations', `+liteDist("w", "duration", keys...),
			`'step_counts', json((SELECT coalesce(json_group_array(json_object('namespace', namespace, 'name', name, 'version', version,
				'step', step, 'steps', steps, 'failed_attempts', failed_attempts)), '[]') FROM (
				SELECT namespace, name, version, step, count(*) AS steps, sum(failed) AS failed_attempts
				FROM sx GROUP BY namespace, name, version, step ORDER BY namespace, name, version, step)))`,
			`'step_durations', `+liteDist("sx", "duration", stepKeys...),
			`'step_waits', `+liteDist("sx", "dep_wait", stepKeys...),
			// The step counts of the slowest tasks only: the top is chosen
			// first, then joined to its steps.
			`'slowest_tasks', json((SELECT coalesce(json_group_array(json_object('task_id', task_id, 'namespace', namespace, 'name', name,
				'version', version, 'state', state, 'duration', duration, 'steps', steps, 'complete_steps', complete_steps,
				'error_steps', error_steps)), '[]') FROM (
				SELECT top.task_id, top.namespace, top.name, top.version, top.state, top.duration, count(s.task_id) AS steps,
					count(*) FILTER (WHERE s.state = 'complete') AS complete_steps, count(*) FILTER (WHERE s.state = 'error') AS error_steps
				FROM (SELECT task_id, namespace, name, version, state, `+secs("completed_at", "created_at")+` AS duration FROM w
					WHERE state IN ('complete', 'error') AND completed_at IS NOT NULL
					ORDER BY duration DESC, task_id LIMIT `+ts+`) top
				LEFT JOIN s ON s.task_id = top.task_id
				GROUP BY top.task_id ORDER BY top.duration DESC, top.task_id)))`,
			`'slowest_steps', json((SELECT coalesce(json_group_array(json_object('step_id', workflow_step_id, 'task_id', task_id,
				'namespace', namespace, 'name', name, 'version', version, 'step', step, 'duration', duration, 'attempts', attempts,
				'retryable', json(CASE WHEN retryable THEN 'true' ELSE 'false' END))), '[]') FROM (
				SELECT * FROM s WHERE duration IS NOT NULL ORDER BY duration DESC, workflow_step_id LIMIT `+ts+`)))`,
			`'error_kinds', json((SELECT coalesce(json_group_object(kind, n), '{}') FROM (
				SELECT coalesce(json_extract(tt.metadata, '$.error_kind'), 'unknown') AS kind, count(*) AS n
				FROM w CROSS JOIN tasker_workflow_step_transitions tt ON tt.task_id = w.task_id
				WHERE tt.from_state = 'in_progress' AND tt.to_state = 'error' GROUP BY 1)))`,
			`'dependency_wait', `+liteDist("sx", "dep_wait"),
			`'queue_wait', `+liteDist("sx", "queue_wait"),
		)
		fields = append(fields, driverkit.AnalyticsRetryCounts...)
	}
	return with + `
	SELECT json_object(` + strings.Join(fields, ",\n") + `)`, args
}

func (e *executor) AnalyticsOverview(ctx context.Context) (*taskerdriver.AnalyticsOverview, error) {
	// The distinct templates by a loose index scan of the named index (one
	// descent per template, not a read of every task).
	return driverkit.AnalyticsOverview("sqlite", e.r.QueryRowContext(ctx, overviewSQL))
}

// overviewSQL is the statement of AnalyticsOverview. The distinct templates
// are a loose index scan of the named index (one descent per template, not
// a read of every task); the condition on namespace (every namespace
// satisfies it) makes the first descent a search, as the others.
const overviewSQL = `WITH RECURSIVE t(namespace, name, version) AS (
		SELECT * FROM (SELECT namespace, name, version FROM tasker_tasks WHERE namespace >= '' ORDER BY namespace, name, version LIMIT 1)
		UNION ALL
		SELECT (SELECT n.namespace FROM tasker_tasks n WHERE (n.namespace, n.name, n.version) > (t.namespace, t.name, t.version)
				ORDER BY n.namespace, n.name, n.version LIMIT 1),
			(SELECT n.name FROM tasker_tasks n WHERE (n.namespace, n.name, n.version) > (t.namespace, t.name, t.version)
				ORDER BY n.namespace, n.name, n.version LIMIT 1),
			(SELECT n.version FROM tasker_tasks n WHERE (n.namespace, n.name, n.version) > (t.namespace, t.name, t.version)
				ORDER BY n.namespace, n.name, n.version LIMIT 1)
		FROM t WHERE t.namespace IS NOT NULL)
	SELECT (SELECT count(*) FROM tasker_tasks WHERE state IN ('pending', 'in_progress')),
		(SELECT count(DISTINCT namespace) FROM t WHERE namespace IS NOT NULL),
		(SELECT count(*) FROM t WHERE namespace IS NOT NULL)`

func (e *executor) AnalyticsSeries(ctx context.Context, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	if p.Buckets <= 0 || p.Width <= 0 {
		return nil, fmt.Errorf("sqlite: analytics series: %d buckets of %s: both must be positive", p.Buckets, p.Width)
	}
	q, args := seriesSQL(p)
	var doc string
	if err := e.r.QueryRowContext(ctx, q, args...).Scan(&doc); err != nil {
		return nil, fmt.Errorf("sqlite: analytics series: %w", err)
	}
	out, err := driverkit.DecodeAnalyticsSeries([]byte(doc), p)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return out, nil
}

// seriesSQL returns the statement of AnalyticsSeries: one JSON document.
// b: the buckets (microseconds); c: each bucket's finished tasks counted,
// one range of tasker_tasks_finished each; w: each bucket's last Limit
// finished tasks; s: their steps, and f: their failed attempts, searched
// by task_id (the buckets, then the tasks, are the outer loops). INDEXED
// BY keeps a template scope from reading every task of the template (by
// tasker_tasks_named) for each bucket.
func seriesSQL(p *taskerdriver.AnalyticsSeriesParams) (string, []any) {
	args := []any{us(p.Since), p.Width.Microseconds(), p.Buckets, driverkit.Limit(p.Limit, driverkit.AnalyticsSeriesDefaultLimit)}
	scope, more := driverkit.AnalyticsSeriesScope(p, func(i int) string { return fmt.Sprintf("?%d", i) }, len(args))
	args = append(args, more...)
	q := `WITH RECURSIVE b(bucket, lo, hi) AS (
		SELECT 0, ?1, ?1 + ?2
		UNION ALL SELECT bucket + 1, hi, hi + ?2 FROM b WHERE bucket + 1 < ?3),
	c AS MATERIALIZED (
		SELECT b.bucket, count(tk.task_id) AS finished, count(*) FILTER (WHERE tk.state = 'complete') AS complete,
			count(*) FILTER (WHERE tk.state = 'error') AS error
		FROM b LEFT JOIN tasker_tasks tk INDEXED BY tasker_tasks_finished ON tk.completed_at >= b.lo AND tk.completed_at < b.hi` + strings.ReplaceAll(scope, " AND ", " AND tk.") + `
		GROUP BY b.bucket),
	w AS MATERIALIZED (
		SELECT b.bucket, tk.task_id FROM b CROSS JOIN tasker_tasks tk ON tk.task_id IN (
			SELECT task_id FROM tasker_tasks INDEXED BY tasker_tasks_finished WHERE completed_at >= b.lo AND completed_at < b.hi` + scope + `
			ORDER BY completed_at DESC, task_id DESC LIMIT ?4)),
	s AS MATERIALIZED (
		SELECT w.bucket, st.state, CASE WHEN st.state = 'complete' THEN ` + secs("st.processed_at", "st.last_attempted_at") + ` END AS duration
		FROM w CROSS JOIN tasker_workflow_steps st ON st.task_id = w.task_id),
	f AS (
		SELECT w.bucket, count(*) AS failed
		FROM w CROSS JOIN tasker_workflow_step_transitions tt ON tt.task_id = w.task_id
		WHERE tt.from_state = 'in_progress' AND tt.to_state = 'error' GROUP BY w.bucket)
	SELECT json_object(
		'buckets', json((SELECT coalesce(json_group_array(json_object('bucket', bucket, 'finished', finished, 'complete', complete, 'error', error,
			'analyzed', analyzed, 'steps_complete', steps_complete, 'failed_attempts', failed_attempts)), '[]') FROM (
			SELECT c.bucket, c.finished, c.complete, c.error, coalesce(wa.n, 0) AS analyzed,
				coalesce(sa.n, 0) AS steps_complete, coalesce(f.failed, 0) AS failed_attempts
			FROM c LEFT JOIN (SELECT bucket, count(*) AS n FROM w GROUP BY bucket) wa ON wa.bucket = c.bucket
			LEFT JOIN (SELECT bucket, count(*) AS n FROM s WHERE state = 'complete' GROUP BY bucket) sa ON sa.bucket = c.bucket
			LEFT JOIN f ON f.bucket = c.bucket ORDER BY c.bucket))),
		'durations', ` + liteDist("s", "duration", "bucket") + `)`
	return q, args
}
