package ctxschema

import (
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// refCycle returns the location of a schema that leads back to itself
// without going into a property or an item ("$ref" to "$ref", or through
// "allOf", "anyOf", "oneOf", "not", "if"/"then"/"else", dependent schemas),
// or "" when there is none. Validating any value that reaches such a schema
// would never end, so the validator refuses every such value: the schema is
// refused when compiled (tasker template validate, template loading) instead.
// Recursion through properties or items ("a tree of nodes") is fine.
func refCycle(root *jsonschema.Schema) string {
	const (
		unseen = iota
		open
		done
	)
	state := map[*jsonschema.Schema]int{}
	seen := map[*jsonschema.Schema]bool{}
	var all []*jsonschema.Schema
	var collect func(s *jsonschema.Schema)
	collect = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		all = append(all, s)
		for _, c := range inPlace(s) {
			collect(c)
		}
		for _, c := range nested(s) {
			collect(c)
		}
	}
	collect(root)
	var visit func(s *jsonschema.Schema) string
	visit = func(s *jsonschema.Schema) string {
		switch state[s] {
		case open:
			return s.Location
		case done:
			return ""
		}
		state[s] = open
		for _, c := range inPlace(s) {
			if loc := visit(c); loc != "" {
				return loc
			}
		}
		state[s] = done
		return ""
	}
	for _, s := range all {
		if loc := visit(s); loc != "" {
			return loc
		}
	}
	return ""
}

// inPlace are the subschemas applied to the same value as s.
func inPlace(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, d := range s.DependentSchemas {
		out = append(out, d)
	}
	for _, d := range s.Dependencies {
		if d, ok := d.(*jsonschema.Schema); ok {
			out = append(out, d)
		}
	}
	return nonNil(out)
}

// nested are the subschemas applied to parts of the value of s.
func nested(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	for _, p := range s.Properties {
		out = append(out, p)
	}
	for _, p := range s.PatternProperties {
		out = append(out, p)
	}
	out = append(out, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch x := v.(type) {
		case *jsonschema.Schema:
			out = append(out, x)
		case []*jsonschema.Schema:
			out = append(out, x...)
		}
	}
	return nonNil(out)
}

func nonNil(in []*jsonschema.Schema) []*jsonschema.Schema {
	out := in[:0]
	for _, s := range in {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// refCycleError is the message of a schema with a reference cycle.
func refCycleError(loc string) error {
	return fmt.Errorf("schema at %s refers back to itself through \"$ref\" (or allOf/anyOf/oneOf/not/if) without going into a property or an item, so no value could ever be validated: break the cycle", schemaPointer(loc))
}

// schemaPointer turns a compiled schema's location into a JSON pointer into
// the schema ("#/$defs/a").
func schemaPointer(loc string) string {
	if len(loc) > len(schemaURL) && loc[:len(schemaURL)] == schemaURL {
		return loc[len(schemaURL):]
	}
	if loc == schemaURL {
		return "#"
	}
	return loc
}
