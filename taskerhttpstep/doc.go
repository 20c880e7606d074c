// Package taskerhttpstep is the http step handler of Tasker for Go in its
// public, configurable form: Call makes a request as the built-in "http"
// handler does from a Go handler, and NewHandler registers the http handler
// under a name of your own with options (ProcessResults, the original
// engine's process_results):
//
//	reg.MustRegisterHandler("order_api", taskerhttpstep.NewHandler(taskerhttpstep.Options{
//		ProcessResults: func(s *tasker.StepContext, resp *taskerhttpstep.Response) (any, error) {
//			var order struct{ ID string `json:"id"` }
//			if err := resp.DecodeJSON(&order); err != nil {
//				return nil, tasker.PermanentError(err)
//			}
//			return map[string]any{"order_id": order.ID}, nil
//		},
//	}))
//
// The built-in "http" handler of tasker.NewRegistry behaves as
// NewHandler(Options{}); YAML templates need no Go code to use it. See
// docs/handlers.md for the handler_config keys.
//
// This package is an adapter on the public API: it imports the root package
// (for StepContext and the error markers) and internal/httpstep (the request
// engine, shared with the built-in handler). The root package cannot import
// it, which is why the built-in is registered from internal/httpstep
// directly; the names that moved here from the root (tasker.CallHTTP,
// tasker.HTTPConfig, ...) therefore have no alias there.
package taskerhttpstep
