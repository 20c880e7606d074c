package statemachine

import "github.com/tasker-go/tasker/taskertype"

// move is a (from, to) pair; from "" is the initial transition.
type move struct{ from, to taskertype.State }

// moveEvents is the event table of spec §4: per move, the event a task
// fires and the event a step fires ("" where that entity's move fires
// none). Our additions: error -> cancelled (both, the same event as other
// cancellations) and the step's in_progress -> pending
// ("step.initialize_requested", as the task's in_progress -> pending).
var moveEvents = map[move]struct{ task, step string }{
	{"", taskertype.StatePending}:                                 {taskertype.EventTaskInitializeRequested, taskertype.EventStepInitializeRequested},
	{taskertype.StateInProgress, taskertype.StatePending}:         {taskertype.EventTaskInitializeRequested, taskertype.EventStepInitializeRequested},
	{"", taskertype.StateInProgress}:                              {taskertype.EventTaskStartRequested, taskertype.EventStepExecutionRequested},
	{taskertype.StatePending, taskertype.StateInProgress}:         {taskertype.EventTaskStartRequested, taskertype.EventStepExecutionRequested},
	{"", taskertype.StateComplete}:                                {taskertype.EventTaskCompleted, taskertype.EventStepCompleted},
	{taskertype.StateInProgress, taskertype.StateComplete}:        {taskertype.EventTaskCompleted, taskertype.EventStepCompleted},
	{"", taskertype.StateError}:                                   {taskertype.EventTaskFailed, taskertype.EventStepFailed},
	{taskertype.StatePending, taskertype.StateError}:              {taskertype.EventTaskFailed, taskertype.EventStepFailed},
	{taskertype.StateInProgress, taskertype.StateError}:           {taskertype.EventTaskFailed, taskertype.EventStepFailed},
	{taskertype.StateError, taskertype.StatePending}:              {taskertype.EventTaskRetryRequested, taskertype.EventStepRetryRequested},
	{"", taskertype.StateCancelled}:                               {taskertype.EventTaskCancelled, taskertype.EventStepCancelled},
	{taskertype.StatePending, taskertype.StateCancelled}:          {taskertype.EventTaskCancelled, taskertype.EventStepCancelled},
	{taskertype.StateInProgress, taskertype.StateCancelled}:       {taskertype.EventTaskCancelled, taskertype.EventStepCancelled},
	{taskertype.StateError, taskertype.StateCancelled}:            {taskertype.EventTaskCancelled, taskertype.EventStepCancelled},
	{taskertype.StateComplete, taskertype.StateCancelled}:         {taskertype.EventTaskCancelled, ""},
	{taskertype.StateResolvedManually, taskertype.StateCancelled}: {taskertype.EventTaskCancelled, ""},
	{"", taskertype.StateResolvedManually}:                        {taskertype.EventTaskResolvedManually, taskertype.EventStepResolvedManually},
	{taskertype.StatePending, taskertype.StateResolvedManually}:   {"", taskertype.EventStepResolvedManually},
	{taskertype.StateError, taskertype.StateResolvedManually}:     {taskertype.EventTaskResolvedManually, taskertype.EventStepResolvedManually},
}

// TaskEvent returns the name of the event fired when a task moves from
// from to to (from "" is the initial transition), following the table of
// spec §4 plus error -> cancelled; "" when the pair is unmapped. It does
// not check legality: the table still maps complete and resolved_manually
// -> cancelled, which Task rejects.
func TaskEvent(from, to taskertype.State) string { return moveEvents[move{from, to}].task }

// StepEvent returns the name of the event fired when a step moves from
// from to to (from "" is the initial transition), following the table of
// spec §4 plus error -> cancelled and in_progress -> pending; "" when the
// pair is unmapped. It does not check legality.
func StepEvent(from, to taskertype.State) string { return moveEvents[move{from, to}].step }

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
	for mv, ev := range moveEvents {
		if mv.from == taskertype.StateInProgress && mv.to == taskertype.StatePending {
			continue
		}
		for entity, name := range map[string]string{EntityTask: ev.task, EntityStep: ev.step} {
			if name != "" {
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
