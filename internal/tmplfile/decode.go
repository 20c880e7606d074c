package tmplfile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

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
		if slices.Contains(valid, pr.key.Value) {
			out = append(out, pr)
		} else {
			p.unknownKey(pr.key, step, where, valid)
		}
	}
	return out
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
	return scalarPtr[bool](p, n, step, field, "true or false", "!!bool")
}

// intPtr decodes an optional integer.
func (p *parser) intPtr(n *yaml.Node, step, field string) *int {
	return scalarPtr[int](p, n, step, field, "an integer", "!!int")
}

// floatPtr decodes an optional number.
func (p *parser) floatPtr(n *yaml.Node, step, field string) *float64 {
	f := scalarPtr[float64](p, n, step, field, "a number", "!!int", "!!float")
	if f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
		p.typeError(n, step, field, "a number")
		return nil
	}
	return f
}

// scalarPtr decodes an optional scalar whose YAML tag is one of tags; want
// describes the expected value in the error.
func scalarPtr[T any](p *parser, n *yaml.Node, step, field, want string, tags ...string) *T {
	if isNull(n) {
		return nil
	}
	var v T
	if n.Kind != yaml.ScalarNode || !slices.Contains(tags, n.ShortTag()) || n.Decode(&v) != nil {
		p.typeError(n, step, field, want)
		return nil
	}
	return &v
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
