// Package taskerlog puts a record's context into Tasker's log records: the
// trace_id and span_id of the OpenTelemetry span active in the record's
// context, and the attributes added to the context with With (the engine
// adds task_id, step and attempt for the whole run of a step, and the REST
// handler request_id for a request).
//
// Tasker wraps the logger it is given (tasker.Config.Logger) with Handler,
// so a Go program needs nothing more than
//
//	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
//	client, err := tasker.NewClient(ctx, driver, &tasker.Config{Logger: logger})
//
// and may wrap its own logger too, so that the records it writes inside a
// step's handler (with the handler's ctx) carry the same attributes:
//
//	slog.SetDefault(slog.New(taskerlog.NewHandler(slog.NewJSONHandler(os.Stderr, nil))))
//	slog.InfoContext(ctx, "charging the card") // ... task_id=42 step=charge attempt=1 trace_id=...
package taskerlog
