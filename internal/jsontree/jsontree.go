package jsontree

// Map returns a copy of v whose maps and lists are new, with each leaf
// replaced by leaf's result for it (kept as it is when leaf is nil). Keys
// are kept; v itself is not modified, and the copy shares no map or list
// with it.
func Map(v any, leaf func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Map(e, leaf)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Map(e, leaf)
		}
		return out
	}
	if leaf == nil {
		return v
	}
	return leaf(v)
}
