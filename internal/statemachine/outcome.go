package statemachine

import "github.com/tasker-go/tasker/taskertype"

// Counts are a task's steps counted by what they can still do: the facts the
// task outcome rule needs. Drivers count them in SQL (taskerdriver.TaskProgress).
type Counts struct {
	Total int
	// Done counts complete and resolved_manually steps.
	Done       int
	InProgress int
	// Runnable counts steps that are not Blocked, pending or in error, with
	// every parent done, whatever their backoff.
	Runnable  int
	Blocked   int
	Cancelled int
}

// Decision is what finalization does to a task.
type Decision struct {
	// To is the state to move to; empty when the task stays as it is.
	To taskertype.State
	// Via is an intermediate state to pass through first (a pending task that
	// completes goes pending → in_progress → complete), or empty.
	Via taskertype.State
	// Reason is recorded in the transitions' metadata.
	Reason string
}

// Moves returns the moves of d from state, in order (none when d keeps the
// task as it is).
func (d Decision) Moves(from taskertype.State) [][2]taskertype.State {
	var out [][2]taskertype.State
	for _, to := range []taskertype.State{d.Via, d.To} {
		if to == "" {
			continue
		}
		out = append(out, [2]taskertype.State{from, to})
		from = to
	}
	return out
}

// Decide applies the task outcome rule (ARCHITECTURE §1, first match wins) to
// a task in state with the given step counts:
//
//  1. a finished task (complete, cancelled, resolved_manually) stays;
//  2. every step done: the task completes (resolved_manually when it was in
//     error, i.e. an operator's resolution finished it);
//  3. nothing runs or can run and some step is blocked or cancelled: error;
//  4. a task in error whose steps can progress again goes back to pending;
//  5. otherwise the task keeps running.
//
// Every decision it returns is a legal move of Task (checked by the tests).
func Decide(state taskertype.State, c Counts) Decision {
	switch state {
	case taskertype.StateComplete, taskertype.StateCancelled, taskertype.StateResolvedManually:
		return Decision{}
	}
	allDone := c.Total > 0 && c.Done == c.Total
	stuck := c.Runnable == 0 && c.InProgress == 0 && (c.Blocked > 0 || c.Cancelled > 0) && !allDone
	switch {
	case allDone && state == taskertype.StateError:
		return Decision{To: taskertype.StateResolvedManually, Reason: "all_steps_done_after_manual_resolution"}
	case allDone && state == taskertype.StatePending:
		return Decision{Via: taskertype.StateInProgress, To: taskertype.StateComplete, Reason: "all_steps_complete"}
	case allDone:
		return Decision{To: taskertype.StateComplete, Reason: "all_steps_complete"}
	case stuck && state != taskertype.StateError:
		return Decision{To: taskertype.StateError, Reason: "steps_in_error_state"}
	case !stuck && state == taskertype.StateError:
		return Decision{To: taskertype.StatePending, Reason: "steps_runnable_again"}
	}
	return Decision{}
}
