package tmplfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/ctxschema"
)

// The keys each kind of mapping accepts, in the order they are listed in
// error messages.
var (
	templateKeys = []string{
		"name", "namespace_name", "version", "description", "task_handler_class",
		"module_namespace", "concurrent", "default_dependent_system", "named_steps",
		"schema", "identity_strategy", "step_templates", "environments",
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
)

// Parse parses and checks one template file. file is used in error messages
// and stored in Template.File. On failure Parse returns every problem it
// found, in line order: a single *Error, or several joined with errors.Join
// (see Errors).
func Parse(file string, data []byte, opts Options) (*Template, error) {
	p := &parser{file: file, opts: opts, lookup: opts.LookupEnv, budget: nodeBudget}
	if p.lookup == nil {
		p.lookup = os.LookupEnv
	}
	t := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file      string
	opts      Options
	lookup    func(string) (string, bool)
	errs      []*Error
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
	p.substituteDocument(root)
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

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 1000; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

// pairs returns the pairs of mapping n with values dereferenced and merge
// keys (<<) expanded; explicit keys win over merged ones. Duplicate keys
// and keys that are not strings are reported.
func (p *parser) pairs(n *yaml.Node, step string) []pair {
	return p.pairsDepth(n, step, 0)
}

func (p *parser) pairsDepth(n *yaml.Node, step string, depth int) []pair {
	if !p.spend(len(n.Content)/2+1, n.Line) || depth > 100 {
		return nil
	}
	var out, merged []pair
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := deref(n.Content[i]), deref(n.Content[i+1])
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			merged = append(merged, p.mergeSources(val, step, depth)...)
			continue
		}
		if key.Kind != yaml.ScalarNode {
			p.add(&Error{Line: key.Line, Step: step, Problem: "a key must be a string, got " + describe(key)})
			continue
		}
		if prev, dup := seen[key.Value]; dup {
			p.add(&Error{
				Line: key.Line, Step: step, Field: key.Value,
				Problem: fmt.Sprintf("key %q appears twice (lines %d and %d)", key.Value, prev.Line, key.Line),
				Fix:     "remove one of them",
			})
			continue
		}
		seen[key.Value] = key
		out = append(out, pair{key, val})
	}
	for _, m := range merged {
		if _, dup := seen[m.key.Value]; !dup {
			seen[m.key.Value] = m.key
			out = append(out, m)
		}
	}
	return out
}

// mergeSources returns the pairs a merge key (<<) brings in: from one
// mapping or a list of mappings, earlier mappings winning.
func (p *parser) mergeSources(val *yaml.Node, step string, depth int) []pair {
	var sources []*yaml.Node
	switch val.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{val}
	case yaml.SequenceNode:
		for _, s := range val.Content {
			sources = append(sources, deref(s))
		}
	default:
		sources = []*yaml.Node{val}
	}
	var out []pair
	seen := make(map[string]bool)
	for _, s := range sources {
		if s.Kind != yaml.MappingNode {
			p.add(&Error{Line: s.Line, Step: step, Problem: "a merge key (<<) needs a mapping or a list of mappings, got " + describe(s)})
			continue
		}
		for _, pr := range p.pairsDepth(s, step, depth+1) {
			if !seen[pr.key.Value] {
				seen[pr.key.Value] = true
				out = append(out, pr)
			}
		}
	}
	return out
}

// describe names the YAML type of n for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	default:
		return "an alias"
	}
}

// isNull reports whether n is a null scalar (such as an empty value).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// unknownKey reports a key that is not in valid.
func (p *parser) unknownKey(key *yaml.Node, step, where string, valid []string) {
	problem := fmt.Sprintf("unknown key %q", key.Value)
	if where != "" {
		problem += " in " + where
	}
	p.add(&Error{Line: key.Line, Step: step, Field: key.Value, Problem: problem, Fix: suggest(key.Value, valid)})
}

