package tmplfile

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/envsubst"
)

// substituteDocument replaces ${VAR} in the string values of the template
// mapping root (keys are left alone), before anything is decoded, except
// in the steps' handler_config, which keeps its references for the engine
// to expand when the step runs (so that a secret is never stored nor
// served; see docs/templates.md).
//
// The overrides of environments other than the selected one are skipped on
// purpose: a production override such as api_key: ${ECOMMERCE_API_KEY} must
// not make the template fail to load in development, where that variable is
// not set.
func (p *parser) substituteDocument(root *yaml.Node) {
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "step_templates":
			p.substituteSteps(val)
		case "environments":
			if val.Kind != yaml.MappingNode {
				p.substitute(val, "")
				continue
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				envKey, env := val.Content[j], val.Content[j+1]
				if p.opts.Env == "" || envKey.Value != p.opts.Env {
					continue
				}
				if env.Kind != yaml.MappingNode {
					p.substitute(env, "")
					continue
				}
				for k := 0; k+1 < len(env.Content); k += 2 {
					if env.Content[k].Value == "step_templates" {
						p.substituteSteps(env.Content[k+1])
					} else {
						p.substitute(env.Content[k+1], "")
					}
				}
			}
		default:
			p.substitute(val, "")
		}
	}
}

// substituteSteps substitutes in a list of steps, naming each step in
// errors. A step's handler_config is only checked (checkRefs): it keeps its
// references, which the engine expands when the step runs.
func (p *parser) substituteSteps(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.substitute(n, "")
		return
	}
	for _, item := range n.Content {
		step := rawName(item)
		if item.Kind != yaml.MappingNode {
			p.substitute(item, step)
			continue
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == "handler_config" {
				p.checkRefs(item.Content[i+1], step)
			} else {
				p.substitute(item.Content[i+1], step)
			}
		}
	}
}

// checkRefs checks the references in every string scalar under n without
// replacing them: a malformed reference is an error; a variable that the
// loading process does not have is a warning, since the step may run in a
// worker whose environment has it (tasker serve and tasker worker often
// run with different environments).
func (p *parser) checkRefs(n *yaml.Node, step string) {
	eachReference(n, func(n *yaml.Node) {
		_, _, problems := envsubst.Expand(n.Value, p.lookup)
		for _, pr := range problems {
			problem, fix := pr.Describe()
			e := &Error{File: p.file, Line: n.Line, Step: step, Field: "handler_config", Problem: problem, Fix: fix}
			if pr.Malformed() {
				p.add(e)
				continue
			}
			e.Problem += " in this process (it is read when the step runs, in the worker that runs it)"
			e.Fix = fmt.Sprintf("set %s in the environment of every worker that runs this step, or write ${%s:-default}", pr.Name, pr.Name)
			p.warns = append(p.warns, e)
		}
	})
}

// eachReference calls f with every string scalar under n that holds a
// ${VAR} reference. Aliases are not followed: an anchored node is visited
// where it is defined.
func eachReference(n *yaml.Node, f func(*yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			eachReference(c, f)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			eachReference(n.Content[i+1], f)
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" && envsubst.Has(n.Value) {
			f(n)
		}
	}
}

// rawName returns the name written in a step mapping, or "".
func rawName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// substitute replaces variables in every string scalar under n (see
// eachReference).
//
// A plain (unquoted) scalar is re-typed after substitution, so
// default_retry_limit: ${RETRIES} becomes an integer when RETRIES=3; quote
// the value to keep it a string.
func (p *parser) substitute(n *yaml.Node, step string) {
	eachReference(n, func(n *yaml.Node) {
		out, changed := p.expand(n.Value, n.Line, step)
		if !changed {
			return
		}
		n.Value = out
		const explicit = yaml.TaggedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		if n.Style&explicit == 0 {
			n.Tag = "" // let the new text decide the type
		}
	})
}

// expand substitutes the variables in s (the rule is envsubst.Expand's). It
// reports whether s changed.
func (p *parser) expand(s string, line int, step string) (string, bool) {
	out, changed, problems := envsubst.Expand(s, p.lookup)
	for _, pr := range problems {
		problem, fix := pr.Describe()
		p.add(&Error{Line: line, Step: step, Problem: problem, Fix: fix})
	}
	return out, changed
}
