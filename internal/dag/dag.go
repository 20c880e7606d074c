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
// depends on a. The package imports only the standard library, taskertype,
// internal/statemachine (the rule book) and internal/names.
package dag

import (
	"slices"
	"sync"
)

// Node is one step of a template as the graph sees it.
type Node struct {
	// Name is the step name; it must be non-empty and unique.
	Name string
	// DependsOn lists the names of the parent steps that must finish
	// (complete or resolved_manually) before this step may start. Repeated
	// names are ignored; order is kept otherwise.
	DependsOn []string
}

// Graph is a validated, acyclic dependency graph. Steps are identified by
// their index in declaration order (0 .. Len()-1). A Graph is immutable and
// safe for concurrent use; it must not be copied.
type Graph struct {
	names     []string
	index     nameTable
	parentOff []int32 // parents of i: parents[parentOff[i]:parentOff[i+1]]
	childOff  []int32 // children of i: children[childOff[i]:childOff[i+1]]
	parents   []int
	levels    []int32
	// childrenOnce guards childOff and children, built on first use.
	childrenOnce sync.Once
	children     []int
	// forward is true when every parent is declared before its children,
	// so the declaration order is itself the topological order.
	forward bool
}

// New validates nodes and builds their Graph.
//
// Checks run in phases and each phase reports the first problem in
// declaration order, so the result is deterministic:
//  1. names: the first empty name (*EmptyNameError) or repeated name
//     (*DuplicateStepError, at its second occurrence);
//  2. dependencies, step by step and in each DependsOn order:
//     *SelfDependencyError and *UnknownDependencyError;
//  3. *CycleError, found by a depth-first search started from each step in
//     declaration order.
//
// Every error wraps ErrInvalidGraph. A name repeated inside one DependsOn
// list is not an error: it is counted once.
//
// New is on the hot path of task creation: for a template that declares
// parents before children it makes one pass over the names, one over the
// dependencies and four allocations; the children lists are built on first
// use.
func New(nodes []Node) (*Graph, error) {
	n := len(nodes)
	g := &Graph{names: make([]string, n)}

	// One allocation for the name table, the parent offsets and the levels.
	size := tableSize(n)
	i32 := make([]int32, size+2*n+1)
	slots := i32[:size:size]
	g.parentOff = i32[size : size+n+1 : size+n+1]
	g.levels = i32[size+n+1:]

	g.index.init(slots)
	total := 0
	for i := range nodes {
		name := nodes[i].Name
		if name == "" {
			return nil, &EmptyNameError{Index: i}
		}
		g.names[i] = name
		if !g.index.insert(g.names, i) {
			return nil, &DuplicateStepError{Name: name}
		}
		total += len(nodes[i].DependsOn)
	}

	// Resolve dependencies. While every parent comes before its child the
	// levels are computed on the way. Repeated dependencies are dropped: by
	// scanning the step's short parent list, or for long lists with seen,
	// where seen[p] == i+1 marks p as already listed for step i.
	parents := make([]int, total)
	var seen []int32
	k := 0
	forward := true
	for i := range nodes {
		deps := nodes[i].DependsOn
		if len(deps) > 8 && seen == nil {
			seen = make([]int32, n)
		}
		start := k
		var lvl int32
		for _, dep := range deps {
			p := g.index.lookup(g.names, dep)
			if p < 0 {
				return nil, &UnknownDependencyError{Step: g.names[i], Dependency: dep, Known: g.names}
			}
			if p == i {
				return nil, &SelfDependencyError{Step: g.names[i]}
			}
			if len(deps) > 8 {
				if seen[p] == int32(i+1) {
					continue
				}
				seen[p] = int32(i + 1)
			} else if slices.Contains(parents[start:k], p) {
				continue
			}
			parents[k] = p
			k++
			if p > i {
				forward = false
			}
			lvl = max(lvl, g.levels[p]+1)
		}
		g.levels[i] = lvl
		g.parentOff[i+1] = int32(k)
	}
	g.parents = parents[:k:k]
	g.forward = forward
	if forward {
		// Acyclic by construction; children are built on first use.
		return g, nil
	}

	g.childrenOnce.Do(g.buildChildren)
	clear(g.levels)
	if !g.kahnLevels() {
		path := findCycles(n, g.Children, true)[0]
		names := make([]string, len(path))
		for k, v := range path {
			names[k] = g.names[v]
		}
		return nil, &CycleError{Path: names}
	}
	return g, nil
}

// buildChildren fills childOff and children from the parent lists: each
// child list is in declaration order of the children.
func (g *Graph) buildChildren() {
	n := len(g.names)
	off := make([]int32, n+1)
	for _, p := range g.parents {
		off[p+1]++
	}
	for i := 0; i < n; i++ {
		off[i+1] += off[i]
	}
	children := make([]int, len(g.parents))
	cursor := make([]int32, n)
	copy(cursor, off[:n])
	for i := 0; i < n; i++ {
		for _, p := range g.Parents(i) {
			children[cursor[p]] = i
			cursor[p]++
		}
	}
	g.childOff, g.children = off, children
}

// kahnLevels computes the levels (longest distance from a root) with Kahn's
// algorithm and reports whether every node was reached, i.e. whether the
// graph is acyclic. The children must have been built.
func (g *Graph) kahnLevels() bool {
	n := len(g.names)
	indeg := make([]int32, n)
	queue := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		indeg[i] = g.parentOff[i+1] - g.parentOff[i]
		if indeg[i] == 0 {
			queue = append(queue, int32(i))
		}
	}
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		for _, c := range g.Children(int(u)) {
			g.levels[c] = max(g.levels[c], g.levels[u]+1)
			indeg[c]--
			if indeg[c] == 0 {
				queue = append(queue, int32(c))
			}
		}
	}
	return len(queue) == n
}

