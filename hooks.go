package tasker

import (
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
)

// Hook observes the engine synchronously: OnEvent is called for every event
// the engine publishes (every state change of a task or a step has one, see
// SystemEvents), after the transaction that records it commits, in commit
// order, in the goroutine that committed it and before asynchronous
// subscribers see it. Unlike Subscribe, a hook never loses an event, so it is
// where metrics and tracing hang; it must therefore be fast and must not
// block (count, record, hand off). A panic in a hook is recovered and logged.
type Hook interface {
	OnEvent(ev *Event)
}

// HookFunc adapts a function to a Hook.
type HookFunc func(ev *Event)

// OnEvent calls f(ev).
func (f HookFunc) OnEvent(ev *Event) { f(ev) }

// StateChange is one committed state change of a task or of a step.
type StateChange struct {
	// Task is the task as the change left it (for a step's change, the task
	// as the same transaction saw it).
	Task *Task
	// Step is the step that changed; nil for a change of the task itself.
	Step *Step
	// To is the state entered.
	To State
	// Event is the name of the event that reports the change.
	Event string
	At    time.Time
}

// StateChangeOf returns the state change that ev reports; ok is false for
// events that report none (step.backoff, task.blocked, workflow.*, custom
// events).
func StateChangeOf(ev *Event) (StateChange, bool) {
	entity, to, ok := statemachine.EventTarget(ev.Name)
	if !ok {
		return StateChange{}, false
	}
	ch := StateChange{Task: ev.Task, To: to, Event: ev.Name, At: ev.At}
	if entity == statemachine.EntityStep {
		ch.Step = ev.Step
	}
	return ch, true
}

// SubscribeChanges returns a feed of every task and step state change (not
// only final ones) made through this process, and a function that ends it.
// Like Subscribe it never blocks the engine: a consumer more than 1,024
// changes behind loses changes, counted by DroppedEvents (a live view
// re-reads what it shows when that happens). Changes made by other processes
// on the same database are not in this feed; for those, WaitTask and the
// REST API read the database.
func (c *Client) SubscribeChanges() (<-chan StateChange, func()) {
	return c.bus.subscribeChanges()
}
