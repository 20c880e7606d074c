package apiview

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tasker-go/tasker"
)

// UTC returns t in UTC (zero stays zero): every timestamp of a view is UTC.
func UTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Task is the view of a task: the persisted fields plus the original
// engine's full_name and complete, and optionally its steps and its
// runtime dependency analysis.
type Task struct {
	*tasker.Task
	FullName string `json:"full_name"`
	Complete bool   `json:"complete"`
	// TraceID is the W3C trace id of the task's trace (of its stored trace
	// context), when it was created with tracing on: what a trace UI's link
	// needs.
	TraceID       string  `json:"trace_id,omitempty"`
	WorkflowSteps []*Step `json:"workflow_steps,omitempty"`
	// TaskAnnotations are the task's annotations, oldest first: present
	// (an empty list when there are none) in the views that read them (a
	// task read alone, WithAnnotations), absent from the others.
	TaskAnnotations    []*TaskAnnotation   `json:"task_annotations,omitzero"`
	DependencyAnalysis *DependencyAnalysis `json:"dependency_analysis,omitempty"`
}

// WithAnnotations sets the task's annotations (never nil: an empty list
// when there are none) and returns v.
func (v *Task) WithAnnotations(list []*tasker.TaskAnnotation) *Task {
	v.TaskAnnotations = each(list, NewTaskAnnotation)
	return v
}

// TaskAnnotation is the view of an annotation inside its task's view: its
// task's id is the task's.
type TaskAnnotation struct {
	ID         int64           `json:"task_annotation_id"`
	Type       string          `json:"annotation_type"`
	Annotation json.RawMessage `json:"annotation"`
	CreatedAt  time.Time       `json:"created_at"`
}

// NewTaskAnnotation returns the view of a in its task's view.
func NewTaskAnnotation(a *tasker.TaskAnnotation) *TaskAnnotation {
	return &TaskAnnotation{ID: a.ID, Type: a.Type, Annotation: a.Annotation, CreatedAt: UTC(a.CreatedAt)}
}

// NewAnnotation returns the view of an annotation on its own (the answer
// to its creation): the persisted fields, its time in UTC.
func NewAnnotation(a *tasker.TaskAnnotation) *tasker.TaskAnnotation {
	c := *a
	c.CreatedAt = UTC(c.CreatedAt)
	return &c
}

// NewTask returns the view of t (a copy: t is not changed) with its steps
// when steps is not nil (an empty, non-nil slice gives "workflow_steps": []
// only when it has elements; nil leaves the member out).
func NewTask(t *tasker.Task, steps []*tasker.Step) *Task {
	c := *t
	c.RequestedAt, c.CreatedAt, c.UpdatedAt, c.CompletedAt = UTC(c.RequestedAt), UTC(c.CreatedAt), UTC(c.UpdatedAt), UTC(c.CompletedAt)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if len(c.Context) == 0 {
		c.Context = json.RawMessage(`{}`)
	}
	v := &Task{Task: &c, FullName: c.FullName(), Complete: c.Complete()}
	if parts := strings.Split(c.TraceParent, "-"); len(parts) == 4 && len(parts[1]) == 32 {
		v.TraceID = parts[1]
	}
	if steps != nil {
		v.WorkflowSteps = NewSteps(steps)
	}
	return v
}

