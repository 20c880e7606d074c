package tasker

import "context"

// StepMiddleware wraps the execution of step handlers: Config.StepMiddleware
// is applied around every handler the engine runs, the first element the
// outermost, as River's worker middleware and Temporal's interceptors are. It
// is the place for a span around each step, a metric per attempt, a log
// line, or a policy that rewrites a result or an error.
//
// HandleStep must call next to run the handler (or the next middleware) and
// return its result and error, possibly changed. For a remote step (handler
// remote) the handler ran in a remote worker: the chain runs in the process
// that receives its report, when it arrives, and next returns what the
// worker reported (results as json.RawMessage, or an error that
// IsPermanent, RetryAfterDelay and the error interfaces of this package
// see); what the chain returns is recorded.
type StepMiddleware interface {
	HandleStep(ctx context.Context, step *StepContext, next func(context.Context) (any, error)) (any, error)
}

// StepMiddlewareFunc adapts a function to a StepMiddleware.
type StepMiddlewareFunc func(ctx context.Context, step *StepContext, next func(context.Context) (any, error)) (any, error)

// HandleStep calls f.
func (f StepMiddlewareFunc) HandleStep(ctx context.Context, step *StepContext, next func(context.Context) (any, error)) (any, error) {
	return f(ctx, step, next)
}

// chainStep runs inner under the middleware chain mw.
func chainStep(ctx context.Context, mw []StepMiddleware, step *StepContext, inner func(context.Context) (any, error)) (any, error) {
	if len(mw) == 0 {
		return inner(ctx)
	}
	return mw[0].HandleStep(ctx, step, func(ctx context.Context) (any, error) {
		return chainStep(ctx, mw[1:], step, inner)
	})
}
