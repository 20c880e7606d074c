package taskerexec

import (
	"context"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/exechandler"
)

// Handler is the exec handler. Its zero value is ready to use.
type Handler struct{}

var (
	_ tasker.StepHandler     = Handler{}
	_ tasker.ConfigValidator = Handler{}
	_ tasker.ExactConfigUser = Handler{}
)

// ValidateConfig implements tasker.ConfigValidator: the command, its
// environment, working directory, timeouts and exit codes are checked when
// a template loads.
func (Handler) ValidateConfig(config map[string]any) error {
	_, err := exechandler.ParseConfig(config)
	return err
}

// UsesExactConfig implements tasker.ExactConfigUser: numbers in the
// handler_config reach the command as written.
func (Handler) UsesExactConfig() bool { return true }

// Handle implements tasker.StepHandler: it runs the step's command. A
// configuration error, an exit code listed in permanent_exit_codes or a
// program that cannot start fail the step permanently; other failures are
// retried under the step's policy.
func (Handler) Handle(ctx context.Context, s *tasker.StepContext) (any, error) {
	cfg, err := exechandler.ParseConfig(s.Config)
	if err != nil {
		return nil, tasker.PermanentError(err)
	}
	in := &exechandler.Input{Attempt: s.Attempt, Dependencies: s.DependencyResults()}
	if t := s.Task; t != nil {
		in.TaskID, in.Namespace, in.TaskName, in.Version, in.Context = t.ID, t.Namespace, t.Name, t.Version, t.Context
	}
	if st := s.Step; st != nil {
		in.StepID, in.StepName = st.ID, st.Name
	}
	out, err := exechandler.Run(ctx, cfg, in)
	if exechandler.IsPermanent(err) {
		return nil, tasker.PermanentError(err)
	}
	return out, err
}
