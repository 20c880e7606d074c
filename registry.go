package tasker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tasker-go/tasker/internal/tmplfile"
)

// Registry holds task templates, keyed by namespace, name and version, and
// step handlers, keyed by name. It is safe for concurrent use. A new registry
// has the built-in handlers ("exec", "http" and "remote") registered.
type Registry struct {
	mu        sync.RWMutex
	templates map[string]map[string]map[string]*TaskTemplate // namespace → name → version
	handlers  map[string]StepHandler
	names     []string          // sorted handler names, shared read-only; nil after a registration
	goEvents  map[string]string // custom events registered by Go code: name → description
}

// NewRegistry returns a registry with the built-in handlers.
func NewRegistry() *Registry {
	r := &Registry{templates: map[string]map[string]map[string]*TaskTemplate{}, handlers: map[string]StepHandler{}}
	r.handlers["exec"] = execHandler{}
	r.handlers["http"] = httpHandler{}
	r.handlers[RemoteHandler] = remoteHandler{}
	return r
}

// RegisterHandler registers a step handler under name. Registering a name
// twice is an error unless replace is true.
func (r *Registry) RegisterHandler(name string, h StepHandler, replace bool) error {
	if name == "" {
		return errors.New("register handler: empty name")
	}
	if h == nil {
		return fmt.Errorf("register handler %q: nil handler", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[name]; ok && !replace {
		return fmt.Errorf("register handler %q: already registered; pass replace=true to replace it", name)
	}
	r.handlers[name] = h
	r.names = nil
	return nil
}

// MustRegisterHandler is RegisterHandler that panics on error, for program
// set-up.
func (r *Registry) MustRegisterHandler(name string, h StepHandler) {
	if err := r.RegisterHandler(name, h, false); err != nil {
		panic(err)
	}
}

// Handler returns the handler registered under name.
func (r *Registry) Handler(name string) (StepHandler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[name]
	return h, ok
}

// HandlerNames lists the registered handler names, sorted.
func (r *Registry) HandlerNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.handlerNamesLocked()
}

// handlerSnapshot returns the sorted handler names without copying them:
// the caller must not modify the slice. A worker calls it once a pass.
func (r *Registry) handlerSnapshot() []string {
	r.mu.RLock()
	names := r.names
	r.mu.RUnlock()
	if names != nil {
		return names
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = r.handlerNamesLocked()
	}
	return r.names
}

func (r *Registry) handlerNamesLocked() []string {
	out := sortedKeys(r.handlers)
	return out
}

// RegisterOptions modify template registration.
type RegisterOptions struct {
	// Replace allows replacing a template with the same namespace, name and
	// version.
	Replace bool
	// AllowUnknownHandlers skips the check that every step's handler is
	// registered (useful to validate templates outside the program that
	// registers their Go handlers).
	AllowUnknownHandlers bool
}

// RegisterTemplate validates t and registers it. The registry keeps t (do not
// modify it afterwards).
func (r *Registry) RegisterTemplate(t *TaskTemplate, opts RegisterOptions) error {
	return r.registerTemplate(t, opts, nil)
}

// registerTemplate is RegisterTemplate; lookup (nil: os.LookupEnv) expands
// the handler_config references for the handlers' checks.
func (r *Registry) registerTemplate(t *TaskTemplate, opts RegisterOptions, lookup func(string) (string, bool)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var known func(string) bool
	if !opts.AllowUnknownHandlers {
		known = func(n string) bool { _, ok := r.handlers[n]; return ok }
	}
	if err := t.prepare(known, r.handlerNamesLocked); err != nil {
		return err
	}
	var configErrs []error // every step's handler_config problem, not only the first
	for _, s := range t.Steps {
		if v, ok := r.handlers[s.Handler].(ConfigValidator); ok {
			cfg, err := configAsStored(s.HandlerConfig, usesExactConfig(r.handlers[s.Handler]))
			var (
				complete bool
				redact   func(string) string
			)
			if err == nil {
				// The references are expanded when the step runs; the
				// configuration is judged here as this process would run
				// it, unless a variable is missing here (the worker that
				// runs the step may have it: it is judged then).
				cfg, redact, complete = probeConfig(cfg, lookup)
			}
			if err == nil && complete {
				err = v.ValidateConfig(cfg)
			}
			if err == nil && complete {
				err = checkConfigParents(v, cfg, s.DependsOn)
			}
			if err != nil {
				err = redactError(err, redact)
				configErrs = append(configErrs, &TemplateError{File: t.File, Line: s.line, Template: t.Name, Step: s.Name, Problem: err.Error(), Err: err})
			}
		}
	}
	if err := joinErrors(configErrs); err != nil {
		return err
	}
	versions := r.versionsLocked(t.Namespace, t.Name)
	if _, ok := versions[t.Version]; ok && !opts.Replace {
		return &TemplateError{File: t.File, Template: t.Name, Problem: fmt.Sprintf("%s is already registered", t.FullName()),
			Fix: "bump the version, or register with Replace to replace it"}
	}
	versions[t.Version] = t
	return nil
}

// Template returns the template namespace.name@version; an empty version or
// "latest" selects the highest registered version. An empty namespace means
// "default".
func (r *Registry) Template(namespace, name, version string) (*TaskTemplate, error) {
	namespace = cmpOr(namespace, "default")
	r.mu.RLock()
	defer r.mu.RUnlock()
	versions := r.templates[namespace][name]
	if len(versions) == 0 {
		if len(r.templates[namespace]) == 0 {
			return nil, fmt.Errorf("%w: no task template %q in namespace %q (namespace unknown)", ErrNotFound, name, namespace)
		}
		return nil, fmt.Errorf("%w: no task template %q in namespace %q", ErrNotFound, name, namespace)
	}
	if version == "" || version == "latest" {
		var best *TaskTemplate
		for _, t := range versions {
			if best == nil || compareSemver(t.Version, best.Version) > 0 {
				best = t
			}
		}
		return best, nil
	}
	t, ok := versions[version]
	if !ok {
		return nil, fmt.Errorf("%w: no version %q of task template %s.%s", ErrNotFound, version, namespace, name)
	}
	return t, nil
}

// Namespaces lists the namespaces that have templates, sorted.
func (r *Registry) Namespaces() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := sortedKeys(r.templates)
	return out
}

