package taskerpgx

// AnalyticsSQL and OverviewSQL expose the analytics statements to the plan
// test.
var (
	AnalyticsSQL = analyticsSQL
	OverviewSQL  = overviewSQL
)
