package tasker

import (
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/retrypolicy"
)

// Validate checks every field of the configuration and reports each one that
// makes no sense in one *ValidationError, whose Fields name the field (as
// "Worker.Concurrency") and say how to fix it. Zero values are valid: they
// mean the documented defaults. NewClient calls it.
func (cfg *Config) Validate() error {
	fields := map[string]string{}
	w := cfg.Worker
	if w.Concurrency < 0 {
		fields["Worker.Concurrency"] = fmt.Sprintf("is %d; it must be 1 or more (0 means the default, 16)", w.Concurrency)
	}
	if w.Passes < 0 || w.Passes > MaxWorkerPasses {
		fields["Worker.Passes"] = fmt.Sprintf("is %d; it must be 1 to %d (0 means 1)", w.Passes, MaxWorkerPasses)
	}
	for name, d := range map[string]time.Duration{
		"Worker.LeaseDuration": w.LeaseDuration, "Worker.PollInterval": w.PollInterval,
		"Worker.RescueInterval": w.RescueInterval, "Worker.StepTimeout": w.StepTimeout, "Worker.Retention": w.Retention,
		"Worker.ScheduleGrace": w.ScheduleGrace,
	} {
		if d < 0 {
			fields[name] = fmt.Sprintf("is %v; it must be positive (0 means the default)", d)
		}
	}
	if w.LeaseDuration > 0 && w.LeaseDuration < 3*time.Millisecond {
		fields["Worker.LeaseDuration"] = fmt.Sprintf("is %v; it must be at least 3ms (heartbeats run every third of it)", w.LeaseDuration)
	}
	for i, h := range w.Handlers {
		if h == "" {
			fields[fmt.Sprintf("Worker.Handlers[%d]", i)] = "is empty: name a registered handler, or leave Handlers empty for all"
		}
	}
	if cfg.HealthWorkerWindow < 0 {
		fields["HealthWorkerWindow"] = fmt.Sprintf("is %v; it must be positive (0 means the default, 5m)", cfg.HealthWorkerWindow)
	}
	switch cfg.IdentityStrategy {
	case "", IdentityDefault, IdentityHash:
	default:
		fields["IdentityStrategy"] = fmt.Sprintf("%q is unknown: use %q, %q or set IdentityFunc for a custom strategy", cfg.IdentityStrategy, IdentityDefault, IdentityHash)
	}
	if err := cfg.Backoff.overrides().Apply(retrypolicy.Policy{}).WithDefaults().Validate(); err != nil {
		fields["Backoff"] = err.Error()
	}
	for i, h := range cfg.Hooks {
		if h == nil {
			fields[fmt.Sprintf("Hooks[%d]", i)] = "is nil: remove it"
		}
	}
	for i, m := range cfg.StepMiddleware {
		if m == nil {
			fields[fmt.Sprintf("StepMiddleware[%d]", i)] = "is nil: remove it"
		}
	}
	if err := ValidateSubscriptions(cfg.Subscriptions); err != nil {
		fields["Subscriptions"] = err.Error()
	}
	if len(fields) > 0 {
		return &ValidationError{Message: "tasker: invalid Config", Fields: fields}
	}
	return nil
}
