package tasker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/cronexpr"
	"github.com/tasker-go/tasker/internal/ctxschema"
	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/internal/tmplfile"
)

// IdentityStrategy decides when two task requests are the same task.
type IdentityStrategy string

const (
	// IdentityDefault makes every request a new task.
	IdentityDefault IdentityStrategy = "default"
	// IdentityHash identifies a task by the SHA-256 of its name, namespace,
	// version, initiator, source system, reason and canonical JSON context: a
	// duplicate request returns the existing task.
	IdentityHash IdentityStrategy = "hash"
)

// TaskTemplate declares a workflow: its identity, the JSON Schema of its
// context and its steps. It is what a YAML template file decodes to, and Go
// programs may build one directly; both are validated the same way.
type TaskTemplate struct {
	// Name of the template (required).
	Name string
	// Namespace groups templates. Defaults to "default".
	Namespace string
	// Version is a semantic version MAJOR.MINOR.PATCH. Defaults to "0.1.0".
	Version     string
	Description string
	// Schema is the JSON Schema of the task context (nil: any object).
	// Defaults it declares are applied to new tasks' contexts.
	Schema map[string]any
	// DefaultDependentSystem names the outside system the steps talk to
	// (informational). Defaults to "unknown".
	DefaultDependentSystem string
	// IdentityStrategy overrides the client's Config.IdentityStrategy for
	// this template; empty means the client's (which defaults to
	// IdentityDefault).
	IdentityStrategy IdentityStrategy
	// Steps of the workflow (at least one).
	Steps []StepTemplate
	// Schedules create tasks of this template (its highest registered
	// version) on cron schedules; see SyncTemplateSchedules.
	Schedules []ScheduleTemplate
	// File is the file the template was loaded from, "" for Go templates.
	File string

	graph  *dag.Graph
	schema *ctxschema.Schema
}

// StepTemplate declares one step of a TaskTemplate.
type StepTemplate struct {
	// Name is unique within the template (required).
	Name        string
	Description string
	// Handler is the registered name of the step handler (required), for
	// example the built-in "exec".
	Handler string
	// HandlerConfig is given to the handler (YAML handler_config). Its
	// ${VAR} references are kept as written (stored, served) and expanded
	// when the step runs (StepContext.Config); write $${ for a literal "${".
	HandlerConfig map[string]any
	// DependsOn lists the steps that must complete first.
	DependsOn []string
	// Retryable allows attempts after the first. Defaults to true.
	Retryable *bool
	// RetryLimit is the maximum number of attempts in total: 1 to
	// MaxRetryLimit. Defaults to 3.
	RetryLimit int
	// Skippable is stored for compatibility; the engine does not skip steps.
	Skippable       bool
	DependentSystem string
	// CustomEvents the step's handler may publish.
	CustomEvents []CustomEvent
	// Timeout bounds one attempt. Defaults to the worker's step timeout (5m).
	Timeout time.Duration
	// Backoff overrides the retry backoff of this step.
	Backoff *Backoff

	line int // line in the template file, for error messages
}

// CustomEvent declares a business event a step may publish.
type CustomEvent struct {
	Name        string
	Description string
}

// Backoff configures retry delays; zero fields mean the defaults.
type Backoff struct {
	// Base is the first retry's delay; attempt n waits Base·2^(n-1).
	// Defaults to 2s.
	Base time.Duration
	// Max caps the exponential delay. Defaults to 30s.
	Max time.Duration
	// MaxRequested caps a delay requested by the handler or a server
	// (RetryAfter). Defaults to 300s.
	MaxRequested time.Duration
	// Jitter is the random spread, as a fraction (0.1 = ±10 %). Nil means the
	// default 0.1; zero means none.
	Jitter *float64
}

// overrides is b as the backoff overrides it stands for.
func (b Backoff) overrides() retrypolicy.Overrides {
	return retrypolicy.Overrides{Base: b.Base, MaxExponential: b.Max, MaxBackoff: b.MaxRequested, Jitter: b.Jitter}
}

// FullName is "namespace.name@version".
func (t *TaskTemplate) FullName() string { return t.Namespace + "." + t.Name + "@" + t.Version }

