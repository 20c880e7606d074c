package taskerpgx

import (
	"time"

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
