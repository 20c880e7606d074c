// Package model holds the Go types the generated GraphQL executor binds the
// schema's objects and scalars to: thin views of the Go API's values
// (tasker.Task, tasker.Step, annotations) with one method per schema field,
// and the batches that let a page of tasks load its steps and annotations
// in one query each.
//
// Imports: the standard library and the root package's types. Never a
// driver, never the generated executor.
package model

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// Global ids (Relay) are base64 of "Type-id", as graphql-ruby makes them.
const (
	TypeTask = "Task"
	TypeStep = "WorkflowStep"
)

// GlobalID is the Relay id of the object of type typ with id.
func GlobalID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(typ + "-" + strconv.FormatInt(id, 10)))
}

// ParseGlobalID returns the type and id of a Relay id; ok is false when id
// is not one.
func ParseGlobalID(id string) (typ string, n int64, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return "", 0, false
	}
	typ, num, found := strings.Cut(string(raw), "-")
	if !found {
		return "", 0, false
	}
	n, err = strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return typ, n, true
}

// StableID is a positive 31-bit id derived from parts: the id of an object
// the engine has no table for (named tasks, named steps, dependent
// systems), the same in every process and release.
func StableID(parts ...string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.Join(parts, "\x00")))
	return int(h.Sum32() & 0x7fffffff)
}

// Batch is a set of tasks resolved together (a page, or one task): the
// first of them that needs its steps or annotations loads those of all of
// them, in one query.
type Batch struct {
	IDs   []int64
	Tasks map[int64]*Task // by id

	StepsOnce sync.Once
	Steps     map[int64][]*Step // by task id
	StepsErr  error

	AnnotationsOnce sync.Once
	Annotations     map[int64][]*tasker.TaskAnnotation // by task id
	AnnotationsErr  error

	TypesOnce sync.Once
	Types     map[string]*tasker.AnnotationType // by name
	TypesErr  error
}

// Task is the Task object.
type Task struct {
	T     *tasker.Task
	Batch *Batch
}

// NewTasks wraps tasks as one batch.
func NewTasks(tasks []*tasker.Task) []*Task {
	b := &Batch{IDs: make([]int64, len(tasks)), Tasks: make(map[int64]*Task, len(tasks))}
	out := make([]*Task, len(tasks))
	for i, t := range tasks {
		b.IDs[i] = t.ID
		out[i] = &Task{T: t, Batch: b}
		b.Tasks[t.ID] = out[i]
	}
	return out
}

// NewTask wraps one task, a batch of its own.
func NewTask(t *tasker.Task) *Task { return NewTasks([]*tasker.Task{t})[0] }

func (*Task) IsNode()               {}
func (t *Task) GetID() string       { return t.ID() }
func (t *Task) ID() string          { return GlobalID(TypeTask, t.T.ID) }
func (t *Task) TaskID() string      { return strconv.FormatInt(t.T.ID, 10) }
func (t *Task) Status() string      { return string(t.T.State) }
func (t *Task) Reason() *string     { return &t.T.Reason }
func (t *Task) CreatedAt() DateTime { return DateTime(t.T.CreatedAt) }
func (t *Task) UpdatedAt() DateTime { return DateTime(t.T.UpdatedAt) }
func (t *Task) CompletedAt() *DateTime {
	return timePtr(t.T.CompletedAt)
}
func (t *Task) NamedTaskID() int {
	return StableID("named_task", t.T.Namespace, t.T.Name, t.T.Version)
}
func (t *Task) Complete() bool        { return t.T.Complete() }
func (t *Task) RequestedAt() DateTime { return DateTime(t.T.RequestedAt) }
func (t *Task) Initiator() *string    { return &t.T.Initiator }
func (t *Task) SourceSystem() *string { return &t.T.SourceSystem }
func (t *Task) BypassSteps() JSON     { return nil } // the engine never bypasses a step
func (t *Task) Context() JSON         { return JSON(t.T.Context) }
func (t *Task) IdentityHash() string  { return t.T.IdentityHash }
func (t *Task) Namespace() string     { return t.T.Namespace }
func (t *Task) Name() string          { return t.T.Name }
func (t *Task) Version() string       { return t.T.Version }
func (t *Task) FullName() string      { return t.T.FullName() }
func (t *Task) Tags() []string {
	if t.T.Tags == nil {
		return []string{}
	}
	return t.T.Tags
}

// Step is the WorkflowStep object; Task is its task when the step was
// reached through it (nil otherwise: the first field that needs it loads
// it, once, under TaskOnce).
type Step struct {
	S    *tasker.Step
	Task *Task

	TaskOnce sync.Once
	TaskErr  error
}

