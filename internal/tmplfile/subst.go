package tmplfile

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/names"
)

// substituteDocument replaces ${VAR} in the string values of the template
// mapping root (keys are left alone), before anything is decoded.
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
// errors.
func (p *parser) substituteSteps(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.substitute(n, "")
		return
	}
	for _, item := range n.Content {
		p.substitute(item, rawName(item))
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

// substitute replaces variables in every string scalar under n. Aliases are
// not followed: the anchored node is substituted where it is defined.
//
// A plain (unquoted) scalar is re-typed after substitution, so
// default_retry_limit: ${RETRIES} becomes an integer when RETRIES=3; quote
// the value to keep it a string.
func (p *parser) substitute(n *yaml.Node, step string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			p.substitute(c, step)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p.substitute(n.Content[i+1], step)
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "$") {
			return
		}
		out, changed := p.expand(n.Value, n.Line, step)
		if !changed {
			return
		}
		n.Value = out
		const explicit = yaml.TaggedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		if n.Style&explicit == 0 {
			n.Tag = "" // let the new text decide the type
		}
	}
}

// expand substitutes the variables in s: ${VAR} becomes the variable's
// value, ${VAR:-default} the default when VAR is unset or empty, and $${
// a literal "${". It reports whether s changed.
func (p *parser) expand(s string, line int, step string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, false
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			sb.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				p.badReference(line, step, s[i:])
				sb.WriteString(s[i:])
				return sb.String(), true
			}
			ref := s[i : i+2+end+1]
			name, def, hasDefault := strings.Cut(s[i+2:i+2+end], ":-")
			i += len(ref)
			if !names.EnvVar(name) {
				p.badReference(line, step, ref)
				sb.WriteString(ref)
				continue
			}
			val, ok := p.lookup(name)
			switch {
			case hasDefault && val == "":
				val = def
			case !ok:
				p.add(&Error{
					Line:    line,
					Step:    step,
					Problem: fmt.Sprintf("environment variable %s is not set", name),
					Fix:     fmt.Sprintf("set %s or write ${%s:-default}", name, name),
				})
			}
			sb.WriteString(val)
		default:
			sb.WriteByte(s[i])
			i++
		}
	}
	return sb.String(), true
}

// badReference reports a malformed ${...}.
func (p *parser) badReference(line int, step, ref string) {
	if len(ref) > 40 {
		ref = ref[:40] + "..."
	}
	p.add(&Error{
		Line:    line,
		Step:    step,
		Problem: fmt.Sprintf("malformed variable reference %q", ref),
		Fix:     `write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`,
	})
}