// Step returns the named step template.
func (t *TaskTemplate) Step(name string) (*StepTemplate, bool) {
	for i := range t.Steps {
		if t.Steps[i].Name == name {
			return &t.Steps[i], true
		}
	}
	return nil, false
}

// Mermaid returns the template's DAG as Mermaid "graph TD" text.
func (t *TaskTemplate) Mermaid() string {
	if t.graph == nil {
		g, err := dag.New(t.nodes())
		if err != nil {
			return ""
		}
		return g.Mermaid(dag.MermaidOptions{})
	}
	return t.graph.Mermaid(dag.MermaidOptions{})
}

func (t *TaskTemplate) nodes() []dag.Node {
	nodes := make([]dag.Node, len(t.Steps))
	for i, s := range t.Steps {
		nodes[i] = dag.Node{Name: s.Name, DependsOn: s.DependsOn}
	}
	return nodes
}

// TemplateError is a template that cannot be loaded: it names the file, the
// template, the step, what is wrong and how to fix it.
type TemplateError struct {
	File string
	// Line is the line in File, when known (YAML templates).
	Line     int
	Template string
	Step     string
	Problem  string
	Fix      string
	Err      error
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Template != "" {
		fmt.Fprintf(&b, "template %q: ", e.Template)
	}
	if e.Step != "" {
		fmt.Fprintf(&b, "step %q: ", e.Step)
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

func (e *TemplateError) Unwrap() error { return e.Err }

// prepare applies defaults and validates t; handlerKnown reports whether a
// handler name is registered (nil: do not check).
func (t *TaskTemplate) prepare(handlerKnown func(string) bool, handlerNames func() []string) error {
	t.Namespace = cmpOr(t.Namespace, "default")
	t.Version = cmpOr(t.Version, "0.1.0")
	t.DefaultDependentSystem = cmpOr(t.DefaultDependentSystem, "unknown")
	fail := func(step, problem, fix string, err error) error {
		line := 0
		if s, ok := t.Step(step); ok {
			line = s.line
		}
		return &TemplateError{File: t.File, Line: line, Template: t.Name, Step: step, Problem: problem, Fix: fix, Err: err}
	}
	switch {
	case t.Name == "":
		return fail("", "name is missing", "give the template a name", nil)
	case !tmplfile.ValidName(t.Name):
		return fail("", fmt.Sprintf("name %q has invalid characters", t.Name), "use letters, digits, _, . and -", nil)
	case !tmplfile.ValidName(t.Namespace):
		return fail("", fmt.Sprintf("namespace %q has invalid characters", t.Namespace), "use letters, digits, _, . and -", nil)
	case !tmplfile.ValidVersion(t.Version):
		return fail("", fmt.Sprintf("version %q is not semantic versioning", t.Version), `use MAJOR.MINOR.PATCH such as "1.0.0"`, nil)
	case t.IdentityStrategy != "" && t.IdentityStrategy != IdentityDefault && t.IdentityStrategy != IdentityHash:
		return fail("", fmt.Sprintf("identity_strategy %q is unknown", t.IdentityStrategy), `use "default" or "hash"`, nil)
	case len(t.Steps) == 0:
		return fail("", "the template has no steps", "declare at least one step under step_templates", nil)
	}
	var unknown []error
	for i := range t.Steps {
		s := &t.Steps[i]
		if strings.TrimSpace(s.Name) == "" {
			return fail("", fmt.Sprintf("step #%d has no name", i+1), "give every step a unique name", nil)
		}
		if s.Handler == "" {
			return fail(s.Name, "handler is missing", `name a registered handler, such as "exec"`, nil)
		}
		if handlerKnown != nil && !handlerKnown(s.Handler) {
			// Every step's unknown handler is reported, not only the first.
			unknown = append(unknown, fail(s.Name, fmt.Sprintf("handler %q is not registered", s.Handler),
				"register it with Registry.RegisterHandler before loading templates, or use one of: "+strings.Join(handlerNames(), ", "), nil))
		}
		if s.RetryLimit == 0 {
			s.RetryLimit = 3
		}
		if s.RetryLimit < 1 {
			return fail(s.Name, fmt.Sprintf("retry limit %d is below 1", s.RetryLimit), "the retry limit counts all attempts: use 1 or more", nil)
		}
		if s.RetryLimit > MaxRetryLimit {
			return fail(s.Name, fmt.Sprintf("retry limit %d is above %d", s.RetryLimit, MaxRetryLimit), "the database stores it as a 32-bit integer: use a smaller number", nil)
		}
		if s.Retryable == nil {
			s.Retryable = new(true)
		}
		if s.Timeout < 0 {
			return fail(s.Name, "timeout is negative", `use a positive duration such as "30s"`, nil)
		}
		if b := s.Backoff; b != nil && (b.Base < 0 || b.Max < 0 || b.MaxRequested < 0 || (b.Jitter != nil && (*b.Jitter < 0 || *b.Jitter > 1))) {
			return fail(s.Name, "backoff has a negative duration or a jitter outside [0,1]", "use positive durations and a jitter such as 0.1", nil)
		}
		if b := s.Backoff; b != nil && b.Base > 0 && b.Max > 0 && b.Max < b.Base {
			return fail(s.Name, fmt.Sprintf("backoff max %s is below backoff base %s", b.Max, b.Base), "make max at least base", nil)
		}
		for _, ce := range s.CustomEvents {
			if err := ValidateCustomEventName(ce.Name); err != nil {
				return fail(s.Name, "custom_events: "+err.Error(), "", err)
			}
		}
		s.DependentSystem = cmpOr(s.DependentSystem, t.DefaultDependentSystem)
		s.Description = cmpOr(s.Description, s.Name)
	}
	if err := joinErrors(unknown); err != nil {
		return err
	}
	seenSchedule := map[string]bool{}
	for _, s := range t.Schedules {
		switch {
		case !scheduleNameRE.MatchString(s.Name):
			return fail("", fmt.Sprintf("schedule name %q is not valid", s.Name), `use letters, digits, "_", "." and "-", at most 128 bytes`, nil)
		case seenSchedule[s.Name]:
			return fail("", fmt.Sprintf("schedule %q is declared twice", s.Name), "give each schedule a unique name", nil)
		}
		seenSchedule[s.Name] = true
		if _, err := cronexpr.Parse(s.Cron); err != nil {
			return fail("", fmt.Sprintf("schedule %q: cron %s", s.Name, err), "", err)
		}
		if _, err := cronexpr.LoadLocation(s.TimeZone); err != nil {
			return fail("", fmt.Sprintf("schedule %q: time_zone %s", s.Name, err), "", err)
		}
	}
	g, err := dag.New(t.nodes())
	if err != nil {
		// The graph's messages name the step themselves; only the line is added.
		te := &TemplateError{File: t.File, Template: t.Name, Problem: err.Error(), Err: err}
		var dup *dag.DuplicateStepError
		var unk *dag.UnknownDependencyError
		var self *dag.SelfDependencyError
		var step string
		switch {
		case asErr(err, &dup):
			step = dup.Name
		case asErr(err, &unk):
			step = unk.Step
		case asErr(err, &self):
			step = self.Step
		}
		if s, ok := t.Step(step); ok {
			te.Line = s.line
		}
		return te
	}
	t.graph = g
	sch, err := ctxschema.Compile(t.Schema)
	if err != nil {
		return fail("", "schema is not a valid JSON Schema: "+err.Error(), "", err)
	}
	t.schema = sch
	return nil
}

// joinErrors is nil for none, the error itself for one (so that a single
// problem keeps its type for errors.As and type switches alike) and
// errors.Join for more.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// compareSemver compares two MAJOR.MINOR.PATCH[-pre] versions.
func compareSemver(a, b string) int {
	pa, prea := splitSemver(a)
	pb, preb := splitSemver(b)
	for i := range 3 {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case prea == preb:
		return 0
	case prea == "":
		return 1
	case preb == "":
		return -1
	}
	return strings.Compare(prea, preb)
}

func splitSemver(v string) ([3]int, string) {
	v, _, _ = strings.Cut(v, "+")
	core, pre, _ := strings.Cut(v, "-")
	var out [3]int
	for i, p := range strings.SplitN(core, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out, pre
}

func sortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool { return compareSemver(vs[i], vs[j]) < 0 })
}

// MaxRetryLimit is the highest retry limit of a step (2³¹−1: the databases
// store it as a 32-bit integer).
const MaxRetryLimit = 1<<31 - 1
