// Command tasker runs and inspects Tasker for Go workflows: task commands,
// workers, migrations and template tools. Configuration comes from flags,
// then environment variables (TASKER_DATABASE_URL, TASKER_TEMPLATES,
// TASKER_ENV, TASKER_CONFIG, TASKER_SERVER, TASKER_ADDR, TASKER_WORKER_TOKEN), then an optional
// YAML config file, then defaults. `tasker serve` runs the REST API; with
// --server URL the task, handlers, token and analytics commands talk to it
// instead of the database.
//
// The command is an adapter on the public API: it uses the root package, the
// drivers, taskerhttp (serve), taskersub with taskersub/taskernats (the
// binary sends to NATS subscriptions) and, with --server, the REST API
// through its own client (apiclient.go).
package main
