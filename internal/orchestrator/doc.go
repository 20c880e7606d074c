// Package orchestrator runs steps: the in-process worker's loop (claim
// ready steps, dispatch their handlers concurrently under their timeouts,
// heartbeat their leases, hand the finished attempts to the recorder) and
// Remote, which serves the steps of remote queues to workers in other
// processes. What is written — claims, results, retries, task outcomes and
// their events — is internal/recorder's; leader-only services (lease rescue,
// retention) are internal/maintenance's. It knows nothing of templates or
// handlers: the root package gives it a RunFunc.
//
// It may import the driver seam (taskerdriver), taskertype and the internal
// packages recorder, retrypolicy and statemachine; never the root package
// nor a driver.
package orchestrator
