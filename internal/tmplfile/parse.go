package tmplfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/ctxschema"
)

// The keys each kind of mapping accepts, in the order they are listed in
// error messages.
var (
	templateKeys = []string{
		"name", "namespace_name", "version", "description", "task_handler_class",
		"module_namespace", "concurrent", "default_dependent_system", "named_steps",
		"schema", "identity_strategy", "step_templates", "environments", "schedules",
	}
	stepKeys = []string{
		"name", "description", "handler", "handler_class", "dependent_system",
		"handler_config", "depends_on_step", "depends_on_steps", "default_retryable",
		"default_retry_limit", "skippable", "custom_events", "timeout", "backoff",
	}
	environmentKeys = []string{"step_templates"}
	customEventKeys = []string{"name", "description"}
	backoffKeys     = []string{"base", "max", "max_requested", "jitter"}
)

var (
	// nameRE is the shape of template and namespace names.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	// semverRE is the official semver.org pattern (no leading "v").
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	// eventRE is the shape of custom event names: namespaced, lowercase.
	eventRE = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
	// yamlLineRE extracts the line from a YAML syntax error.
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

const (
	nameFix = `use letters, digits, "_", "." and "-", starting with a letter, digit or "_"`
	// nodeBudget bounds the work aliases and merge keys can cause, so that
	// a small file cannot expand into billions of nodes.
	nodeBudget = 1_000_000
	// MaxFileBytes bounds a template file (and a YAML document given to
	// Parse): 4 MiB, far above any hand-written template, so that a huge
	// file is refused before it is parsed (parsing takes several times the
	// file's size in memory).
	MaxFileBytes = 4 << 20
)

// tooLarge is the problem of a file of size bytes, over MaxFileBytes.
func tooLarge(file string, size int64) *Error {
	return &Error{File: file, Problem: fmt.Sprintf("is %d bytes, over the limit of %d bytes (4 MiB) for a template file", size, MaxFileBytes),
		Fix: "split it into several templates, or build a very large template in Go (Registry.RegisterTemplate)"}
}

// ReadFile reads a template file, refusing one over MaxFileBytes without
// reading more than that.
func ReadFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		size := int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return nil, tooLarge(file, size)
	}
	return data, nil
}

// Parse parses and checks one template file. file is used in error messages
// and stored in Template.File. On failure Parse returns every problem it
// found, in line order: a single *Error, or several joined with errors.Join
// (see Errors).
func Parse(file string, data []byte, opts Options) (*Template, error) {
	if len(data) > MaxFileBytes {
		return nil, tooLarge(file, int64(len(data)))
	}
	p := &parser{file: file, opts: opts, lookup: opts.LookupEnv, budget: nodeBudget}
	if p.lookup == nil {
		p.lookup = os.LookupEnv
	}
	t := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	sort.SliceStable(p.warns, func(i, j int) bool { return p.warns[i].Line < p.warns[j].Line })
	t.Warnings = p.warns
	return t, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file      string
	opts      Options
	lookup    func(string) (string, bool)
	errs      []*Error
	warns     []*Error
	budget    int
	exhausted bool
}

// add records a problem.
func (p *parser) add(e *Error) {
	e.File = p.file
	p.errs = append(p.errs, e)
}