// checkKeys reports the keys of pairs that are not in valid and returns the
// pairs whose keys are.
func (p *parser) checkKeys(pairs []pair, step, where string, valid []string) []pair {
	out := pairs[:0:0]
	for _, pr := range pairs {
		if contains(valid, pr.key.Value) {
			out = append(out, pr)
		} else {
			p.unknownKey(pr.key, step, where, valid)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// typeError reports a value of the wrong YAML type.
func (p *parser) typeError(n *yaml.Node, step, field, want string) {
	p.add(&Error{
		Line: n.Line, Step: step, Field: field,
		Problem: fmt.Sprintf("key %q must be %s, got %s", field, want, describe(n)),
	})
}

// str decodes a string; any scalar counts (its text is taken as written).
// ok is false when the value is null or of the wrong type.
func (p *parser) str(n *yaml.Node, step, field string) (s string, ok bool) {
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.typeError(n, step, field, "a string")
		return "", false
	}
	return n.Value, true
}

// boolPtr decodes an optional boolean.
func (p *parser) boolPtr(n *yaml.Node, step, field string) *bool {
	if isNull(n) {
		return nil
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.typeError(n, step, field, "true or false")
		return nil
	}
	return &b
}

// intPtr decodes an optional integer.
func (p *parser) intPtr(n *yaml.Node, step, field string) *int {
	if isNull(n) {
		return nil
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.typeError(n, step, field, "an integer")
		return nil
	}
	return &i
}

// floatPtr decodes an optional number.
func (p *parser) floatPtr(n *yaml.Node, step, field string) *float64 {
	if isNull(n) {
		return nil
	}
	var f float64
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil ||
		math.IsNaN(f) || math.IsInf(f, 0) {
		p.typeError(n, step, field, "a number")
		return nil
	}
	return &f
}

// duration decodes a Go duration string ("30s") or an integer number of
// seconds. ok is false when the value is null or invalid.
func (p *parser) duration(n *yaml.Node, step, field string) (d time.Duration, ok bool) {
	if isNull(n) {
		return 0, false
	}
	const want = `a duration such as "30s" or "5m", or a whole number of seconds`
	if n.Kind != yaml.ScalarNode {
		p.typeError(n, step, field, want)
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var secs int64
		if n.Decode(&secs) != nil || secs > math.MaxInt64/int64(time.Second) || secs < math.MinInt64/int64(time.Second) {
			p.typeError(n, step, field, want)
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	case "!!str":
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			p.typeError(n, step, field, want)
			return 0, false
		}
		return d, true
	default:
		p.typeError(n, step, field, want)
		return 0, false
	}
}

// strList decodes a list of strings; a single string is a one-item list.
func (p *parser) strList(n *yaml.Node, step, field, want string) []string {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind != yaml.SequenceNode:
		p.typeError(n, step, field, want)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			p.add(&Error{
				Line: item.Line, Step: step, Field: field,
				Problem: fmt.Sprintf("item %d of %q must be a string, got %s", i+1, field, describe(item)),
			})
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

// freeMap decodes a free-form mapping (handler_config, schema).
func (p *parser) freeMap(n *yaml.Node, step, field string) map[string]any {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.typeError(n, step, field, "a mapping")
		return nil
	}
	m, _ := p.freeValue(n, step, field, 0).(map[string]any)
	return m
}

// freeValue converts a YAML node into JSON-compatible Go values: maps with
// string keys, slices, strings, numbers, booleans and nil.
func (p *parser) freeValue(n *yaml.Node, step, field string, depth int) any {
	n = deref(n)
	if !p.spend(1, n.Line) {
		return nil
	}
	if depth > 1000 {
		p.add(&Error{Line: n.Line, Step: step, Field: field, Problem: fmt.Sprintf("%q is nested too deeply", field)})
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		pairs := p.pairs(n, step)
		m := make(map[string]any, len(pairs))
		for _, pr := range pairs {
			m[pr.key.Value] = p.freeValue(pr.val, step, field, depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = p.freeValue(c, step, field, depth+1)
		}
		return s
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			p.add(&Error{Line: n.Line, Step: step, Field: field, Problem: fmt.Sprintf("cannot read value %q in %q: %v", n.Value, field, err)})
			return nil
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			p.add(&Error{Line: n.Line, Step: step, Field: field, Problem: fmt.Sprintf("value %q in %q has no JSON equivalent", n.Value, field), Fix: "quote it to make it a string"})
			return nil
		}
		return v
	default:
		return nil
	}
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
		if !contains(t.NamedSteps, s.Name) && !contains(missing, s.Name) {
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

// stepNodes returns the step mappings of step_templates.
func (p *parser) stepNodes(n *yaml.Node) []*yaml.Node {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.typeError(n, "", "step_templates", "a list of steps")
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.add(&Error{
				Line: item.Line, Field: "step_templates",
				Problem: fmt.Sprintf("step_templates item %d must be a mapping, got %s", i+1, describe(item)),
			})
			continue
		}
		out = append(out, item)
	}
	return out
}

// step decodes one step mapping; i is its index among the steps.
func (p *parser) step(n *yaml.Node, i int, defaultDependentSystem string) (Step, bool) {
	s := Step{Line: n.Line}
	pairs := p.pairs(n, "")
	// Find the name first so that every problem can name the step.
	for _, pr := range pairs {
		if pr.key.Value == "name" && pr.val.Kind == yaml.ScalarNode && !isNull(pr.val) {
			s.Name = pr.val.Value
		}
	}
	label := s.Name
	if strings.TrimSpace(label) == "" {
		label = "" // an unnamed step is identified by its line
	}
	var handler, handlerClass *yaml.Node
	nameSet := false
	for _, pr := range p.checkKeys(pairs, label, "", stepKeys) {
		k, v := pr.key.Value, pr.val
		switch k {
		case "name":
			if isNull(v) {
				break // reported as missing below
			}
			nameSet = true
			if _, ok := p.str(v, label, k); ok && strings.TrimSpace(v.Value) == "" {
				p.add(&Error{
					Line: v.Line, Field: k,
					Problem: fmt.Sprintf("step_templates item %d has an empty name", i+1),
					Fix:     "give every step a unique name",
				})
			}
		case "description":
			s.Description, _ = p.str(v, label, k)
		case "handler":
			if _, ok := p.str(v, label, k); ok {
				handler = v
			}
		case "handler_class":
			if _, ok := p.str(v, label, k); ok {
				handlerClass = v
			}
		case "dependent_system":
			s.DependentSystem, _ = p.str(v, label, k)
		case "handler_config":
			s.HandlerConfig = p.freeMap(v, label, k)
		case "depends_on_step":
			if v.Kind == yaml.SequenceNode {
				p.add(&Error{
					Line: v.Line, Step: label, Field: k,
					Problem: `key "depends_on_step" must be a string, got a list`,
					Fix:     "use depends_on_steps for several dependencies",
				})
				continue
			}
			s.DependsOnStep, _ = p.str(v, label, k)
		case "depends_on_steps":
			s.DependsOnSteps = p.strList(v, label, k, "a list of step names")
		case "default_retryable":
			s.DefaultRetryable = p.boolPtr(v, label, k)
		case "default_retry_limit":
			s.DefaultRetryLimit = p.intPtr(v, label, k)
			if s.DefaultRetryLimit != nil && *s.DefaultRetryLimit < 1 {
				p.add(&Error{
					Line: v.Line, Step: label, Field: k,
					Problem: fmt.Sprintf("default_retry_limit must be at least 1, got %d", *s.DefaultRetryLimit),
					Fix:     "it counts every attempt, the first included: 1 means no retry",
				})
			}
		case "skippable":
			if b := p.boolPtr(v, label, k); b != nil {
				s.Skippable = *b
			}
		case "custom_events":
			s.CustomEvents = p.customEvents(v, label)
		case "timeout":
			if d, ok := p.duration(v, label, k); ok {
				s.Timeout = d
				p.checkPositive(v, label, k, d)
			}
		case "backoff":
			s.Backoff = p.backoff(v, label)
		}
	}
	if !nameSet {
		p.add(&Error{
			Line: n.Line, Field: "name",
			Problem: fmt.Sprintf("step_templates item %d: missing required key \"name\"", i+1),
			Fix:     "give every step a unique name",
		})
	}
	h, hField := handler, "handler"
	if h == nil {
		h, hField = handlerClass, "handler_class"
	}
	switch {
	case handler != nil && handlerClass != nil && handler.Value != handlerClass.Value:
		p.add(&Error{
			Line: handlerClass.Line, Step: label, Field: "handler_class",
			Problem: fmt.Sprintf("handler %q and handler_class %q differ", handler.Value, handlerClass.Value),
			Fix:     "keep only one of them (handler_class is an alias of handler)",
		})
	case h == nil:
		p.add(&Error{
			Line: n.Line, Step: label, Field: "handler",
			Problem: `missing required key "handler"`,
			Fix:     "set handler to the name of a registered handler (handler_class is accepted as an alias)",
		})
	case strings.TrimSpace(h.Value) == "":
		p.add(&Error{
			Line: h.Line, Step: label, Field: hField,
			Problem: fmt.Sprintf("key %q must not be empty", hField),
			Fix:     "set it to the name of a registered handler",
		})
	default:
		s.Handler = h.Value
	}
	if s.DependentSystem == "" {
		s.DependentSystem = defaultDependentSystem
	}
	return s, nameSet && strings.TrimSpace(s.Name) != ""
}

// checkPositive reports a duration that is not positive.
func (p *parser) checkPositive(n *yaml.Node, step, field string, d time.Duration) {
	if d <= 0 {
		p.add(&Error{
			Line: n.Line, Step: step, Field: field,
			Problem: fmt.Sprintf("%s must be positive, got %s", field, d),
			Fix:     `use a duration such as "30s" or "5m"`,
		})
	}
}

// customEvents decodes a step's custom_events.
func (p *parser) customEvents(n *yaml.Node, step string) []CustomEvent {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.typeError(n, step, "custom_events", "a list of {name, description} mappings")
		return nil
	}
	var out []CustomEvent
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.add(&Error{
				Line: item.Line, Step: step, Field: "custom_events",
				Problem: fmt.Sprintf("custom_events item %d must be a mapping with name and description, got %s", i+1, describe(item)),
			})
			continue
		}
		var ev CustomEvent
		named := false
		for _, pr := range p.checkKeys(p.pairs(item, step), step, "custom_events", customEventKeys) {
			switch pr.key.Value {
			case "name":
				if s, ok := p.str(pr.val, step, "custom_events.name"); ok {
					named = true
					ev.Name = s
					if !eventRE.MatchString(s) {
						p.add(&Error{
							Line: pr.val.Line, Step: step, Field: "custom_events.name",
							Problem: fmt.Sprintf("custom event name %q is not namespaced", s),
							Fix:     `use lowercase letters, digits and "_" in dot-separated parts, such as "order.fulfilled"`,
						})
					}
				}
			case "description":
				ev.Description, _ = p.str(pr.val, step, "custom_events.description")
			}
		}
		if !named {
			p.add(&Error{
				Line: item.Line, Step: step, Field: "custom_events.name",
				Problem: fmt.Sprintf("custom_events item %d: missing required key \"name\"", i+1),
				Fix:     `name the event, such as "order.fulfilled"`,
			})
			continue
		}
		out = append(out, ev)
	}
	return out
}