// Templates lists the templates of a namespace (all namespaces when empty),
// sorted by namespace, name and version.
func (r *Registry) Templates(namespace string) []*TaskTemplate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*TaskTemplate
	for ns, byName := range r.templates {
		if namespace != "" && ns != namespace {
			continue
		}
		for _, versions := range byName {
			for _, t := range versions {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return compareSemver(a.Version, b.Version) < 0
	})
	return out
}

// Versions lists the registered versions of namespace.name, lowest first.
func (r *Registry) Versions(namespace, name string) []string {
	namespace = cmpOr(namespace, "default")
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for v := range r.templates[namespace][name] {
		out = append(out, v)
	}
	sortVersions(out)
	return out
}

// LoadOptions configure loading YAML templates.
type LoadOptions struct {
	RegisterOptions
	// Env selects the environments.<env> overrides. Defaults to $TASKER_ENV.
	Env string
	// LookupEnv resolves ${VAR} references. Defaults to os.LookupEnv.
	// References in handler_config are only checked with it: they are kept
	// as written and expanded when the step runs (WorkerConfig.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Warn receives the problems that do not stop a template from loading,
	// each a *TemplateError naming the file, line and step: a handler_config
	// reference to a variable that is not set in this process. Defaults to
	// a warning logged with slog.Default().
	Warn func(*TemplateError)
}

// warn reports the warnings of a parsed file.
func (o LoadOptions) warn(f *tmplfile.Template) {
	for _, w := range f.Warnings {
		te := &TemplateError{File: w.File, Line: w.Line, Template: f.Name, Step: w.Step, Problem: w.Problem, Fix: w.Fix}
		if o.Warn != nil {
			o.Warn(te)
		} else {
			slog.Default().Warn("template", "warning", te.Error())
		}
	}
}

func (o LoadOptions) fileOptions() tmplfile.Options {
	env := o.Env
	if env == "" {
		env = os.Getenv("TASKER_ENV")
	}
	return tmplfile.Options{Env: env, LookupEnv: o.LookupEnv}
}

// LoadDir loads and registers every *.yaml and *.yml template under dir,
// skipping hidden files and YAML that is not a template (no template key at
// its top level, such as Prometheus rules). It reports every file's errors
// together; templates without errors are registered even when others fail.
func (r *Registry) LoadDir(dir string, opts LoadOptions) error {
	files, err := tmplfile.LoadDir(dir, opts.fileOptions())
	errs := []error{err}
	for _, f := range files {
		opts.warn(f)
		errs = append(errs, r.registerTemplate(fromFile(f), opts.RegisterOptions, opts.LookupEnv))
	}
	return errors.Join(errs...)
}

// MaxTemplateFileBytes bounds a YAML template file (4 MiB): LoadFile,
// LoadDir, LoadYAML and ParseTemplate refuse a larger one, naming the file
// and the limit.
const MaxTemplateFileBytes = tmplfile.MaxFileBytes

// LoadFile loads and registers one YAML template file.
func (r *Registry) LoadFile(path string, opts LoadOptions) (*TaskTemplate, error) {
	data, err := tmplfile.ReadFile(path)
	if err != nil {
		var fe *tmplfile.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("read template: %w", err)
	}
	return r.LoadYAML(path, data, opts)
}

