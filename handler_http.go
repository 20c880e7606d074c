package tasker

import (
	"context"

	"github.com/tasker-go/tasker/internal/httpstep"
)

// httpHandler is the built-in "http" handler: it calls an HTTP API (method,
// url, params, headers, body — by default the task context for POST, PUT and
// PATCH — with {{context.…}} and {{dependencies.…}} placeholders, auth from
// the environment, TLS options and a per-host rate limit) and returns
// {"status", "response_headers", "body"}. 429 and 503 are retried after the
// server's Retry-After; 408, 425, other 5xx, timeouts and connection errors
// are retried with the step's backoff; other non-2xx statuses fail the step
// permanently. Each request carries an Idempotency-Key stable across the
// step's attempts. See docs/handlers.md.
type httpHandler struct{}

// ValidateConfig implements ConfigValidator.
func (httpHandler) ValidateConfig(config map[string]any) error {
	_, err := httpstep.ParseConfig(config)
	return err
}

func (httpHandler) Handle(ctx context.Context, s *StepContext) (any, error) {
	cfg, err := httpstep.ParseConfig(s.Config)
	if err != nil {
		return nil, PermanentError(err)
	}
	out, err := httpstep.Run(ctx, cfg, &httpstep.Input{
		Step: s.Step.Name, Attempt: s.Attempt, Context: s.Task.Context, Dependencies: s.deps,
		IdempotencyKey: s.IdempotencyKey(), Now: s.now,
	})
	if err != nil {
		switch permanent, after := httpstep.Decide(err); {
		case permanent:
			return nil, PermanentError(err)
		case after > 0:
			return nil, RetryAfter(err, after)
		}
		return nil, err
	}
	return out, nil
}