// Len returns the number of steps.
func (g *Graph) Len() int { return len(g.names) }

// Names returns the step names in declaration order, as a new slice.
func (g *Graph) Names() []string {
	out := make([]string, len(g.names))
	copy(out, g.names)
	return out
}

// Name returns the name of step i. It panics if i is out of range.
func (g *Graph) Name(i int) string { return g.names[i] }

// Index returns the index of the step called name and whether it exists.
func (g *Graph) Index(name string) (int, bool) {
	i := g.index.lookup(g.names, name)
	return i, i >= 0
}

// Parents returns the indices of the parents of step i, in the order of its
// DependsOn list (duplicates removed). The slice is shared with the graph
// and must not be modified. It panics if i is out of range.
func (g *Graph) Parents(i int) []int {
	lo, hi := g.parentOff[i], g.parentOff[i+1]
	return g.parents[lo:hi:hi]
}

// Children returns the indices of the steps that depend on step i, in
// declaration order. The slice is shared with the graph and must not be
// modified. It panics if i is out of range.
func (g *Graph) Children(i int) []int {
	g.childrenOnce.Do(g.buildChildren)
	lo, hi := g.childOff[i], g.childOff[i+1]
	return g.children[lo:hi:hi]
}

// Roots returns the names of the steps without parents, in declaration
// order.
func (g *Graph) Roots() []string {
	var out []string
	for i := range g.names {
		if g.parentOff[i] == g.parentOff[i+1] {
			out = append(out, g.names[i])
		}
	}
	return out
}

// Leaves returns the names of the steps without children, in declaration
// order.
func (g *Graph) Leaves() []string {
	var out []string
	g.childrenOnce.Do(g.buildChildren)
	for i := range g.names {
		if g.childOff[i] == g.childOff[i+1] {
			out = append(out, g.names[i])
		}
	}
	return out
}

// LevelOf returns the level of step i: 0 for a root, otherwise one more
// than the highest level among its parents (the longest path from a root).
// It panics if i is out of range.
func (g *Graph) LevelOf(i int) int { return int(g.levels[i]) }

// Levels returns the level of every step by name (see LevelOf), as a new
// map.
func (g *Graph) Levels() map[string]int {
	out := make(map[string]int, len(g.names))
	for i, name := range g.names {
		out[name] = int(g.levels[i])
	}
	return out
}

// TopologicalOrder returns every step name once, each after all of its
// parents. It is Kahn's algorithm where, whenever several steps are ready,
// the one declared first comes first; a template that already declares
// parents before children therefore gets its declaration order back.
func (g *Graph) TopologicalOrder() []string {
	if g.forward {
		return g.Names()
	}
	n := len(g.names)
	order := kahnMinOrder(n, func(i int) int { return int(g.parentOff[i+1] - g.parentOff[i]) }, g.Children)
	out := make([]string, len(order))
	for k, i := range order {
		out[k] = g.names[i]
	}
	return out
}

// kahnMinOrder is Kahn's algorithm with a min-heap of ready indices, so
// the smallest (earliest declared) ready node always comes next. Nodes on
// or behind a cycle are left out.
func kahnMinOrder(n int, parentCount func(int) int, children func(int) []int) []int {
	indeg := make([]int, n)
	h := make(minHeap, 0, n)
	for i := 0; i < n; i++ {
		indeg[i] = parentCount(i)
		if indeg[i] == 0 {
			h = append(h, i) // ascending, so already a valid heap
		}
	}
	order := make([]int, 0, n)
	for len(h) > 0 {
		u := h.pop()
		order = append(order, u)
		for _, c := range children(u) {
			indeg[c]--
			if indeg[c] == 0 {
				h.push(c)
			}
		}
	}
	return order
}

// minHeap is a binary min-heap of ints.
type minHeap []int

func (h *minHeap) push(v int) {
	s := append(*h, v)
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *minHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(s) && s[l] < s[small] {
			small = l
		}
		if r := l + 1; r < len(s) && s[r] < s[small] {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

// findCycles runs an iterative depth-first search with colours, started
// from every unvisited node in index order and following children in
// order. Each edge that closes a cycle (leads to a node on the current
// path) yields that cycle as a path returning to its start. With first set
// it stops at the first cycle. The order of the search makes the result
// deterministic.
func findCycles(n int, children func(int) []int, first bool) [][]int {
	const (
		white = iota
		grey
		black
	)
	colour := make([]uint8, n)
	pos := make([]int, n) // position of a grey node on the path
	type frame struct{ node, next int }
	var stack []frame
	var cycles [][]int
	for start := 0; start < n; start++ {
		if colour[start] != white {
			continue
		}
		colour[start] = grey
		stack = append(stack[:0], frame{node: start})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			kids := children(top.node)
			if top.next == len(kids) {
				colour[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			c := kids[top.next]
			top.next++
			switch colour[c] {
			case white:
				colour[c] = grey
				pos[c] = len(stack)
				stack = append(stack, frame{node: c})
			case grey:
				path := make([]int, 0, len(stack)-pos[c]+1)
				for _, f := range stack[pos[c]:] {
					path = append(path, f.node)
				}
				cycles = append(cycles, append(path, c))
				if first {
					return cycles
				}
			}
		}
	}
	return cycles
}
