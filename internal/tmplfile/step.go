package tmplfile

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

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
