package tmplfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// environments decodes the environments mapping and merges the overrides of
// the selected environment (Options.Env) into steps, replacing the merged
// step nodes in place.
//
// Every environment is checked for unknown keys and for overrides naming
// steps that do not exist. The original engine ignored such overrides
// silently; here they are errors that list the valid step names, because a
// misspelt step name would otherwise leave, say, production pointing at the
// development URL without a word.
func (p *parser) environments(n *yaml.Node, steps []*yaml.Node) map[string]Environment {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.typeError(n, "", "environments", "a mapping from environment names to overrides")
		return nil
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = p.stepName(s)
	}
	out := make(map[string]Environment)
	for _, pr := range p.pairs(n, "") {
		envName, v := pr.key.Value, pr.val
		selected := p.opts.Env != "" && envName == p.opts.Env
		env := Environment{}
		switch {
		case isNull(v):
		case v.Kind != yaml.MappingNode:
			p.typeError(v, "", "environments."+envName, "a mapping with step_templates")
		default:
			where := fmt.Sprintf("environment %q", envName)
			for _, ep := range p.checkKeys(p.pairs(v, ""), "", where, environmentKeys) {
				env.StepTemplates = append(env.StepTemplates, p.overrides(ep.val, envName, selected, names, steps)...)
			}
		}
		out[envName] = env
	}
	return out
}

// stepName returns the name a step mapping gives itself, or "".
func (p *parser) stepName(n *yaml.Node) string {
	for _, pr := range p.pairs(n, "") {
		if pr.key.Value == "name" && pr.val.Kind == yaml.ScalarNode && !isNull(pr.val) {
			return pr.val.Value
		}
	}
	return ""
}

// overrides decodes one environment's step_templates list, merging each
// override into its step when the environment is selected.
func (p *parser) overrides(n *yaml.Node, envName string, selected bool, names []string, steps []*yaml.Node) []StepOverride {
	field := "environments." + envName + ".step_templates"
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.typeError(n, "", field, "a list of step overrides")
		return nil
	}
	where := fmt.Sprintf("environment %q", envName)
	var out []StepOverride
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.add(&Error{
				Line: item.Line, Field: field,
				Problem: fmt.Sprintf("%s: step_templates item %d must be a mapping, got %s", where, i+1, describe(item)),
			})
			continue
		}
		pairs := p.pairs(item, "")
		ov := StepOverride{Line: item.Line}
		for _, pr := range pairs {
			if pr.key.Value == "name" && pr.val.Kind == yaml.ScalarNode && !isNull(pr.val) {
				ov.Name = pr.val.Value
			}
		}
		valid := p.checkKeys(pairs, ov.Name, where, stepKeys)
		if strings.TrimSpace(ov.Name) == "" {
			p.add(&Error{
				Line: item.Line, Field: field,
				Problem: fmt.Sprintf("%s: step_templates item %d: missing required key \"name\"", where, i+1),
				Fix:     "name the step to override",
			})
			continue
		}
		for _, pr := range valid {
			if pr.key.Value == "name" {
				continue
			}
			if ov.Values == nil {
				ov.Values = make(map[string]any)
			}
			ov.Values[pr.key.Value] = p.freeValue(pr.val, ov.Name, pr.key.Value, 0)
			if !selected {
				p.checkNestedKeys(pr, ov.Name)
			}
		}
		out = append(out, ov)

		idx := indexOf(names, ov.Name)
		if idx < 0 {
			p.add(&Error{
				Line: item.Line, Step: ov.Name, Field: "name",
				Problem: fmt.Sprintf("%s overrides unknown step %q", where, ov.Name),
				Fix:     stepSuggestion(ov.Name, names),
			})
			continue
		}
		if selected {
			steps[idx] = p.mergeStep(steps[idx], valid)
		}
	}
	return out
}

// checkNestedKeys checks the keys inside backoff and custom_events of an
// override that is not applied (and so not decoded as part of a step).
func (p *parser) checkNestedKeys(pr pair, step string) {
	switch pr.key.Value {
	case "backoff":
		if pr.val.Kind == yaml.MappingNode {
			p.checkKeys(p.pairs(pr.val, step), step, "backoff", backoffKeys)
		}
	case "custom_events":
		if pr.val.Kind == yaml.SequenceNode {
			for _, ev := range pr.val.Content {
				if ev = deref(ev); ev.Kind == yaml.MappingNode {
					p.checkKeys(p.pairs(ev, step), step, "custom_events", customEventKeys)
				}
			}
		}
	}
}

// stepSuggestion proposes a step name close to name, or lists them all.
func stepSuggestion(name string, names []string) string {
	if best := closest(name, names); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(names) == 0 {
		return "the template has no steps"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "the steps are " + strings.Join(q, ", ")
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// mergeStep returns a new step mapping: base with the override pairs
// applied. Mappings (handler_config, backoff) are merged deeply; scalars and
// lists are replaced. An override that sets handler or handler_class
// replaces both, since they are one key under two names. Neither base nor
// the override is modified, as they may be shared through aliases.
func (p *parser) mergeStep(base *yaml.Node, over []pair) *yaml.Node {
	replacesHandler := false
	for _, pr := range over {
		if pr.key.Value == "handler" || pr.key.Value == "handler_class" {
			replacesHandler = true
		}
	}
	var skip []string
	if replacesHandler {
		skip = []string{"handler", "handler_class"}
	}
	var filtered []pair
	for _, pr := range over {
		if pr.key.Value != "name" {
			filtered = append(filtered, pr)
		}
	}
	return p.mergeMappings(base, filtered, skip)
}

// mergeMappings builds a mapping from base's pairs (minus the keys in skip)
// with over applied on top.
func (p *parser) mergeMappings(base *yaml.Node, over []pair, skip []string) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: base.Line, Column: base.Column}
	index := make(map[string]int)
	for _, pr := range p.pairs(base, "") {
		if slices.Contains(skip, pr.key.Value) {
			continue
		}
		index[pr.key.Value] = len(out.Content)
		out.Content = append(out.Content, pr.key, pr.val)
	}
	for _, pr := range over {
		j, ok := index[pr.key.Value]
		if !ok {
			index[pr.key.Value] = len(out.Content)
			out.Content = append(out.Content, pr.key, pr.val)
			continue
		}
		cur := out.Content[j+1]
		if cur.Kind == yaml.MappingNode && pr.val.Kind == yaml.MappingNode {
			out.Content[j+1] = p.mergeMappings(cur, p.pairs(pr.val, ""), nil)
		} else {
			out.Content[j+1] = pr.val
		}
	}
	return out
}
