package tmplfile

import "time"

// Defaults applied by Parse when a template leaves a key out.
const (
	// DefaultNamespace is the namespace_name of a template that names none.
	DefaultNamespace = "default"
	// DefaultVersion is the version of a template that names none.
	DefaultVersion = "0.1.0"
	// IdentityDefault makes every task request create a new task.
	IdentityDefault = "default"
	// IdentityHash makes identical task requests (same name, namespace,
	// version, initiator, source system, reason and context) return the
	// existing task.
	IdentityHash = "hash"
)

// Template is one parsed task template file.
type Template struct {
	// File is the path the template was loaded from ("" when parsed from
	// memory).
	File string `json:"file,omitempty"`
	// Name names the task. It matches ^[A-Za-z0-9_][A-Za-z0-9_.-]*$.
	Name string `json:"name"`
	// NamespaceName groups templates; it defaults to "default".
	NamespaceName string `json:"namespace_name"`
	// Version is a semantic version (MAJOR.MINOR.PATCH); it defaults to
	// "0.1.0".
	Version string `json:"version"`
	// Description says what the task does.
	Description string `json:"description,omitempty"`
	// TaskHandlerClass is accepted for compatibility with the original
	// format and otherwise unused.
	TaskHandlerClass string `json:"task_handler_class,omitempty"`
	// ModuleNamespace is accepted for compatibility with the original format
	// and otherwise unused.
	ModuleNamespace string `json:"module_namespace,omitempty"`
	// Concurrent is accepted for compatibility with the original format and
	// otherwise unused (nil when absent).
	Concurrent *bool `json:"concurrent,omitempty"`
	// DefaultDependentSystem is the dependent system of steps that name
	// none; Parse already copies it into those steps.
	DefaultDependentSystem string `json:"default_dependent_system,omitempty"`
	// NamedSteps, when present, lists every step name.
	NamedSteps []string `json:"named_steps,omitempty"`
	// Schema is the JSON Schema of the task context (nil when none). Parse
	// has checked that it compiles with internal/ctxschema.
	Schema map[string]any `json:"schema,omitempty"`
	// IdentityStrategy is IdentityDefault or IdentityHash (a Go extension);
	// empty when the file does not say, leaving the choice to the client.
	IdentityStrategy string `json:"identity_strategy"`
	// Steps are the step templates in file order (YAML key step_templates),
	// with the overrides of the selected environment already merged in.
	Steps []Step `json:"step_templates"`
	// Schedules are the template's schedules (YAML schedules), in file
	// order.
	Schedules []Schedule `json:"schedules,omitempty"`
	// Environments holds the raw environments.<env>.step_templates
	// overrides of every environment, as written in the file.
	Environments map[string]Environment `json:"environments,omitempty"`
	// Warnings are problems that do not stop the template from loading: a
	// handler_config reference to a variable the loading process does not
	// have (the worker that runs the step may have it).
	Warnings []*Error `json:"-"`
}

// Step is one step template.
type Step struct {
	// Name identifies the step within its template.
	Name string `json:"name"`
	// Description says what the step does.
	Description string `json:"description,omitempty"`
	// Handler names the registered handler that runs the step (YAML
	// handler, or its alias handler_class).
	Handler string `json:"handler"`
	// DependentSystem names the system the step talks to; when the step
	// names none, Parse copies the template's default_dependent_system.
	DependentSystem string `json:"dependent_system,omitempty"`
	// HandlerConfig is free-form configuration passed to the handler.
	HandlerConfig map[string]any `json:"handler_config,omitempty"`
	// DependsOnStep names one parent step.
	DependsOnStep string `json:"depends_on_step,omitempty"`
	// DependsOnSteps names parent steps; a single string in the file counts
	// as a one-item list.
	DependsOnSteps []string `json:"depends_on_steps,omitempty"`
	// DefaultRetryable says whether failed attempts may be retried (nil:
	// the engine's default).
	DefaultRetryable *bool `json:"default_retryable,omitempty"`
	// DefaultRetryLimit is the maximum number of attempts, the first one
	// included (nil: the engine's default). It is at least 1.
	DefaultRetryLimit *int `json:"default_retry_limit,omitempty"`
	// Skippable is accepted for compatibility with the original format.
	Skippable bool `json:"skippable,omitempty"`
	// CustomEvents declares the custom events the step's handler publishes.
	CustomEvents []CustomEvent `json:"custom_events,omitempty"`
	// Timeout bounds one attempt (0: the engine's default). In YAML it is a
	// Go duration string ("30s", "5m") or an integer number of seconds.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Backoff overrides the engine's retry delays for this step (nil: the
	// engine's defaults).
	Backoff *Backoff `json:"backoff,omitempty"`
	// Line is the line of the step in its file, for error messages.
	Line int `json:"line,omitempty"`
}

// Dependencies returns the step's parents: DependsOnStep followed by
// DependsOnSteps, without duplicates, in the order written.
func (s Step) Dependencies() []string {
	var deps []string
	seen := make(map[string]bool)
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			deps = append(deps, name)
		}
	}
	add(s.DependsOnStep)
	for _, d := range s.DependsOnSteps {
		add(d)
	}
	return deps
}

// CustomEvent declares a custom event that a step's handler may publish.
type CustomEvent struct {
	// Name is namespaced, such as "order.fulfilled".
	Name string `json:"name"`
	// Description says what the event means.
	Description string `json:"description,omitempty"`
}

// Backoff overrides the retry delays of one step. Zero durations and a nil
// Jitter leave the engine's defaults in place.
type Backoff struct {
	// Base is the delay before the first retry; later retries double it.
	Base time.Duration `json:"base,omitempty"`
	// Max caps the exponential delay.
	Max time.Duration `json:"max,omitempty"`
	// MaxRequested caps a delay requested by the server (Retry-After) or
	// the handler.
	MaxRequested time.Duration `json:"max_requested,omitempty"`
	// Jitter is the random spread, in [0, 1]: 0.1 means ±10 %.
	Jitter *float64 `json:"jitter,omitempty"`
}

// Environment holds the step overrides of one environment.
type Environment struct {
	// StepTemplates are the overrides, in file order.
	StepTemplates []StepOverride `json:"step_templates"`
}

// StepOverride changes some keys of one step in one environment.
type StepOverride struct {
	// Name is the name of the step to change.
	Name string `json:"name"`
	// Values maps each overridden step key (such as "handler_config") to
	// its value as written in the file. Variables (${VAR}) are substituted
	// only in the selected environment's overrides.
	Values map[string]any `json:"values,omitempty"`
	// Line is the line of the override in its file.
	Line int `json:"line,omitempty"`
}

// Options tune Parse and LoadDir.
type Options struct {
	// Env selects the environment whose overrides are merged into the steps
	// (for example the value of TASKER_ENV); "" selects none.
	Env string
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Verbatim reads the document's strings as they are, substituting and
	// checking no ${VAR}: a template's stored canonical form, whose
	// references outside handler_config were expanded when its file was
	// loaded and whose handler_config references were checked then.
	Verbatim bool
}
