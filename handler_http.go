package tasker

import (
	"context"
	"errors"
	"time"

	"github.com/tasker-go/tasker/internal/httpstep"
)

// httpHandler is the built-in "http" handler: it calls an HTTP API (method,
// url, headers, params, body — by default the task context for POST, PUT and
// PATCH) and returns {"status", "response_headers", "body"}. 429 and 503 are
// retried after the server's Retry-After, 408 and other 5xx are retried with
// the step's backoff, other non-2xx statuses fail the step permanently. Each
// request carries an Idempotency-Key stable across the step's attempts. See
// docs/handlers.md.
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
	now := s.now
	if now == nil {
		now = timeNow
	}
	out, err := httpstep.Run(ctx, cfg, s.Task.Context, s.IdempotencyKey(), now)
	if err != nil {
		var se *httpstep.StatusError
		if errors.As(err, &se) {
			switch {
			case se.Permanent:
				return nil, PermanentError(err)
			case se.RetryAfter > 0:
				return nil, RetryAfter(err, se.RetryAfter)
			}
		}
		return nil, err
	}
	return out, nil
}

var timeNow = time.Now
