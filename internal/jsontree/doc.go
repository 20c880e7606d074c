// Package jsontree copies decoded JSON and YAML values: trees of
// map[string]any and []any with other values as leaves.
//
// Imports: the standard library only.
package jsontree