// backoff decodes a step's backoff.
func (p *parser) backoff(n *yaml.Node, step string) *Backoff {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.typeError(n, step, "backoff", "a mapping with base, max, max_requested and jitter")
		return nil
	}
	b := &Backoff{}
	var baseNode, maxNode *yaml.Node
	for _, pr := range p.checkKeys(p.pairs(n, step), step, "backoff", backoffKeys) {
		field := "backoff." + pr.key.Value
		var dst *time.Duration
		switch pr.key.Value {
		case "base":
			dst, baseNode = &b.Base, pr.val
		case "max":
			dst, maxNode = &b.Max, pr.val
		case "max_requested":
			dst = &b.MaxRequested
		case "jitter":
			b.Jitter = p.floatPtr(pr.val, step, field)
			if b.Jitter != nil && (*b.Jitter < 0 || *b.Jitter > 1) {
				p.add(&Error{
					Line: pr.val.Line, Step: step, Field: field,
					Problem: fmt.Sprintf("backoff.jitter must be between 0 and 1, got %v", *b.Jitter),
					Fix:     "0.1 spreads delays by ±10 %",
				})
			}
			continue
		}
		if d, ok := p.duration(pr.val, step, field); ok {
			*dst = d
			p.checkPositive(pr.val, step, field, d)
		}
	}
	if baseNode != nil && maxNode != nil && b.Base > 0 && b.Max > 0 && b.Max < b.Base {
		p.add(&Error{
			Line: maxNode.Line, Step: step, Field: "backoff.max",
			Problem: fmt.Sprintf("backoff.max (%s) is less than backoff.base (%s)", b.Max, b.Base),
			Fix:     "raise max or lower base",
		})
	}
	return b
}
