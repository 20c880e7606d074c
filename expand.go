package tasker

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/tasker-go/tasker/internal/envsubst"
	"github.com/tasker-go/tasker/internal/orchestrator"
)

// The ${VAR} references of a step's handler_config are kept as written in
// the template, the database and every view, and expanded (internal/envsubst)
// only where the step runs: expandConfig in the worker, probeConfig for the
// handlers' checks at load. Both return a redactor that puts the references
// back in place of the values in an error's text, so that a value that a
// handler quotes in an error is not stored nor logged.

// expandConfig expands the ${VAR} references of a step's handler_config
// with lookup, the environment of the process that runs the step. A
// variable that is unset (without a default) or a malformed reference is a
// permanent error naming the variable, never a value: retrying cannot help
// until the worker's environment changes (then retry the task).
func expandConfig(cfg map[string]any, lookup func(string) (string, bool), worker string) (map[string]any, func(string) string, error) {
	if !envsubst.Contains(cfg) {
		return cfg, nil, nil
	}
	out, problems := envsubst.Map(cfg, lookup)
	if len(problems) == 0 {
		return out, envsubst.Redactor(cfg, lookup), nil
	}
	p := problems[0]
	problem, fix := p.Describe()
	if !p.Malformed() {
		fix = fmt.Sprintf("set %s in the environment of worker %s (and of every worker that runs this step), or write ${%s:-default}; then retry the task", p.Name, worker, p.Name)
	}
	return nil, nil, fmt.Errorf("handler_config: %s; %s", problem, fix)
}

// probeConfig expands cfg's ${VAR} references with the loading process's
// environment (lookup, default os.LookupEnv) for the handlers' checks only
// (the expanded copy is dropped). complete is false when a variable is not
// set here: the check is then left to the run.
func probeConfig(cfg map[string]any, lookup func(string) (string, bool)) (expanded map[string]any, redact func(string) string, complete bool) {
	if !envsubst.Contains(cfg) {
		return cfg, nil, true
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	out, problems := envsubst.Map(cfg, lookup)
	return out, envsubst.Redactor(cfg, lookup), len(problems) == 0
}

// redactedError is an error whose text had values replaced by their
// references; errors.As and errors.Is still see the original.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError applies redact (nil: nothing to do) to err's text.
func redactError(err error, redact func(string) string) error {
	if err == nil || redact == nil {
		return err
	}
	msg := err.Error()
	if r := redact(msg); r != msg {
		return &redactedError{err: err, msg: r}
	}
	return err
}

// redactFailure applies redact to the stored parts of a failed attempt:
// its error's text, details and detail text. Results are stored as the
// handler returned them.
func redactFailure(res orchestrator.Result, redact func(string) string) orchestrator.Result {
	if res.Err == nil || redact == nil {
		return res
	}
	res.Err = redactError(res.Err, redact)
	res.Stack = redact(res.Stack)
	if len(res.Details) > 0 {
		if d := redact(string(res.Details)); json.Valid([]byte(d)) {
			res.Details = json.RawMessage(d)
		} else {
			res.Details = nil
		}
	}
	return res
}
