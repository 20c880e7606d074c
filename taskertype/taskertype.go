package taskertype

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned when a task, step or template does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable is matched (errors.Is) by the errors of a database that
// cannot be reached or does not answer in time: connection refused or lost,
// the server shutting down or starting, a deadline passed, a lock not
// granted in time. Retrying later may succeed; an API answers 503.
var ErrUnavailable = errors.New("database unavailable")

// State is the state of a task or a step. Tasks and steps share one set of
// states; which moves between them are legal differs (see internal/statemachine).
type State string

// The states of tasks and steps.
const (
	StatePending          State = "pending"
	StateInProgress       State = "in_progress"
	StateComplete         State = "complete"
	StateError            State = "error"
	StateCancelled        State = "cancelled"
	StateResolvedManually State = "resolved_manually"
)

// States lists every state in a stable order.
var States = []State{StatePending, StateInProgress, StateComplete, StateError, StateCancelled, StateResolvedManually}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateInProgress, StateComplete, StateError, StateCancelled, StateResolvedManually:
		return true
	}
	return false
}

// Done reports whether the state satisfies a dependency: complete or
// resolved_manually.
func (s State) Done() bool { return s == StateComplete || s == StateResolvedManually }

// Final reports whether a task in this state has finished: complete, error,
// cancelled or resolved_manually. (A task in error can still be retried.)
func (s State) Final() bool {
	return s == StateComplete || s == StateError || s == StateCancelled || s == StateResolvedManually
}

// Task is one persisted task: an instance of a task template.
type Task struct {
	ID        int64  `json:"task_id"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	State     State  `json:"status"`
	// Context is nil (and left out of JSON) when a list omitted it
	// (TaskListParams.OmitContext).
	Context      json.RawMessage `json:"context,omitempty"`
	Initiator    string          `json:"initiator"`
	SourceSystem string          `json:"source_system"`
	Reason       string          `json:"reason"`
	Tags         []string        `json:"tags"`
	IdentityHash string          `json:"identity_hash"`
	RequestedAt  time.Time       `json:"requested_at"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	// CompletedAt is when the task reached a final state; zero while it runs.
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// TraceParent and TraceState are the W3C trace context (traceparent and
	// tracestate headers) the task was created under; empty when none. Every
	// attempt of the task's steps continues this trace.
	TraceParent string `json:"-"`
	TraceState  string `json:"-"`
}

// FullName is "namespace.name@version", as the original engine reports it.
func (t *Task) FullName() string { return t.Namespace + "." + t.Name + "@" + t.Version }

// Complete reports whether the task finished successfully.
func (t *Task) Complete() bool { return t.State == StateComplete }

// StepError describes why the last attempt of a step failed.
type StepError struct {
	Message string `json:"message"`
	// Kind is "retryable", "permanent", "timeout", "worker_lost" or "panic".
	Kind string `json:"kind"`
	// Class is the Go type of the error that the handler returned.
	Class string `json:"class,omitempty"`
	// Stack is the stack trace of a panic, or extra detail (stderr tail).
	Stack string `json:"stack,omitempty"`
	// Details is structured detail of the failure, such as the status, a
	// bounded body excerpt and headers of interest of an HTTP answer.
	Details json.RawMessage `json:"details,omitempty"`
	// RetryAfter is the delay the handler or the server asked for, if any.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Attempt    int           `json:"attempt"`
	At         time.Time     `json:"at"`
}

// Step is one persisted workflow step of a task.
type Step struct {
	ID         int64  `json:"workflow_step_id"`
	TaskID     int64  `json:"task_id"`
	Name       string `json:"name"`
	Position   int    `json:"position"`
	State      State  `json:"status"`
	Handler    string `json:"handler"`
	Attempts   int    `json:"attempts"`
	RetryLimit int    `json:"retry_limit"`
	Retryable  bool   `json:"retryable"`
	Skippable  bool   `json:"skippable"`
	// Blocked is true when the step is in error and may not be retried
	// (attempts exhausted, not retryable, or a permanent error).
	Blocked bool `json:"blocked"`
	// PendingParents is the number of parents not yet complete or
	// resolved_manually. The step is runnable only when it is zero.
	PendingParents int             `json:"pending_parents"`
	HandlerConfig  json.RawMessage `json:"handler_config,omitempty"`
	// Queue is the remote queue of a step run by remote workers (handler
	// "remote"); empty for steps run in-process.
	Queue string `json:"queue,omitempty"`
	// Policy is the step's retry/timeout policy snapshot as JSON, taken from
	// its template when the task was created.
	Policy          json.RawMessage `json:"policy,omitempty"`
	Inputs          json.RawMessage `json:"inputs,omitempty"`
	Results         json.RawMessage `json:"results,omitempty"`
	LastError       *StepError      `json:"last_error,omitempty"`
	NextAttemptAt   time.Time       `json:"next_attempt_at,omitzero"`
	LastAttemptedAt time.Time       `json:"last_attempted_at,omitzero"`
	ProcessedAt     time.Time       `json:"processed_at,omitzero"`
	LeaseOwner      string          `json:"lease_owner,omitempty"`
	LeaseExpiresAt  time.Time       `json:"lease_expires_at,omitzero"`
	ParentIDs       []int64         `json:"parents_ids"`
	ChildIDs        []int64         `json:"children_ids"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// Processed reports whether the step finished successfully (complete or
// resolved_manually), the original engine's "processed" flag.
func (s *Step) Processed() bool { return s.State.Done() }

// Transition is one append-only audit row recording a state change of a task
// (StepID zero) or of a step.
type Transition struct {
	ID         int64           `json:"id"`
	TaskID     int64           `json:"task_id"`
	StepID     int64           `json:"workflow_step_id,omitempty"`
	FromState  State           `json:"from_state,omitempty"`
	ToState    State           `json:"to_state"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	SortKey    int             `json:"sort_key"`
	MostRecent bool            `json:"most_recent"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Event is one published fact about a task or a step. Events are delivered
// after the database transaction that records the fact commits.
type Event struct {
	// Name is the catalog name, such as "task.completed" or "step.failed".
	Name string `json:"name"`
	// Task is the task as it was after the change.
	Task *Task `json:"task,omitempty"`
	// Step is the step as it was after the change; nil for task events.
	Step *Step `json:"step,omitempty"`
	// Attempt is the attempt number of a step event.
	Attempt int `json:"attempt,omitempty"`
	// Duration is how long the attempt ran, for step completion and failure;
	// for step.execution_requested, how long the step waited ready before
	// the claim.
	Duration time.Duration `json:"duration,omitempty"`
	// Error describes the failure of a failed step.
	Error *StepError `json:"error,omitempty"`
	// Payload holds the event's own data: a custom event's payload, or the
	// extra facts of a system event (such as the next attempt time of
	// step.backoff or the steps of workflow.viable_steps_discovered).
	Payload json.RawMessage `json:"payload,omitempty"`
	// At is when the fact was recorded.
	At time.Time `json:"timestamp"`
}
