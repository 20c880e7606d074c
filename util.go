package tasker

import (
	"errors"
	"maps"
	"slices"
)

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

// sortedKeys returns the keys of m, sorted; empty, not nil, when m is.
func sortedKeys[V any](m map[string]V) []string {
	keys := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(keys)
	return keys
}
