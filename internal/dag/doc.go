// Package dag is the pure dependency graph of a task template: the steps of
// a task and the "depends on" edges between them.
//
// New validates a list of steps (unique non-empty names, known dependencies,
// no self-dependency, no cycle) and returns an index-based Graph whose
// methods answer structural questions (parents, children, roots, leaves,
// levels, a topological order, a Mermaid diagram) deterministically, with
// the declaration order as the tie-break. Analyze produces the original
// engine's "dependency_graph" report and also accepts invalid (cyclic)
// templates. Ready and Outcome are an in-memory reference model of the
// scheduler's readiness and task-outcome rules.
//
// Edges point from a parent to the child that depends on it: in a -> b, b
// depends on a.
//
// Imports: the standard library, taskertype, internal/statemachine (the
// readiness rule that Ready applies) and internal/names (edit distance).
package dag
