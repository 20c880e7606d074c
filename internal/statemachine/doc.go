// Package statemachine holds the pure transition tables of tasks and
// steps: which state changes are legal, which guards apply and which event
// each change fires.
//
// Both machines use the states of taskertype: pending (initial),
// in_progress, complete, error, cancelled and resolved_manually. The tables
// follow spec §4 with these deliberate differences (ARCHITECTURE §1):
//
//   - error -> pending is the retry move that the original engine forgot
//     (spec §5.7); it fires "task.retry_requested" / "step.retry_requested".
//   - error -> cancelled is allowed for tasks and steps, so a failed task
//     can be cancelled.
//   - A finished task cannot be cancelled: spec §4 allows complete ->
//     cancelled and resolved_manually -> cancelled, we do not (the REST API
//     answers 409 Conflict). complete, cancelled and resolved_manually are
//     terminal for both machines.
//   - step in_progress -> pending is allowed: a graceful shutdown releases
//     a claimed step that has not run its handler back to pending.
//
// A move to the current state is rejected with ErrSameState (the original
// engine treats it as a no-op that writes no transition row).
//
// It is the rule book the recorder, the client and internal/dag apply.
// Imports: the standard library and taskertype only.
package statemachine
