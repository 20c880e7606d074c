package tasker

import (
	"context"

	"github.com/tasker-go/tasker/internal/exechandler"
	"github.com/tasker-go/tasker/internal/httpstep"
)

// The built-in handlers "exec" and "http" that NewRegistry registers. Their
// engines are internal/exechandler and internal/httpstep; their public,
// configurable forms are the packages taskerexec and taskerhttpstep, which
// build on this package (so it cannot import them) and behave as these do.
// Like any handler, they talk to the engine only through the optional
// interfaces: ConfigValidator, ExactConfigUser, ConfigDependencies, and
// errors that are DetailedError, ClassifiedError or DetailTextError.

// execHandler is the built-in "exec" handler: it runs a command with a JSON
// document on stdin (task context, dependency results, attempt) and takes
// JSON on stdout as the step result. See docs/handlers.md.
type execHandler struct{}

// ValidateConfig implements ConfigValidator.
func (execHandler) ValidateConfig(config map[string]any) error {
	_, err := exechandler.ParseConfig(config)
	return err
}

// UsesExactConfig implements ExactConfigUser.
func (execHandler) UsesExactConfig() bool { return true }

func (execHandler) Handle(ctx context.Context, s *StepContext) (any, error) {
	cfg, err := exechandler.ParseConfig(s.Config)
	if err != nil {
		return nil, PermanentError(err)
	}
	out, err := exechandler.Run(ctx, cfg, &exechandler.Input{
		TaskID: s.Task.ID, StepID: s.Step.ID, StepName: s.Step.Name,
		Namespace: s.Task.Namespace, TaskName: s.Task.Name, Version: s.Task.Version,
		Attempt: s.Attempt, Context: s.Task.Context, Dependencies: s.deps,
	})
	if exechandler.IsPermanent(err) {
		return nil, PermanentError(err)
	}
	return out, err
}

// httpHandler is the built-in "http" handler: it calls an HTTP API
// described by the step's handler_config and returns {"status",
// "response_headers", "body"}. See taskerhttpstep and docs/handlers.md.
type httpHandler struct{}

// ValidateConfig implements ConfigValidator.
func (httpHandler) ValidateConfig(config map[string]any) error {
	_, err := httpstep.ParseConfig(config)
	return err
}

// UsesExactConfig implements ExactConfigUser.
func (httpHandler) UsesExactConfig() bool { return true }

// ConfigDependencies implements ConfigDependencies.
func (httpHandler) ConfigDependencies(config map[string]any) ([]string, error) {
	cfg, err := httpstep.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	return cfg.Dependencies(), nil
}

func (httpHandler) Handle(ctx context.Context, s *StepContext) (any, error) {
	cfg, err := httpstep.ParseConfig(s.Config)
	if err != nil {
		return nil, PermanentError(err)
	}
	resp, err := httpstep.Do(ctx, cfg, &httpstep.Input{
		Step: s.Step.Name, Attempt: s.Attempt, Context: s.Task.Context, Dependencies: s.deps,
		IdempotencyKey: s.IdempotencyKey(), Now: s.Now,
	})
	if err != nil {
		// The internal errors are DetailedError and ClassifiedError
		// ("*tasker.HTTPError") themselves.
		switch permanent, after := httpstep.Decide(err); {
		case permanent:
			return nil, PermanentError(err)
		case after > 0:
			return nil, RetryAfter(err, after)
		}
		return nil, err
	}
	return httpstep.Result(resp, cfg.MaxResponse)
}
