package taskertype

// The names of the events the engine publishes (Event.Name). Each fact is
// published once, after the transaction that records it commits. The
// transition → event table is internal/statemachine's; the catalog (with
// descriptions and payload schemas) is the root package's SystemEvents.
//
// They are untyped string constants, not a new type, because Event.Name is a
// string in the public API and custom events share it.
const (
	EventTaskInitializeRequested = "task.initialize_requested"
	EventTaskStartRequested      = "task.start_requested"
	EventTaskCompleted           = "task.completed"
	EventTaskFailed              = "task.failed"
	EventTaskCancelled           = "task.cancelled"
	EventTaskRetryRequested      = "task.retry_requested"
	EventTaskResolvedManually    = "task.resolved_manually"
	// EventTaskScheduled: a schedule fired and created the task.
	EventTaskScheduled = "task.scheduled"
	EventTaskBlocked   = "task.blocked"

	EventWorkflowViableStepsDiscovered = "workflow.viable_steps_discovered"
	EventWorkflowNoViableSteps         = "workflow.no_viable_steps"

	EventStepInitializeRequested = "step.initialize_requested"
	EventStepExecutionRequested  = "step.execution_requested"
	EventStepCompleted           = "step.completed"
	EventStepFailed              = "step.failed"
	EventStepBackoff             = "step.backoff"
	EventStepMaxRetriesReached   = "step.max_retries_reached"
	EventStepRetryRequested      = "step.retry_requested"
	EventStepCancelled           = "step.cancelled"
	EventStepResolvedManually    = "step.resolved_manually"
)
