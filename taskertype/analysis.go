package taskertype

// TemplateAnalysis is the static dependency report of a template, the Go
// form of the original engine's dependency_graph (spec §7 "Template
// analysis"), as tasker.TaskTemplate.Analyze returns it. It marshals to the
// original JSON shape (the REST API and `tasker template graph --format json`
// serve it).
type TemplateAnalysis struct {
	// Nodes lists each distinct step once, in declaration order.
	Nodes []AnalysisNode `json:"nodes"`
	// Edges lists one parent-to-child edge per known dependency, ordered by
	// child (declaration order) and then by its dependency list.
	Edges []AnalysisEdge `json:"edges"`
	// Topology is a topological order (Kahn's algorithm, declaration order
	// among ready steps), or empty (never nil) when there is any cycle.
	Topology []string `json:"topology"`
	// Cycles lists the cycles found by a depth-first search, each as a
	// path in parent-to-child direction returning to its start (e.g.
	// [a b a]); empty (never nil) when there is none.
	Cycles [][]string `json:"cycles"`
	// Levels maps each step to its level: 0 for a root, otherwise one more
	// than its highest parent. In a cyclic graph the edges that close the
	// cycles found are left out of this computation.
	Levels map[string]int `json:"levels"`
	// Roots lists the steps without known parents, in declaration order.
	Roots []string `json:"roots"`
	// Leaves lists the steps without children, in declaration order.
	Leaves []string `json:"leaves"`
	// Summary holds the headline numbers.
	Summary AnalysisSummary `json:"summary"`
}

// AnalysisNode is one step of a TemplateAnalysis.
type AnalysisNode struct {
	// Name is the step name.
	Name string `json:"name"`
	// Dependencies lists the declared dependencies (repeats removed),
	// including unknown names; never nil.
	Dependencies []string `json:"dependencies"`
	// DependencyCount is len(Dependencies).
	DependencyCount int `json:"dependency_count"`
}

// AnalysisEdge is one dependency of a TemplateAnalysis, from parent to
// child.
type AnalysisEdge struct {
	// From is the parent step.
	From string `json:"from"`
	// To is the child step, the one that depends on From.
	To string `json:"to"`
	// Type is "single" when the child has exactly one known parent and
	// "multiple" otherwise.
	Type string `json:"type"`
}

// AnalysisSummary holds the headline numbers of a TemplateAnalysis.
type AnalysisSummary struct {
	// TotalSteps is the number of distinct steps.
	TotalSteps int `json:"total_steps"`
	// TotalDependencies is the number of edges.
	TotalDependencies int `json:"total_dependencies"`
	// HasCycles reports whether any cycle was found.
	HasCycles bool `json:"has_cycles"`
	// MaxDepth is the highest level (0 for a graph without edges or steps).
	MaxDepth int `json:"max_depth"`
	// ParallelBranches is the largest number of steps on one level.
	ParallelBranches int `json:"parallel_branches"`
}
