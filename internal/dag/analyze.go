package dag

import (
	"slices"

	"github.com/tasker-go/tasker/taskertype"
)

// Analyze reports on the dependency structure of nodes (the report type
// lives in taskertype so that the root package can return it). Unlike New it
// never fails: it accepts cycles and self-dependencies (reported in
// Cycles), ignores unknown dependencies when drawing edges (they still
// appear in the node's Dependencies), and merges the dependencies of a
// repeated step name into its first declaration. All slices in the result
// are non-nil, so they marshal as [] rather than null.
func Analyze(nodes []Node) *taskertype.TemplateAnalysis {
	index := make(map[string]int, len(nodes))
	var names []string
	var deps [][]string
	for _, nd := range nodes {
		i, ok := index[nd.Name]
		if !ok {
			i = len(names)
			index[nd.Name] = i
			names = append(names, nd.Name)
			deps = append(deps, []string{})
		}
		for _, d := range nd.DependsOn {
			if !slices.Contains(deps[i], d) {
				deps[i] = append(deps[i], d)
			}
		}
	}
	n := len(names)
	parents := make([][]int, n)
	children := make([][]int, n)
	for i := range names {
		for _, d := range deps[i] {
			if p, ok := index[d]; ok {
				parents[i] = append(parents[i], p)
			}
		}
	}
	for i := range names {
		for _, p := range parents[i] {
			children[p] = append(children[p], i)
		}
	}

	a := &taskertype.TemplateAnalysis{
		Nodes:    make([]taskertype.AnalysisNode, n),
		Edges:    []taskertype.AnalysisEdge{},
		Topology: []string{},
		Cycles:   [][]string{},
		Levels:   make(map[string]int, n),
		Roots:    []string{},
		Leaves:   []string{},
	}
	for i, name := range names {
		a.Nodes[i] = taskertype.AnalysisNode{Name: name, Dependencies: deps[i], DependencyCount: len(deps[i])}
		typ := "multiple"
		if len(parents[i]) == 1 {
			typ = "single"
		}
		for _, p := range parents[i] {
			a.Edges = append(a.Edges, taskertype.AnalysisEdge{From: names[p], To: name, Type: typ})
		}
		if len(parents[i]) == 0 {
			a.Roots = append(a.Roots, name)
		}
		if len(children[i]) == 0 {
			a.Leaves = append(a.Leaves, name)
		}
	}

	childrenOf := func(i int) []int { return children[i] }
	cycles := findCycles(n, childrenOf, false)
	for _, c := range cycles {
		path := make([]string, len(c))
		for k, v := range c {
			path[k] = names[v]
		}
		a.Cycles = append(a.Cycles, path)
	}
	if len(cycles) == 0 {
		for _, i := range kahnMinOrder(n, func(i int) int { return len(parents[i]) }, childrenOf) {
			a.Topology = append(a.Topology, names[i])
		}
	}

	// Levels over the graph without the cycle-closing edges.
	closing := make(map[[2]int]bool, len(cycles))
	for _, c := range cycles {
		closing[[2]int{c[len(c)-2], c[len(c)-1]}] = true
	}
	levels := longestLevels(n, children, closing)
	perLevel := map[int]int{}
	for i, name := range names {
		a.Levels[name] = levels[i]
		perLevel[levels[i]]++
		a.Summary.MaxDepth = max(a.Summary.MaxDepth, levels[i])
	}
	for _, count := range perLevel {
		a.Summary.ParallelBranches = max(a.Summary.ParallelBranches, count)
	}
	a.Summary.TotalSteps = n
	a.Summary.TotalDependencies = len(a.Edges)
	a.Summary.HasCycles = len(cycles) > 0
	return a
}

// longestLevels returns each node's longest distance from a root over the
// edges not listed in skip (which must leave an acyclic graph).
func longestLevels(n int, children [][]int, skip map[[2]int]bool) []int {
	indeg := make([]int, n)
	for u := range children {
		for _, c := range children[u] {
			if !skip[[2]int{u, c}] {
				indeg[c]++
			}
		}
	}
	levels := make([]int, n)
	queue := make([]int, 0, n)
	for i := range indeg {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		for _, c := range children[u] {
			if skip[[2]int{u, c}] {
				continue
			}
			levels[c] = max(levels[c], levels[u]+1)
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	return levels
}
