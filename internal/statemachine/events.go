package statemachine

import "github.com/tasker-go/tasker/taskertype"

// move is a (from, to) pair; from "" is the initial transition.
type move struct{ from, to taskertype.State }

// taskEvents is the task column of the event table of spec §4, plus
// error -> cancelled (our addition, same event as other cancellations).
var taskEvents = map[move]string{
	{"", taskertype.StatePending}:                                 taskertype.EventTaskInitializeRequested,
	{taskertype.StateInProgress, taskertype.StatePending}:         taskertype.EventTaskInitializeRequested,
	{"", taskertype.StateInProgress}:                              taskertype.EventTaskStartRequested,
	{taskertype.StatePending, taskertype.StateInProgress}:         taskertype.EventTaskStartRequested,
	{"", taskertype.StateComplete}:                                taskertype.EventTaskCompleted,
	{taskertype.StateInProgress, taskertype.StateComplete}:        taskertype.EventTaskCompleted,
	{"", taskertype.StateError}:                                   taskertype.EventTaskFailed,
	{taskertype.StatePending, taskertype.StateError}:              taskertype.EventTaskFailed,
	{taskertype.StateInProgress, taskertype.StateError}:           taskertype.EventTaskFailed,
	{taskertype.StateError, taskertype.StatePending}:              taskertype.EventTaskRetryRequested,
	{"", taskertype.StateCancelled}:                               taskertype.EventTaskCancelled,
	{taskertype.StatePending, taskertype.StateCancelled}:          taskertype.EventTaskCancelled,
	{taskertype.StateInProgress, taskertype.StateCancelled}:       taskertype.EventTaskCancelled,
	{taskertype.StateComplete, taskertype.StateCancelled}:         taskertype.EventTaskCancelled,
	{taskertype.StateResolvedManually, taskertype.StateCancelled}: taskertype.EventTaskCancelled,
	{taskertype.StateError, taskertype.StateCancelled}:            taskertype.EventTaskCancelled,
	{"", taskertype.StateResolvedManually}:                        taskertype.EventTaskResolvedManually,
	{taskertype.StateError, taskertype.StateResolvedManually}:     taskertype.EventTaskResolvedManually,
}

// stepEvents is the step column of the event table of spec §4, plus our
// additions error -> cancelled ("step.cancelled") and in_progress ->
// pending ("step.initialize_requested", as the task's in_progress ->
// pending).
var stepEvents = map[move]string{
	{"", taskertype.StatePending}:                               taskertype.EventStepInitializeRequested,
	{taskertype.StateInProgress, taskertype.StatePending}:       taskertype.EventStepInitializeRequested,
	{"", taskertype.StateInProgress}:                            taskertype.EventStepExecutionRequested,
	{taskertype.StatePending, taskertype.StateInProgress}:       taskertype.EventStepExecutionRequested,
	{"", taskertype.StateComplete}:                              taskertype.EventStepCompleted,
	{taskertype.StateInProgress, taskertype.StateComplete}:      taskertype.EventStepCompleted,
	{"", taskertype.StateError}:                                 taskertype.EventStepFailed,
	{taskertype.StatePending, taskertype.StateError}:            taskertype.EventStepFailed,
	{taskertype.StateInProgress, taskertype.StateError}:         taskertype.EventStepFailed,
	{taskertype.StateError, taskertype.StatePending}:            taskertype.EventStepRetryRequested,
	{"", taskertype.StateCancelled}:                             taskertype.EventStepCancelled,
	{taskertype.StatePending, taskertype.StateCancelled}:        taskertype.EventStepCancelled,
	{taskertype.StateInProgress, taskertype.StateCancelled}:     taskertype.EventStepCancelled,
	{taskertype.StateError, taskertype.StateCancelled}:          taskertype.EventStepCancelled,
	{"", taskertype.StateResolvedManually}:                      taskertype.EventStepResolvedManually,
	{taskertype.StatePending, taskertype.StateResolvedManually}: taskertype.EventStepResolvedManually,
	{taskertype.StateError, taskertype.StateResolvedManually}:   taskertype.EventStepResolvedManually,
}

// TaskEvent returns the name of the event fired when a task moves from
// from to to (from "" is the initial transition), following the table of
// spec §4 plus error -> cancelled; "" when the pair is unmapped. It does
// not check legality: the table still maps complete and resolved_manually
// -> cancelled, which Task rejects.
func TaskEvent(from, to taskertype.State) string { return taskEvents[move{from, to}] }

// StepEvent returns the name of the event fired when a step moves from
// from to to (from "" is the initial transition), following the table of
// spec §4 plus error -> cancelled and in_progress -> pending; "" when the
// pair is unmapped. It does not check legality.
func StepEvent(from, to taskertype.State) string { return stepEvents[move{from, to}] }

// target is the entity and state a state-change event reports.
type target struct {
	entity string
	to     taskertype.State
}

// eventTargets is the reverse of the tables. Events that report no state
// change (step.backoff, task.blocked, workflow.*) are absent, and so is
// in_progress -> pending, whose initialize_requested means "pending since
// creation".
var eventTargets = func() map[string]target {
	m := map[string]target{}
	for entity, table := range map[string]map[move]string{EntityTask: taskEvents, EntityStep: stepEvents} {
		for mv, name := range table {
			if mv.from != taskertype.StateInProgress || mv.to != taskertype.StatePending {
				m[name] = target{entity, mv.to}
			}
		}
	}
	return m
}()

// EventTarget returns the entity ("task" or "step") whose state the event
// named name reports and the state it moved to; ok is false for an event
// that reports no state change.
func EventTarget(name string) (entity string, to taskertype.State, ok bool) {
	t, ok := eventTargets[name]
	return t.entity, t.to, ok
}
