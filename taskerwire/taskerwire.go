package taskerwire

import (
	"encoding/json"
	"strconv"
	"time"
)

// The routes of the protocol, relative to the server's base URL. Each takes
// a JSON body and needs "Authorization: Bearer <worker token>".
const (
	// PathClaim takes a ClaimRequest and answers a ClaimResponse.
	PathClaim = "/tasker/workers/claim"
	// PathHeartbeat takes a HeartbeatRequest and answers a
	// HeartbeatResponse.
	PathHeartbeat = "/tasker/workers/heartbeat"
)

// ResultPath is the route that takes the Result of a step's attempt.
func ResultPath(stepID int64) string {
	return "/tasker/workers/steps/" + strconv.FormatInt(stepID, 10) + "/result"
}

// ReleasePath is the route that takes the ReleaseRequest of a step.
func ReleasePath(stepID int64) string {
	return "/tasker/workers/steps/" + strconv.FormatInt(stepID, 10) + "/release"
}

// Limits of remote worker requests.
const (
	// MaxClaim is the most steps one claim returns.
	MaxClaim = 100
	// MaxWait is the longest a claim waits for a step.
	MaxWait = 30 * time.Second
	// MinLease and MaxLease bound a remote lease.
	MinLease = time.Second
	MaxLease = time.Hour
	// DefaultLease is the lease of a claim that gives none.
	DefaultLease = 30 * time.Second
)

// ClaimRequest asks for steps of remote queues. Its JSON form is
// {"worker_id", "queues", "limit", "lease_seconds", "wait_seconds"}.
type ClaimRequest struct {
	// WorkerID names the remote worker (1 to 200 printable ASCII
	// characters, unique per worker process); it holds the leases.
	WorkerID string
	// Queues are the queues to take steps from.
	Queues []string
	// Limit is the most steps to return: 1 (the default) to MaxClaim.
	Limit int
	// Lease is how long the worker holds a claimed step without a
	// heartbeat; DefaultLease when zero.
	Lease time.Duration
	// Wait is how long to wait for a step when none is ready (long
	// polling), at most MaxWait; zero returns at once.
	Wait time.Duration
}

// MarshalJSON writes the request's JSON form.
func (r ClaimRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		WorkerID string   `json:"worker_id"`
		Queues   []string `json:"queues"`
		Limit    int      `json:"limit,omitempty"`
		Lease    float64  `json:"lease_seconds,omitempty"`
		Wait     float64  `json:"wait_seconds"`
	}{r.WorkerID, r.Queues, r.Limit, r.Lease.Seconds(), r.Wait.Seconds()})
}

// ClaimResponse is the answer to a claim: the steps leased to the worker,
// none when nothing was ready within the wait.
type ClaimResponse struct {
	Steps []*Step `json:"steps"`
}

// Step is a claimed remote step: everything its worker needs to run it and
// report back.
type Step struct {
	TaskID    int64  `json:"task_id"`
	StepID    int64  `json:"step_id"`
	StepName  string `json:"step_name"`
	Namespace string `json:"namespace"`
	TaskName  string `json:"task_name"`
	Version   string `json:"version"`
	Queue     string `json:"queue"`
	// Attempt is this attempt's number, starting at 1; the report must give
	// it back.
	Attempt    int `json:"attempt"`
	RetryLimit int `json:"retry_limit"`
	// LeaseExpiresAt is when the step is taken from the worker unless it
	// heartbeats.
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	// TimeoutMS is the attempt's time limit (the step's timeout) in
	// milliseconds; the worker should give up after it.
	TimeoutMS int64 `json:"timeout_ms"`
	// IdempotencyKey is stable across the step's attempts.
	IdempotencyKey string `json:"idempotency_key"`
	// Context is the task context.
	Context json.RawMessage `json:"context"`
	// Dependencies are the results of the parent steps by name.
	Dependencies map[string]json.RawMessage `json:"dependencies"`
	// Config is the step's handler_config (with its queue).
	Config json.RawMessage `json:"handler_config"`
	// Inputs are the step's inputs, when set.
	Inputs json.RawMessage `json:"inputs,omitempty"`
	// TraceParent and TraceState are the task's W3C trace context (empty
	// when the task has none): the worker continues that trace, sending
	// them as the traceparent and tracestate headers of its requests about
	// the step and passing them to what its handler calls.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// HeartbeatRequest extends the leases of the steps a worker holds. Its JSON
// form is {"worker_id", "step_ids", "lease_seconds"}.
type HeartbeatRequest struct {
	WorkerID string
	StepIDs  []int64
	// Lease is the new lease from now; DefaultLease when zero.
	Lease time.Duration
}

// MarshalJSON writes the request's JSON form.
func (r HeartbeatRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		WorkerID string  `json:"worker_id"`
		StepIDs  []int64 `json:"step_ids"`
		Lease    float64 `json:"lease_seconds,omitempty"`
	}{r.WorkerID, r.StepIDs, r.Lease.Seconds()})
}

