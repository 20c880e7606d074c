package tasker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// StepHandler runs one attempt of a step. It returns a JSON-encodable result
// (stored as the step's results and given to its children) or an error. A
// plain error is retried under the step's retry policy; wrap it with
// PermanentError to stop retrying or with RetryAfter to ask for a delay.
//
// Handlers run at least once per attempt and may run again after a worker is
// lost mid-step: make them idempotent (StepContext.IdempotencyKey helps).
type StepHandler interface {
	Handle(ctx context.Context, step *StepContext) (any, error)
}

// ConfigValidator is implemented by handlers that can check a step's
// handler_config when its template is registered, so that a bad
// configuration is a loading error instead of a failure at run time. The
// config it is given has its ${VAR} references expanded from the loading
// process's environment (LoadOptions.LookupEnv); when one of them is not set
// there, ValidateConfig (and ConfigDependencies) is not called for that step
// and the handler meets the configuration only when the step runs. The
// built-in exec and http handlers implement it.
type ConfigValidator interface {
	ValidateConfig(config map[string]any) error
}

// ExactConfigUser is implemented by handlers that read their handler_config
// with exact numbers: their StepContext.Config holds json.Number values
// (as written, so that a large integer such as an account number survives)
// instead of float64, and RegisterTemplate gives ValidateConfig that same
// form. The built-in exec and http handlers implement it.
type ExactConfigUser interface {
	UsesExactConfig() bool
}

// ConfigDependencies is implemented by handlers whose handler_config reads
// the results of parent steps (such as {{dependencies.<step>}} placeholders
// of the http handler): RegisterTemplate checks that every step it names is
// a parent of the step, since only parents' results reach a handler.
type ConfigDependencies interface {
	ConfigDependencies(config map[string]any) ([]string, error)
}

// usesExactConfig reports whether h reads its handler_config with exact
// numbers (ExactConfigUser).
func usesExactConfig(h StepHandler) bool {
	e, ok := h.(ExactConfigUser)
	return ok && e.UsesExactConfig()
}

// StepHandlerFunc adapts a function to StepHandler.
type StepHandlerFunc func(ctx context.Context, step *StepContext) (any, error)

// Handle implements StepHandler.
func (f StepHandlerFunc) Handle(ctx context.Context, step *StepContext) (any, error) {
	return f(ctx, step)
}

// StepContext is what a handler sees of the step it runs.
type StepContext struct {
	// Task is the step's task, with its context.
	Task *taskertype.Task
	// Step is the step, in_progress, with Attempts counting this attempt.
	Step *taskertype.Step
	// Attempt is this attempt's number, starting at 1.
	Attempt int
	// Config is the step template's handler_config (nil when none), with
	// its ${VAR} references expanded from the environment of this worker
	// (WorkerConfig.LookupEnv) when the step runs. The stored and served
	// handler_config (Step.HandlerConfig, the REST views) keeps the
	// references: do not copy secrets from Config into results, errors or
	// events.
	Config map[string]any
	// Logger is the client's logger with task and step attributes.
	Logger *slog.Logger

	deps     map[string]json.RawMessage
	registry *Registry
	now      func() time.Time
	// annotate records an annotation of the task (Annotate); nil when the
	// step context was not made by a Client.
	annotate  func(annotationType string, annotation any) error
	mu        sync.Mutex
	published []*Event
}

// DecodeContext decodes the task context into v.
func (s *StepContext) DecodeContext(v any) error {
	if err := json.Unmarshal(s.Task.Context, v); err != nil {
		return fmt.Errorf("decode task context: %w", err)
	}
	return nil
}

// DependencyResult decodes the results of the parent step name into v.
func (s *StepContext) DependencyResult(name string, v any) error {
	raw, ok := s.deps[name]
	if !ok {
		return fmt.Errorf("%w: step %q is not a dependency of %q (dependencies: %v)", ErrNotFound, name, s.Step.Name, s.DependencyNames())
	}
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode result of %q: %w", name, err)
	}
	return nil
}

// DependencyResults returns the raw JSON results of the parent steps by name.
func (s *StepContext) DependencyResults() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s.deps))
	for k, v := range s.deps {
		out[k] = v
	}
	return out
}

// DependencyNames lists the parent steps, sorted.
func (s *StepContext) DependencyNames() []string {
	out := sortedKeys(s.deps)
	return out
}

// DecodeConfig decodes the handler_config into v (through JSON).
func (s *StepContext) DecodeConfig(v any) error {
	b, err := json.Marshal(s.Config)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode handler_config: %w", err)
	}
	return nil
}

// Now returns the time on the client's clock (Config.Now), for handlers
// that compare dates (a Retry-After date, a deadline) under a test clock.
func (s *StepContext) Now() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

// IdempotencyKey is stable across the attempts of this step: "task-<id>/<step
// name>". Pass it to outside systems so a repeated attempt does not repeat
// side effects.
func (s *StepContext) IdempotencyKey() string {
	return "task-" + strconv.FormatInt(s.Task.ID, 10) + "/" + s.Step.Name
}

// encodeResult turns a handler's result into JSON.
func encodeResult(v any) (json.RawMessage, error) {
	switch r := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		if json.Valid(r) {
			return r, nil
		}
	case []byte:
		if json.Valid(r) {
			return json.RawMessage(r), nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, PermanentError(fmt.Errorf("encode step result as JSON: %w", err))
	}
	return b, nil
}

// decodeExact decodes a JSON object with numbers as json.Number.
func decodeExact(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
