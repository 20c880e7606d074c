package recorder

import (
	"encoding/json"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// Result is the outcome of running one step's handler.
type Result struct {
	// Results is the JSON result of a successful attempt.
	Results json.RawMessage
	// Err is nil on success.
	Err error
	// Permanent marks a failure that must not be retried.
	Permanent bool
	// RetryAfter is a delay requested by the handler or a server.
	RetryAfter time.Duration
	// Kind overrides the error kind ("retryable" or "permanent" by default).
	Kind string
	// Stack holds a panic's stack or other detail such as a stderr tail.
	Stack string
	// Details is structured detail of a failure (stored on the step error).
	Details json.RawMessage
	// Class overrides the error class (by default the Go type of Err), for
	// errors reported by remote workers in other languages.
	Class string
	// Events are custom events the handler published; they are delivered
	// after the attempt's result is recorded (and dropped if it is not).
	Events []*taskertype.Event
}

// Attempt is one finished attempt to record.
type Attempt struct {
	// Step is the step as it was claimed (Attempts is this attempt's
	// number) and Task its task.
	Step *taskertype.Step
	Task *taskertype.Task
	// Owner is the lease owner the attempt ran under: the drivers record it
	// only if Owner still holds that attempt.
	Owner string
	// Started and Ended bound the attempt (its duration in events).
	Started, Ended time.Time
	Result         Result
	// Children is how many steps depend on Step
	// (taskerdriver.ClaimedStep.Children; zero when not known). The
	// completion of a step with children leaves its task running (unless
	// they were all resolved manually meanwhile), so a pass of such
	// completions does not offer the driver to complete a task
	// (RecordAndClaim).
	Children int
}

// ReadiesNothing reports whether recording attempts can make no step
// ready to run: they are all completions of steps that no step depends
// on (Attempt.Children zero, which the caller must know: a claimed step's
// taskerdriver.ClaimedStep.Children). A completion readies only children
// of its step, and a failure may make its own step ready again (a retry
// due at once). A worker whose last claim found nothing more need not
// claim in a pass of such attempts.
func ReadiesNothing(attempts []Attempt) bool {
	for _, a := range attempts {
		if a.Result.Err != nil || a.Children > 0 {
			return false
		}
	}
	return len(attempts) > 0
}

// RetryAt is the earliest time at which a step that recorded left in
// error will be ready to retry (zero: none): a worker that does not claim
// in every pass (ReadiesNothing) wakes then.
func RetryAt(recorded []Recorded) time.Time {
	var at time.Time
	for _, r := range recorded {
		if r.Lost || r.Blocked || r.Step == nil || r.Step.State != taskertype.StateError {
			continue
		}
		if next := r.Step.NextAttemptAt; at.IsZero() || next.Before(at) {
			at = next
		}
	}
	return at
}

// Recorded is what Record did with one Attempt.
type Recorded struct {
	// Step is the step as recorded; nil when Lost.
	Step *taskertype.Step
	// Lost: the owner no longer held the attempt (its lease expired and it
	// was rescued, the step was cancelled, or a newer attempt started), so
	// nothing was written.
	Lost bool
	// Blocked: the failure blocked the step (no retry).
	Blocked bool
}

// Batch collects the events of a transaction, to publish after it commits
// (and to write to the outbox inside it).
type Batch struct {
	Events []*taskertype.Event
}

// Add appends events.
func (b *Batch) Add(events ...*taskertype.Event) { b.Events = append(b.Events, events...) }

// Reset empties the batch (a transaction that is retried starts afresh).
func (b *Batch) Reset() { b.Events = b.Events[:0] }