func (*Step) IsNode()                      {}
func (s *Step) GetID() string              { return s.ID() }
func (s *Step) ID() string                 { return GlobalID(TypeStep, s.S.ID) }
func (s *Step) TaskID() int                { return int(s.S.TaskID) }
func (s *Step) WorkflowStepID() string     { return strconv.FormatInt(s.S.ID, 10) }
func (s *Step) Name() string               { return s.S.Name }
func (s *Step) Status() string             { return string(s.S.State) }
func (s *Step) Attempts() int              { return s.S.Attempts }
func (s *Step) InProcess() bool            { return s.S.State == tasker.StateInProgress }
func (s *Step) LastAttemptedAt() *DateTime { return timePtr(s.S.LastAttemptedAt) }
func (s *Step) Processed() bool            { return s.S.Processed() }
func (s *Step) ProcessedAt() *DateTime     { return timePtr(s.S.ProcessedAt) }
func (s *Step) Inputs() JSON               { return JSON(s.S.Inputs) }
func (s *Step) Results() JSON              { return JSON(s.S.Results) }
func (s *Step) RetryLimit() int            { return s.S.RetryLimit }
func (s *Step) Retryable() bool            { return s.S.Retryable }
func (s *Step) Skippable() bool            { return s.S.Skippable }
func (s *Step) CreatedAt() DateTime        { return DateTime(s.S.CreatedAt) }
func (s *Step) UpdatedAt() DateTime        { return DateTime(s.S.UpdatedAt) }
func (s *Step) ParentStepIds() []int       { return ints(s.S.ParentIDs) }
func (s *Step) ChildStepIds() []int        { return ints(s.S.ChildIDs) }
func (s *Step) IsRootStep() bool           { return len(s.S.ParentIDs) == 0 }
func (s *Step) IsLeafStep() bool           { return len(s.S.ChildIDs) == 0 }
func (s *Step) ParentCount() int           { return len(s.S.ParentIDs) }
func (s *Step) ChildCount() int            { return len(s.S.ChildIDs) }

// BackoffRequestSeconds is the wait before the next attempt of a step in
// error that will be retried, rounded up; null otherwise.
func (s *Step) BackoffRequestSeconds() *int {
	if s.S.State != tasker.StateError || s.S.Blocked || s.S.NextAttemptAt.IsZero() || s.S.LastAttemptedAt.IsZero() {
		return nil
	}
	d := s.S.NextAttemptAt.Sub(s.S.LastAttemptedAt)
	n := int((d + 999_999_999) / 1_000_000_000)
	if n < 0 {
		n = 0
	}
	return &n
}

// NamedStepID is stable per template and step name.
func (s *Step) NamedStepID(namespace, name, version string) int {
	return StableID("named_step", namespace, name, version, s.S.Name)
}

func ints(in []int64) []int {
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = int(v)
	}
	return out
}

// TaskAnnotation is the TaskAnnotation object; Batch is its task's (its
// annotationType is loaded once for the batch).
type TaskAnnotation struct {
	A     *tasker.TaskAnnotation
	Batch *Batch
}

func (a *TaskAnnotation) TaskAnnotationID() string { return strconv.FormatInt(a.A.ID, 10) }
func (a *TaskAnnotation) TaskID() int              { return int(a.A.TaskID) }
func (a *TaskAnnotation) Annotation() JSON         { return JSON(a.A.Annotation) }
func (a *TaskAnnotation) CreatedAt() DateTime      { return DateTime(a.A.CreatedAt) }

// AnnotationType is the AnnotationType object.
type AnnotationType struct{ T *tasker.AnnotationType }

func (a *AnnotationType) AnnotationTypeID() string { return strconv.FormatInt(a.T.ID, 10) }
func (a *AnnotationType) Name() string             { return a.T.Name }
func (a *AnnotationType) Description() *string {
	if a.T.Description == "" {
		return nil
	}
	return &a.T.Description
}

// Event is the Event object.
type Event struct {
	Name      string
	TaskID    *string
	StepID    *string
	Payload   JSON
	Timestamp DateTime
}

// NewEvent is the view of ev: its payload is a custom event's payload, or
// the facts of a system event (status, attempt, duration, error).
func NewEvent(ev *tasker.Event) *Event {
	e := &Event{Name: ev.Name, Timestamp: DateTime(ev.At), Payload: JSON(ev.Payload)}
	facts := struct {
		Status     string                `json:"status,omitempty"`
		Attempt    int                   `json:"attempt,omitempty"`
		DurationMS int64                 `json:"duration_ms,omitempty"`
		Error      *taskertype.StepError `json:"error,omitempty"`
	}{Attempt: ev.Attempt, DurationMS: ev.Duration.Milliseconds(), Error: ev.Error}
	if ev.Task != nil {
		id := strconv.FormatInt(ev.Task.ID, 10)
		e.TaskID = &id
		facts.Status = string(ev.Task.State)
	}
	if ev.Step != nil {
		id := strconv.FormatInt(ev.Step.ID, 10)
		e.StepID = &id
		facts.Status = string(ev.Step.State)
	}
	if len(e.Payload) == 0 {
		e.Payload, _ = json.Marshal(facts)
	}
	return e
}
