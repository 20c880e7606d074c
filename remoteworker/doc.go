// Package remoteworker runs the steps of remote queues of a Tasker for Go
// server in any Go program: it claims steps over the REST API
// (POST /tasker/workers/claim, long polling), runs a handler for each,
// heartbeats their leases while they run, and reports results and failures.
// It depends only on the standard library, the protocol's types
// (taskerwire) and the OpenTelemetry trace API, not on the engine.
//
//	w, err := remoteworker.New(remoteworker.Config{
//		ServerURL: "http://127.0.0.1:8080", Token: os.Getenv("TASKER_WORKER_TOKEN"),
//		Queues: []string{"billing"},
//	}, func(ctx context.Context, s *remoteworker.Step) (any, error) {
//		var order struct{ ID int `json:"order_id"` }
//		if err := s.DecodeContext(&order); err != nil {
//			return nil, remoteworker.Permanent(err)
//		}
//		return map[string]any{"charged": order.ID}, nil
//	})
//	...
//	err = w.Run(ctx) // until ctx is cancelled
//
// A handler's plain error is retried under the step's retry policy;
// Permanent stops the retries and RetryAfter asks for a delay. A step whose
// lease is lost (the worker was too slow to heartbeat, or the task was
// cancelled) has its context cancelled and its result is dropped by the
// server.
//
// The handler's context carries the task's trace context (the claim's
// traceparent), and the worker's requests about a step send it; with
// Config.TracerProvider every attempt is also a tasker.step span.
//
// This package imports the standard library, taskerwire and the
// OpenTelemetry trace API only (a Go program that runs remote steps does
// not link the engine, its database drivers or their dependencies).
package remoteworker
