package taskerpgx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/taskerdriver"
)

// AnalyticsSQL and OverviewSQL expose the analytics statements to the plan
// test.
var (
	AnalyticsSQL = analyticsSQL
	OverviewSQL  = overviewSQL
	SeriesSQL    = seriesSQL
)

// AnnotationWhere exposes the task list's annotation condition to the plan
// test, with its arguments.
func AnnotationWhere(f *taskerdriver.AnnotationFilter) (string, []any) {
	var args sqlArgs
	return annotationWhere(f, args.add), args
}

// FinishSatisfyQuery exposes a pass's finish statement to the plan test,
// with its arguments for ps (no errors) at now.
func FinishSatisfyQuery(ps []*taskerdriver.StepFinishParams, now time.Time) (string, []any) {
	return finishSatisfySQL, finishArgs(ps, make([]*string, len(ps)), now)
}

// NewTaskClaimSQL exposes the claim that follows a task's insert to the
// plan test.
var NewTaskClaimSQL = newTaskClaimSQL

// WriteStatements are the statements of a worker pass and of a creation's
// claim, with arguments for now, for the plan test.
func WriteStatements(now time.Time) map[string][]any {
	claim := claimArgs(&taskerdriver.StepClaimParams{Now: now, Limit: 64, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	finish, finishArgs := FinishSatisfyQuery([]*taskerdriver.StepFinishParams{{StepID: 1, Owner: "w", Attempt: 1, State: "complete", Now: now}}, now)
	return map[string][]any{
		claimSQL:         claim,
		newTaskClaimSQL:  claim,
		finish:           finishArgs,
		lockTasksSQL:     {[]int64{1, 2}},
		moveTasksSQL:     {[]int64{1}, []string{"in_progress"}, []string{"complete"}, []string{"{}"}, []bool{true}, now, int64(1)},
		progressSQL:      {[]int64{1, 2}},
		settleNotifySQL:  {"topic", []int64{1, 2}},
		unsettledSQL:     {[]int64{1, 2}, now},
		settledDoneSQL:   {[]int64{1, 2}, "in_progress", "complete", "all_steps_complete", now, true, "topic"},
		newTaskNotifySQL: {"topic"},
	}
}

// SettleNotifySQL, SettledDoneSQL and UnsettledSQL expose a settling
// pass's statements to the plan test.
const (
	SettleNotifySQL = settleNotifySQL
	SettledDoneSQL  = settledDoneSQL
	UnsettledSQL    = unsettledSQL
)

// ExplainIn returns the plan of q, one line a row, in a transaction begun
// as the driver begins its own (inTx), or on the pool.
func ExplainIn(ctx context.Context, d *Driver, inTx bool, q string, args ...any) (string, error) {
	var on querier = d.pool
	if inTx {
		t, err := beginPipeTx(ctx, d.pool, false)
		if err != nil {
			return "", err
		}
		defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
		on = t
	}
	lines, err := queryAll(ctx, on, "EXPLAIN "+q, args, func(r pgx.Row) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	return strings.Join(lines, "\n"), err
}

// ExplainAnalyzeIn executes q with EXPLAIN (ANALYZE, FORMAT JSON) in a
// transaction begun as the driver begins its own, rolled back after, and
// returns the plan's root node. With generic, q runs as a prepared
// statement under force_generic_plan (the plan a prepared statement
// settles on) and its plan is the one auto_explain reports for that
// execution: EXPLAIN with bound parameters plans them as constants (a
// custom plan), and EXPLAIN EXECUTE takes no bound parameters.
func ExplainAnalyzeIn(ctx context.Context, d *Driver, generic bool, q string, args ...any) (map[string]any, error) {
	if generic {
		return explainGeneric(ctx, d, q, args)
	}
	t, err := beginPipeTx(ctx, d.pool, false)
	if err != nil {
		return nil, err
	}
	defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
	docs, err := queryAll(ctx, t, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args, func(r pgx.Row) ([]map[string]any, error) {
		var doc []map[string]any
		return doc, r.Scan(&doc)
	})
	if err != nil {
		return nil, err
	}
	return docs[0][0]["Plan"].(map[string]any), nil
}

// explainGeneric is ExplainAnalyzeIn's generic plan: q executed on a
// connection of its own, in a transaction with the driver's settings and
// force_generic_plan, auto_explain sending the plan as a notice.
func explainGeneric(ctx context.Context, d *Driver, q string, args []any) (map[string]any, error) {
	cfg := d.pool.Config().ConnConfig.Copy()
	var notes []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notes = append(notes, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range []string{txSettingsSQL, "LOAD 'auto_explain'", `SELECT set_config('auto_explain.log_analyze', 'on', true),
		set_config('auto_explain.log_format', 'json', true), set_config('auto_explain.log_level', 'notice', true),
		set_config('plan_cache_mode', 'force_generic_plan', true), set_config('auto_explain.log_min_duration', '0', true)`} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	notes = nil
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// auto_explain's notice may arrive with the next statement's answer
	// (seen after a statement calling pg_notify).
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		return nil, err
	}
	for _, n := range notes {
		var doc struct {
			Text string         `json:"Query Text"`
			Plan map[string]any `json:"Plan"`
		}
		_, body, _ := strings.Cut(n, "plan:") // "duration: … ms  plan:\n{…}"
		if json.Unmarshal([]byte(body), &doc) == nil && doc.Text == q && doc.Plan != nil {
			// A generic plan shows its parameters, a custom one their values.
			plan, _ := json.Marshal(doc.Plan) // without the query's text, which names them too
			if len(args) > 0 && !strings.Contains(string(plan), `$`) {
				return nil, errors.New("the plan auto_explain reported is not a generic plan")
			}
			return doc.Plan, nil
		}
	}
	return nil, fmt.Errorf("auto_explain reported no plan of the statement (%d notices)", len(notes))
}

// LockTasksSQL and ProgressSQL expose the pass's lock and counts of its
// tasks to the plan test, with the settings they run with: TxSettingsSQL,
// the driver's transactions', and GenericPlanSQL.
const (
	LockTasksSQL   = lockTasksSQL
	ProgressSQL    = progressSQL
	TxSettingsSQL  = txSettingsSQL
	GenericPlanSQL = genericPlanSQL
)

// ClaimSQL and ClaimArgs expose a worker pass's claim to the plan tests.
var (
	ClaimSQL   = claimSQL
	ClaimArgs  = claimArgs
	ClaimQuery = claimQuery
)

// MoveTasksSQL exposes the deferred task moves to the plan test.
const MoveTasksSQL = moveTasksSQL

// StaleStatisticsSQL and StatisticsTables expose RefreshStatistics's
// choice of tables to its test.
var (
	StaleStatisticsSQL = staleStatisticsSQL
	StatisticsTables   = statisticsTables
)

// FinishQuery exposes a pass's finish statement without the children's
// satisfaction (finishSQL, as FinishUpdate runs it) to the plan test, with
// its arguments for ps (no errors) at now.
func FinishQuery(ps []*taskerdriver.StepFinishParams, now time.Time) (string, []any) {
	return finishSQL + ` SELECT ` + stepCols + ` FROM upd`, finishArgs(ps, make([]*string, len(ps)), now)
}

// NewTaskNotifySQL exposes a settling creation's notification to the plan
// test.
const NewTaskNotifySQL = newTaskNotifySQL
