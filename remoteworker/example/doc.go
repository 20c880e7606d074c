// Command example is a remote worker for the "billing" queue: it charges
// the order of the task context and returns a charge id. Run `tasker serve`
// with a worker token and a template with a `handler: remote` step first
// (see docs/remote-workers.md):
//
//	TASKER_WORKER_TOKEN=... go run ./remoteworker/example -server http://127.0.0.1:8080 -queue billing
//
// It imports the standard library and remoteworker only, as a remote worker
// outside this module would.
package main