// LoadYAML parses, validates and registers one YAML template; file names it
// in error messages.
func (r *Registry) LoadYAML(file string, data []byte, opts LoadOptions) (*TaskTemplate, error) {
	f, err := tmplfile.Parse(file, data, opts.fileOptions())
	if err != nil {
		return nil, err
	}
	opts.warn(f)
	t := fromFile(f)
	if err := r.registerTemplate(t, opts.RegisterOptions, opts.LookupEnv); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTemplate parses and validates a YAML template without registering it.
// Handlers are not checked.
func ParseTemplate(file string, data []byte, opts LoadOptions) (*TaskTemplate, error) {
	f, err := tmplfile.Parse(file, data, opts.fileOptions())
	if err != nil {
		return nil, err
	}
	opts.warn(f)
	t := fromFile(f)
	if err := t.prepare(nil, nil); err != nil {
		return nil, err
	}
	return t, nil
}

func fromFile(f *tmplfile.Template) *TaskTemplate {
	t := &TaskTemplate{
		Name: f.Name, Namespace: f.NamespaceName, Version: f.Version, Description: f.Description,
		Schema: f.Schema, DefaultDependentSystem: f.DefaultDependentSystem,
		IdentityStrategy: IdentityStrategy(f.IdentityStrategy), File: f.File,
	}
	for _, s := range f.Schedules {
		t.Schedules = append(t.Schedules, ScheduleTemplate{Name: s.Name, Cron: s.Cron, TimeZone: s.TimeZone, Context: s.Context,
			Overlap: s.Overlap, CatchUp: s.CatchUp, CatchUpLimit: s.CatchUpLimit})
	}
	for _, s := range f.Steps {
		st := StepTemplate{
			Name: s.Name, Description: s.Description, Handler: s.Handler, HandlerConfig: s.HandlerConfig,
			DependsOn: s.Dependencies(), Retryable: s.DefaultRetryable, Skippable: s.Skippable,
			DependentSystem: s.DependentSystem, Timeout: s.Timeout, line: s.Line,
		}
		if s.DefaultRetryLimit != nil {
			st.RetryLimit = *s.DefaultRetryLimit
		}
		for _, ce := range s.CustomEvents {
			st.CustomEvents = append(st.CustomEvents, CustomEvent{Name: ce.Name, Description: ce.Description})
		}
		if b := s.Backoff; b != nil {
			st.Backoff = &Backoff{Base: b.Base, Max: b.Max, MaxRequested: b.MaxRequested, Jitter: b.Jitter}
		}
		t.Steps = append(t.Steps, st)
	}
	return t
}

// configAsStored returns a handler_config as its handler sees it at run
// time: the template's map goes through JSON when a task is created (so a Go
// map[string]string is a map of strings), numbers are float64 as in
// StepContext.Config, or json.Number for an ExactConfigUser, and
// a validator must judge that form, not the Go values. A time.Duration, which
// JSON would turn into a number of nanoseconds that handlers read as
// seconds, is refused.
func configAsStored(cfg map[string]any, exact bool) (map[string]any, error) {
	if cfg == nil {
		return nil, nil
	}
	if err := refuseDurations("handler_config", cfg); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("handler_config cannot be encoded as JSON: %w", err)
	}
	var out map[string]any
	if exact {
		out, err = decodeExact(raw)
	} else {
		err = json.Unmarshal(raw, &out) // as StepContext.Config: float64 numbers
	}
	if err != nil {
		return nil, fmt.Errorf("handler_config cannot be decoded from JSON: %w", err)
	}
	return out, nil
}

func refuseDurations(path string, v any) error {
	switch x := v.(type) {
	case time.Duration:
		return fmt.Errorf("%s is a time.Duration (%s): write it as a string such as %q, since handler_config is stored as JSON", path, x, x.String())
	case map[string]any:
		for k, e := range x {
			if err := refuseDurations(path+"."+k, e); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := refuseDurations(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkConfigParents checks that the steps a handler_config reads results
// of are parents of the step: only parents' results reach it.
func checkConfigParents(v ConfigValidator, cfg map[string]any, parents []string) error {
	cd, ok := v.(ConfigDependencies)
	if !ok {
		return nil
	}
	names, err := cd.ConfigDependencies(cfg)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !slices.Contains(parents, n) {
			have := "it has none"
			if len(parents) > 0 {
				have = "its parents are " + strings.Join(parents, ", ")
			}
			return fmt.Errorf("handler_config reads {{dependencies.%s}}, but %q is not a parent of this step (%s): add it to depends_on_steps, or fix the name", n, n, have)
		}
	}
	return nil
}

// versionsLocked returns the versions of namespace.name, making the maps
// that hold them; r.mu is held.
func (r *Registry) versionsLocked(namespace, name string) map[string]*TaskTemplate {
	byName := r.templates[namespace]
	if byName == nil {
		byName = map[string]map[string]*TaskTemplate{}
		r.templates[namespace] = byName
	}
	versions := byName[name]
	if versions == nil {
		versions = map[string]*TaskTemplate{}
		byName[name] = versions
	}
	return versions
}

// add keeps t, a prepared template, unless the registry has its version
// already; it checks nothing (the registry views of Client.TemplateCatalog).
func (r *Registry) add(t *TaskTemplate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	versions := r.versionsLocked(t.Namespace, t.Name)
	if _, ok := versions[t.Version]; !ok {
		versions[t.Version] = t
	}
}
