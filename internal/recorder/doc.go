// Package recorder is where a step attempt's life is written to the store:
// a claim and its events (Claim), a finished attempt — completed, failed
// with its retry time, or blocked — and the children it readies (Record), an
// attempt given back unrun (Release), and the task outcome that follows
// (FinalizeMany). Each works inside the caller's transaction, so a result
// and its consequences commit together, and appends the events of what it
// wrote to a Batch that the caller publishes after the commit.
//
// It is River's "completer": one code path shared by the in-process worker
// (internal/orchestrator), remote workers (orchestrator.Remote), the lease
// rescuer (internal/maintenance) and the client's operator actions (manual
// resolution, cancellation of a step). The rules it applies — which moves
// are legal, when a step is blocked, what a task's outcome is, which event a
// move fires — are internal/statemachine's; the backoff arithmetic is
// internal/retrypolicy's.
//
// It may import the driver seam (taskerdriver), taskertype and the pure
// internal packages (statemachine, retrypolicy, jsonclean); never the root
// package nor a driver.
package recorder
