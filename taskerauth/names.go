package taskerauth

// The permissions of Tasker's APIs, in the original engine's
// "resource:action" form: the one list that the REST API (taskerhttp's
// operations), the GraphQL API (taskergraphql) and tokens name. Grant them
// as such, as "resource:*" or as "*".
const (
	PermTaskIndex   = "tasker.task:index"
	PermTaskShow    = "tasker.task:show"
	PermTaskCreate  = "tasker.task:create"
	PermTaskUpdate  = "tasker.task:update"
	PermTaskDestroy = "tasker.task:destroy"
	PermTaskRetry   = "tasker.task:retry"

	PermStepIndex   = "tasker.workflow_step:index"
	PermStepShow    = "tasker.workflow_step:show"
	PermStepUpdate  = "tasker.workflow_step:update"
	PermStepDestroy = "tasker.workflow_step:destroy"
	PermStepResolve = "tasker.workflow_step:resolve"

	PermHandlerIndex = "tasker.handler:index"
	PermHandlerShow  = "tasker.handler:show"

	PermEventIndex        = "tasker.event:index"
	PermDeadLetterIndex   = "tasker.dead_letter:index"
	PermDeadLetterReplay  = "tasker.dead_letter:replay"
	PermHealthStatusIndex = "tasker.health_status:index"
	PermMetricsIndex      = "tasker.metrics:index"
	PermAnalyticsIndex    = "tasker.analytics:index"
	PermTokenIndex        = "tasker.token:index"
	PermTokenCreate       = "tasker.token:create"
	PermTokenDestroy      = "tasker.token:destroy"
	PermOpenAPIShow       = "tasker.openapi:show"
	PermWorkerWork        = "tasker.worker:work"
	PermWorkerIndex       = "tasker.worker:index"

	PermScheduleIndex   = "tasker.schedule:index"
	PermScheduleCreate  = "tasker.schedule:create"
	PermScheduleUpdate  = "tasker.schedule:update"
	PermScheduleDestroy = "tasker.schedule:destroy"
	PermScheduleTrigger = "tasker.schedule:trigger"
)

// Permissions returns every permission above, in the order of their
// resources (a page that shows what its user may do asks about each).
func Permissions() []string {
	return []string{
		PermTaskIndex, PermTaskShow, PermTaskCreate, PermTaskUpdate, PermTaskDestroy, PermTaskRetry,
		PermStepIndex, PermStepShow, PermStepUpdate, PermStepDestroy, PermStepResolve,
		PermHandlerIndex, PermHandlerShow, PermEventIndex, PermDeadLetterIndex, PermDeadLetterReplay,
		PermHealthStatusIndex, PermMetricsIndex, PermAnalyticsIndex,
		PermTokenIndex, PermTokenCreate, PermTokenDestroy, PermOpenAPIShow, PermWorkerWork, PermWorkerIndex,
		PermScheduleIndex, PermScheduleCreate, PermScheduleUpdate, PermScheduleDestroy, PermScheduleTrigger,
	}
}
