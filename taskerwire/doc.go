// Package taskerwire holds the JSON documents of the remote-worker protocol
// of Tasker for Go, the routes under /tasker/workers that workers in any
// language use to claim steps of remote queues, heartbeat their leases and
// report results. The server (taskerhttp and the root package's
// Client.ClaimRemoteSteps, FinishRemoteStep, ...), the Go client
// (remoteworker) and the tasker command share these types, so the protocol
// is written down once.
//
// It imports the standard library only, so that remoteworker stays free of
// the engine's dependencies; nothing in the module may make it import more.
package taskerwire
