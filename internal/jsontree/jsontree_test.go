package jsontree_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/jsontree"
)

func TestMap(t *testing.T) {
	t.Parallel()
	in := map[string]any{"a": "x", "b": []any{"y", json.Number("1"), map[string]any{"c": "z"}}, "d": nil, "e": true}
	upper := func(v any) any {
		if s, ok := v.(string); ok {
			return strings.ToUpper(s)
		}
		return v
	}
	got := jsontree.Map(in, upper)
	require.Equal(t, map[string]any{"a": "X", "b": []any{"Y", json.Number("1"), map[string]any{"c": "Z"}}, "d": nil, "e": true}, got)
	require.Equal(t, "x", in["a"], "the input is not modified")

	// With no leaf function, a deep copy: changing it leaves the input alone.
	cp := jsontree.Map(in, nil).(map[string]any)
	require.Equal(t, in, cp)
	cp["b"].([]any)[2].(map[string]any)["c"] = "changed"
	cp["b"].([]any)[0] = "changed"
	require.Equal(t, "z", in["b"].([]any)[2].(map[string]any)["c"])
	require.Equal(t, "y", in["b"].([]any)[0])

	require.Equal(t, "S", jsontree.Map("s", upper), "a leaf alone")
	require.Nil(t, jsontree.Map(nil, nil))
}
