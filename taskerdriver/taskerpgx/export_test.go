package taskerpgx

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
		newTaskClaimSQL:  claim[:6],
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
// transaction begun as the driver begins its own, rolled back after, with
// a generic plan when generic (the plan a prepared statement settles on),
// and returns the plan's root node.
func ExplainAnalyzeIn(ctx context.Context, d *Driver, generic bool, q string, args ...any) (map[string]any, error) {
	t, err := beginPipeTx(ctx, d.pool, false)
	if err != nil {
		return nil, err
	}
	defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
	if generic {
		if _, err := queryAll(ctx, t, "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)", nil, func(r pgx.Row) (string, error) {
			var s string
			return s, r.Scan(&s)
		}); err != nil {
			return nil, err
		}
	}
	docs, err := queryAll(ctx, t, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args, func(r pgx.Row) ([]map[string]any, error) {
		var doc []map[string]any
		return doc, r.Scan(&doc)
	})
	if err != nil {
		return nil, err
	}
	return docs[0][0]["Plan"].(map[string]any), nil
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
	ClaimSQL  = claimSQL
	ClaimArgs = claimArgs
)

// MoveTasksSQL exposes the deferred task moves to the plan test.
const MoveTasksSQL = moveTasksSQL

// StaleStatisticsSQL and StatisticsTables expose RefreshStatistics's
// choice of tables to its test.
var (
	StaleStatisticsSQL = staleStatisticsSQL
	StatisticsTables   = statisticsTables
)
