// Package envsubst is the one place that says what a ${VAR} reference in a
// task template means: ${VAR} is the variable's value, ${VAR:-default} the
// default when VAR is unset or empty, and $${ a literal "${".
//
// The template loader (internal/tmplfile) uses it for the keys it expands
// when a file loads, and to check the references of handler_config, which
// it keeps as written; the engine (root package) uses it to expand a
// step's handler_config when the step runs, in the process that runs it.
//
// Imports: the standard library, internal/names and internal/jsontree only.
package envsubst
