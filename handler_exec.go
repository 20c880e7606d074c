package tasker

import (
	"context"
	"errors"

	"github.com/tasker-go/tasker/internal/exechandler"
)

// execHandler is the built-in "exec" handler: it runs a command with a JSON
// document on stdin (task context, dependency results, attempt) and takes
// JSON on stdout as the step result. See docs/handlers.md.
type execHandler struct{}

// ValidateConfig implements ConfigValidator.
func (execHandler) ValidateConfig(config map[string]any) error {
	_, err := exechandler.ParseConfig(config)
	return err
}

func (execHandler) Handle(ctx context.Context, s *StepContext) (any, error) {
	cfg, err := exechandler.ParseConfig(exactConfig(s))
	if err != nil {
		return nil, PermanentError(err)
	}
	out, err := exechandler.Run(ctx, cfg, &exechandler.Input{
		TaskID: s.Task.ID, StepID: s.Step.ID, StepName: s.Step.Name,
		Namespace: s.Task.Namespace, TaskName: s.Task.Name, Version: s.Task.Version,
		Attempt: s.Attempt, Context: s.Task.Context, Dependencies: s.deps,
	})
	if err != nil {
		if exechandler.IsPermanent(err) {
			return nil, PermanentError(err)
		}
		return nil, err
	}
	return out, nil
}

// execDetail returns extra error detail (the stderr tail) of an exec failure.
func execDetail(err error) string {
	var ee *exechandler.ExitError
	if errors.As(err, &ee) {
		return ee.StderrTail
	}
	return ""
}