// err returns the recorded problems, deduplicated and in line order.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	seen := make(map[string]bool)
	var errs []error
	for _, e := range p.errs {
		if msg := e.Error(); !seen[msg] {
			seen[msg] = true
			errs = append(errs, e)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// spend uses up n units of the node budget and reports whether any is left.
func (p *parser) spend(n int, line int) bool {
	p.budget -= n
	if p.budget >= 0 {
		return true
	}
	if !p.exhausted {
		p.exhausted = true
		p.add(&Error{Line: line, Problem: "document expands to too many values through aliases", Fix: "use fewer anchors and aliases"})
	}
	return false
}

// parse does the work of Parse.
func (p *parser) parse(data []byte) *Template {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(&Error{Problem: "the file is empty", Fix: "a template needs at least name and step_templates"})
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.add(&Error{Line: extra.Line, Problem: "the file holds more than one YAML document", Fix: "keep one template per file"})
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		p.add(&Error{Problem: "the file is empty", Fix: "a template needs at least name and step_templates"})
		return nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		p.add(&Error{Line: root.Line, Problem: "the file is empty", Fix: "a template needs at least name and step_templates"})
		return nil
	case root.Kind != yaml.MappingNode:
		p.add(&Error{Line: root.Line, Problem: "a template must be a YAML mapping, got " + describe(root)})
		return nil
	}
	if !p.opts.Verbatim {
		p.substituteDocument(root)
	}
	return p.template(root)
}

// yamlError reports a YAML syntax error.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.add(&Error{Line: line, Problem: "invalid YAML: " + m[2], Fix: "check the indentation and quoting"})
		return
	}
	p.add(&Error{Problem: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// ValidVersion reports whether v is a semantic version (semver.org, without
// a leading "v").
func ValidVersion(v string) bool { return semverRE.MatchString(v) }

// ValidName reports whether s is a valid template or namespace name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// template decodes the top-level mapping.
func (p *parser) template(root *yaml.Node) *Template {
	t := &Template{File: p.file, NamespaceName: DefaultNamespace, Version: DefaultVersion}
	var (
		nameSet                   bool
		stepsNode, envNode        *yaml.Node
		namedStepsKey, schemaLine *yaml.Node
	)
	for _, pr := range p.checkKeys(p.pairs(root, ""), "", "", templateKeys) {
		k, v := pr.key.Value, pr.val
		switch k {
		case "name":
			if s, ok := p.str(v, "", k); ok {
				t.Name, nameSet = s, true
				p.checkName(v, "name", s)
			} else if isNull(v) {
				nameSet = true
				p.add(&Error{Line: v.Line, Field: k, Problem: `key "name" must not be empty`, Fix: "name the task"})
			} else {
				nameSet = true
			}
		case "namespace_name":
			if s, ok := p.str(v, "", k); ok {
				t.NamespaceName = s
				p.checkName(v, "namespace_name", s)
			}
		case "version":
			if s, ok := p.str(v, "", k); ok {
				t.Version = s
				p.checkVersion(v, s)
			}
		case "description":
			t.Description, _ = p.str(v, "", k)
		case "task_handler_class":
			t.TaskHandlerClass, _ = p.str(v, "", k)
		case "module_namespace":
			t.ModuleNamespace, _ = p.str(v, "", k)
		case "concurrent":
			t.Concurrent = p.boolPtr(v, "", k)
		case "default_dependent_system":
			t.DefaultDependentSystem, _ = p.str(v, "", k)
		case "named_steps":
			t.NamedSteps = p.strList(v, "", k, "a list of step names")
			if !isNull(v) {
				namedStepsKey = pr.key
			}
		case "schema":
			t.Schema = p.freeMap(v, "", k)
			schemaLine = pr.key
		case "identity_strategy":
			if s, ok := p.str(v, "", k); ok {
				t.IdentityStrategy = s
				if s != IdentityDefault && s != IdentityHash {
					p.add(&Error{
						Line: v.Line, Field: k,
						Problem: fmt.Sprintf("identity_strategy %q is not supported", s),
						Fix:     `use "default" or "hash"`,
					})
				}
			}
		case "step_templates":
			stepsNode = v
		case "environments":
			envNode = v
		case "schedules":
			t.Schedules = p.schedules(v)
		}
	}
	if !nameSet {
		p.add(&Error{Line: root.Line, Field: "name", Problem: `missing required key "name"`, Fix: "name the task, such as name: process_order"})
	}
	if t.Schema != nil {
		if _, err := ctxschema.Compile(t.Schema); err != nil {
			p.add(&Error{Line: schemaLine.Line, Field: "schema", Problem: "schema is not a valid JSON Schema: " + err.Error()})
		}
	}

	stepNodes := p.stepNodes(stepsNode)
	t.Environments = p.environments(envNode, stepNodes)
	seen := make(map[string]int) // step name → line
	for i, n := range stepNodes {
		s, ok := p.step(n, i, t.DefaultDependentSystem)
		if !ok {
			continue
		}
		if prev, dup := seen[s.Name]; dup {
			p.add(&Error{
				Line: s.Line, Step: s.Name, Field: "name",
				Problem: fmt.Sprintf("duplicate step name %q (lines %d and %d)", s.Name, prev, s.Line),
				Fix:     "give each step a unique name",
			})
		} else {
			seen[s.Name] = s.Line
		}
		t.Steps = append(t.Steps, s)
	}
	if namedStepsKey != nil {
		p.checkNamedSteps(namedStepsKey, t)
	}
	return t
}

// checkName checks a template or namespace name.
func (p *parser) checkName(n *yaml.Node, field, s string) {
	switch {
	case strings.TrimSpace(s) == "":
		p.add(&Error{Line: n.Line, Field: field, Problem: fmt.Sprintf("key %q must not be empty", field), Fix: nameFix})
	case !nameRE.MatchString(s):
		p.add(&Error{Line: n.Line, Field: field, Problem: fmt.Sprintf("%s %q is not a valid name", field, s), Fix: nameFix})
	}
}

// checkVersion checks that s is a semantic version.
func (p *parser) checkVersion(n *yaml.Node, s string) {
	if semverRE.MatchString(s) {
		return
	}
	fix := `use MAJOR.MINOR.PATCH such as "1.0.0"`
	if rest, ok := strings.CutPrefix(s, "v"); ok && semverRE.MatchString(rest) {
		fix = fmt.Sprintf("drop the leading \"v\": %q", rest)
	}
	p.add(&Error{
		Line: n.Line, Field: "version",
		Problem: fmt.Sprintf("version %q is not semantic versioning", s),
		Fix:     fix,
	})
}

// checkNamedSteps checks that named_steps lists every step.
func (p *parser) checkNamedSteps(key *yaml.Node, t *Template) {
	var missing []string
	for _, s := range t.Steps {
		if !slices.Contains(t.NamedSteps, s.Name) && !slices.Contains(missing, s.Name) {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) == 0 {
		return
	}
	p.add(&Error{
		Line: key.Line, Field: "named_steps",
		Problem: "named_steps does not list " + quoteList("step", missing),
		Fix:     "add them to named_steps, or remove named_steps",
	})
}

// quoteList formats `step "a"` or `steps "a", "b"`.
func quoteList(noun string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return noun + " " + q[0]
	}
	return noun + "s " + strings.Join(q, ", ")
}
