// Package tasker is Tasker for Go, a workflow orchestration engine: a task
// is a directed acyclic graph of steps, described by a task template (YAML
// or Go), whose steps run on workers with retries, backoff, leases and an
// append-only audit trail of every state change, stored in PostgreSQL or
// SQLite.
//
// This package is the user API:
//
//   - Client (NewClient, Config) creates, inspects, cancels, resolves and
//     retries tasks, and runs in-process workers (Start, Stop,
//     RunUntilIdle); its remote-step methods serve workers in other
//     processes.
//   - Registry holds the task templates (TaskTemplate, StepTemplate,
//     LoadDir, LoadYAML) and the step handlers by name.
//   - StepHandler (StepHandlerFunc) runs one attempt of a step and sees it
//     through StepContext; PermanentError and RetryAfter mark its errors.
//     Optional interfaces let any handler, the built-ins included, say more
//     to the engine: ConfigValidator, ExactConfigUser and
//     ConfigDependencies at registration, DetailedError, ClassifiedError
//     and DetailTextError on the errors it returns.
//   - Event, Subscribe and SubscribeFunc publish what happens; the catalog
//     (SystemEvents, custom events) names it.
//   - ErrNotFound, ErrInvalidState, ErrLeaseLost and ValidationError are the
//     errors of the API.
//
// A program opens a driver, registers its handlers and templates, and runs:
//
//	drv, err := taskersqlite.Open("tasker.db")
//	...
//	reg := tasker.NewRegistry()
//	reg.MustRegisterHandler("charge", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
//		var order struct{ ID int `json:"order_id"` }
//		if err := s.DecodeContext(&order); err != nil {
//			return nil, tasker.PermanentError(err)
//		}
//		return map[string]any{"charged": order.ID}, nil
//	}))
//	if err := reg.LoadDir("templates", tasker.LoadOptions{}); err != nil { ... }
//	client, err := tasker.NewClient(ctx, drv, &tasker.Config{Registry: reg})
//	...
//	client.Start(ctx)
//	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "order", Context: map[string]any{"order_id": 7}})
//
// The other rooms of the module:
//
//   - taskertype: the persisted types (Task, Step, Transition, State,
//     Event), standard library only.
//   - taskerdriver: the storage seam, with taskerdriver/taskerpgx
//     (PostgreSQL) and taskerdriver/taskersqlite (SQLite).
//   - taskerhttpstep and taskerexec: the http and exec step handlers in
//     their public, configurable forms (NewRegistry registers both as "http"
//     and "exec", so YAML templates use them without Go code).
//   - taskersub: subscriptions that send events to outside systems (log,
//     webhook), and taskersub/taskernats for NATS, linked only by programs
//     that import it.
//   - taskerhttp: the REST API; taskerwire: the JSON documents of the
//     remote-worker protocol; remoteworker: the Go remote worker (standard
//     library only).
//   - taskerlog: the slog handler that puts trace_id, span_id, task_id,
//     step, attempt and request_id in log records (Config.Logger is
//     wrapped with it).
//   - cmd/tasker: the command-line tool.
//
// This package imports the standard library, taskertype, taskerdriver,
// taskersub, taskerwire, taskerlog (and through it
// go.opentelemetry.io/otel/trace) and its internal packages; never a
// database driver nor a NATS client.
package tasker