// each returns f of every element of in, in order.
func each[T, V any](in []T, f func(T) V) []V {
	out := make([]V, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// NewListTask returns the view of t in a list: NewTask without steps, its
// context left out unless withContext (list views omit heavy fields unless
// asked for with ?include=).
func NewListTask(t *tasker.Task, withContext bool) *Task {
	v := NewTask(t, nil)
	if !withContext {
		v.Context = nil
	}
	return v
}

// NewListStep returns the view of s in a list: its inputs and results are
// left out unless asked for (?include=inputs,results).
func NewListStep(s *tasker.Step, withInputs, withResults bool) *Step {
	v := NewStep(s, nil)
	if !withInputs {
		v.Inputs = nil
	}
	if !withResults {
		v.Results = nil
	}
	return v
}

// Step is the view of a workflow step: the persisted fields plus the
// original engine's processed flag and, for one step, its transitions.
type Step struct {
	*tasker.Step
	Processed   bool                 `json:"processed"`
	Transitions []*tasker.Transition `json:"transitions,omitempty"`
	// WaitingForHandler, in the views that look (WithCoverage), says that
	// the step waits because no worker seen recently runs its handler.
	WaitingForHandler *tasker.HandlerWait `json:"waiting_for_handler,omitempty"`
}

// Waits reports whether some step may be waiting for a worker (pending,
// or in error to be retried): only then is the registry of workers worth
// reading for WithCoverage.
func Waits(steps []*tasker.Step) bool {
	for _, s := range steps {
		if s.State == tasker.StatePending || (s.State == tasker.StateError && !s.Blocked) {
			return true
		}
	}
	return false
}

// WithCoverage sets WaitingForHandler on the views of steps that no
// worker of cov runs.
func WithCoverage(views []*Step, cov *tasker.WorkerCoverage) {
	for _, v := range views {
		v.WaitingForHandler = cov.Waiting(v.Step)
	}
}

// NewStep returns the view of s (a copy: s is not changed) with its
// transitions when transitions is not nil.
func NewStep(s *tasker.Step, transitions []*tasker.Transition) *Step {
	c := *s
	c.NextAttemptAt, c.LastAttemptedAt, c.ProcessedAt = UTC(c.NextAttemptAt), UTC(c.LastAttemptedAt), UTC(c.ProcessedAt)
	c.LeaseExpiresAt, c.CreatedAt, c.UpdatedAt = UTC(c.LeaseExpiresAt), UTC(c.CreatedAt), UTC(c.UpdatedAt)
	if c.LastError != nil {
		le := *c.LastError
		le.At = UTC(le.At)
		c.LastError = &le
	}
	if c.Policy != nil {
		c.Policy = PolicyView(c.Policy)
	}
	if c.ParentIDs == nil {
		c.ParentIDs = []int64{}
	}
	if c.ChildIDs == nil {
		c.ChildIDs = []int64{}
	}
	v := &Step{Step: &c, Processed: c.Processed()}
	if transitions != nil {
		v.Transitions = NewTransitions(transitions)
	}
	return v
}

// policyDurations are the duration fields of a step's stored policy, in
// nanoseconds (see internal/retrypolicy.StepPolicy).
var policyDurations = []string{"timeout", "backoff_base", "backoff_max", "backoff_max_requested"}

// PolicyView returns a step's policy as the APIs show it: every duration
// also in whole milliseconds under its name with _ms (timeout_ms,
// backoff_base_ms, ...), the unit of the API's other durations, beside the
// stored nanosecond fields, kept so that existing readers do not break.
func PolicyView(raw json.RawMessage) json.RawMessage {
	var m map[string]json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return raw // not the stored form: shown as it is
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return raw
	}
	for _, k := range policyDurations {
		if n, err := m[k].Int64(); err == nil && n != 0 {
			all[k+"_ms"] = n / int64(time.Millisecond)
		}
	}
	b, err := json.Marshal(all)
	if err != nil {
		return raw
	}
	return b
}

// NewSteps returns the views of a task's steps (without transitions).
func NewSteps(steps []*tasker.Step) []*Step {
	return each(steps, func(st *tasker.Step) *Step { return NewStep(st, nil) })
}

// NewTransitions returns copies of transitions with UTC timestamps.
func NewTransitions(transitions []*tasker.Transition) []*tasker.Transition {
	return each(transitions, func(tr *tasker.Transition) *tasker.Transition {
		t := *tr
		t.CreatedAt = UTC(t.CreatedAt)
		return &t
	})
}