// HeartbeatResponse lists the steps whose leases were extended and those
// the worker no longer holds (stop working on them).
type HeartbeatResponse struct {
	StepIDs []int64 `json:"step_ids"`
	Lost    []int64 `json:"lost_step_ids"`
}

// Result is a remote worker's report on one attempt. Its JSON form is
// {"worker_id", "attempt", "results" | "error", "events", "annotations"};
// the step id is in the route (ResultPath).
type Result struct {
	WorkerID string `json:"worker_id"`
	StepID   int64  `json:"-"`
	Attempt  int    `json:"attempt"`
	// Results is the step's result (JSON) when Error is nil; empty means
	// null.
	Results json.RawMessage `json:"results,omitempty"`
	// Error reports a failed attempt.
	Error *Error `json:"error,omitempty"`
	// Events are custom events the worker published during the attempt
	// (declared like those of Go handlers); they are delivered after the
	// result is recorded, and dropped if it is not.
	Events []Event `json:"events,omitempty"`
	// Annotations are annotations of the step's task the worker recorded
	// during the attempt; they are stored with the result (whatever its
	// outcome), and not at all if it is refused.
	Annotations []Annotation `json:"annotations,omitempty"`
}

// Annotation is an annotation of a task recorded by a remote worker: Type
// names its type (1 to 64 of A-Z a-z 0-9 . _ -) and Annotation is a JSON
// object.
type Annotation struct {
	Type       string          `json:"annotation_type"`
	Annotation json.RawMessage `json:"annotation"`
}

// Event is a custom event published by a remote worker.
type Event struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Error is a failed remote attempt. Its JSON form has
// "retry_after_seconds" for RetryAfter.
type Error struct {
	// Message is required.
	Message string `json:"message"`
	// Kind is "retryable" (the default), "permanent" or "timeout".
	Kind string `json:"kind,omitempty"`
	// RetryAfter asks for the next attempt after this delay (retryable
	// only), like tasker.RetryAfter in Go handlers.
	RetryAfter time.Duration `json:"-"`
	// Class names the error's type in the worker's language.
	Class string `json:"class,omitempty"`
	// Detail is free text such as a stack trace (at most 64 KiB kept).
	Detail string `json:"detail,omitempty"`
	// Details is structured detail (a JSON object).
	Details json.RawMessage `json:"details,omitempty"`
}

// MarshalJSON writes the error's JSON form.
func (e Error) MarshalJSON() ([]byte, error) {
	type plain Error
	return json.Marshal(struct {
		plain
		RetryAfter float64 `json:"retry_after_seconds,omitempty"`
	}{plain(e), e.RetryAfter.Seconds()})
}

// ReleaseRequest gives back a claimed attempt without a result.
type ReleaseRequest struct {
	WorkerID string `json:"worker_id"`
	Attempt  int    `json:"attempt"`
}

// ErrorResponse is the body of an error answer of the API:
// {"error": {"code", "message", "fields"}}. Code "lease_lost" (HTTP 409)
// tells a worker that it no longer holds the step.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the error of an ErrorResponse.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields maps a field at fault to what is wrong with it.
	Fields map[string]string `json:"fields,omitempty"`
}

// CodeLeaseLost is the ErrorBody.Code of a report from a worker that no
// longer holds the step.
const CodeLeaseLost = "lease_lost"
