package ctxschema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A schema whose "$ref" chain loops is refused when compiled (tasker
// template validate), not at every create; recursion through properties or
// items is fine.
func TestRefCycleRefusedAtCompile(t *testing.T) {
	for name, sch := range map[string]map[string]any{
		"two refs": {"$defs": map[string]any{"a": map[string]any{"$ref": "#/$defs/b"}, "b": map[string]any{"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
		"self":     {"$ref": "#"},
		"allOf under a property": {"type": "object", "properties": map[string]any{"x": map[string]any{"$ref": "#/$defs/a"}},
			"$defs": map[string]any{"a": map[string]any{"allOf": []any{map[string]any{"$ref": "#/$defs/a"}}}}},
	} {
		_, err := Compile(sch)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "refers back to itself", name)
	}
	tree := map[string]any{"$defs": map[string]any{"node": map[string]any{"type": "object",
		"properties": map[string]any{"children": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/node"}}}}},
		"$ref": "#/$defs/node"}
	s, err := Compile(tree)
	require.NoError(t, err, "recursion through items is fine")
	_, err = s.Validate([]byte(`{"children": [{"children": []}]}`))
	require.NoError(t, err)
}
