package dag_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/taskertype"
)

// diamond is the diamond template of spec scenarios 7 and 28.
func diamond() []dag.Node {
	return []dag.Node{
		{Name: "start_workflow"},
		{Name: "branch_one_process", DependsOn: []string{"start_workflow"}},
		{Name: "branch_two_process", DependsOn: []string{"start_workflow"}},
		{Name: "branch_one_validate", DependsOn: []string{"branch_one_process"}},
		{Name: "branch_two_validate", DependsOn: []string{"branch_two_process"}},
		{Name: "merge_branches", DependsOn: []string{"branch_one_validate", "branch_two_validate"}},
		{Name: "end_workflow", DependsOn: []string{"merge_branches"}},
	}
}

// dummyTask is the DummyTask template of spec scenario 1.
func dummyTask() []dag.Node {
	return []dag.Node{
		{Name: "step-one"},
		{Name: "step-two"},
		{Name: "step-three", DependsOn: []string{"step-two"}},
		{Name: "step-four", DependsOn: []string{"step-three"}},
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []dag.Node
		want  error
		msg   string
	}{
		{
			name:  "empty name",
			nodes: []dag.Node{{Name: "a"}, {Name: ""}},
			want:  &dag.EmptyNameError{Index: 1},
			msg:   "step at index 1 has an empty name; give every step a unique, non-empty name",
		},
		{
			name:  "duplicate",
			nodes: []dag.Node{{Name: "x"}, {Name: "y"}, {Name: "x"}},
			want:  &dag.DuplicateStepError{Name: "x"},
			msg:   `step "x" is declared twice; step names must be unique within a template: rename one of them`,
		},
		{
			name:  "first duplicate in declaration order",
			nodes: []dag.Node{{Name: "b"}, {Name: "a"}, {Name: "a"}, {Name: "b"}},
			want:  &dag.DuplicateStepError{Name: "a"},
			msg:   `step "a" is declared twice; step names must be unique within a template: rename one of them`,
		},
		{
			name:  "self dependency",
			nodes: []dag.Node{{Name: "a"}, {Name: "b", DependsOn: []string{"a", "b"}}},
			want:  &dag.SelfDependencyError{Step: "b"},
			msg:   `step "b" depends on itself; remove "b" from its own dependencies`,
		},
		{
			name:  "unknown dependency with suggestion",
			nodes: []dag.Node{{Name: "fetch_user"}, {Name: "fetch_order"}, {Name: "merge", DependsOn: []string{"fetch_usr"}}},
			want: &dag.UnknownDependencyError{
				Step: "merge", Dependency: "fetch_usr", Known: []string{"fetch_user", "fetch_order", "merge"},
			},
			msg: `step "merge" depends on unknown step "fetch_usr"; did you mean "fetch_user"?`,
		},
		{
			name:  "unknown dependency without suggestion",
			nodes: []dag.Node{{Name: "a"}, {Name: "b", DependsOn: []string{"zzz"}}},
			want:  &dag.UnknownDependencyError{Step: "b", Dependency: "zzz", Known: []string{"a", "b"}},
			msg:   `step "b" depends on unknown step "zzz"; declare a step with that name or remove it from the dependencies of "b"`,
		},
		{
			name: "cycle",
			nodes: []dag.Node{
				{Name: "a", DependsOn: []string{"c"}},
				{Name: "b", DependsOn: []string{"a"}},
				{Name: "c", DependsOn: []string{"b"}},
			},
			want: &dag.CycleError{Path: []string{"a", "b", "c", "a"}},
			msg:  "dependency cycle: a -> b -> c -> a; remove one of these dependencies",
		},
		{
			name: "two-step cycle behind a valid prefix",
			nodes: []dag.Node{
				{Name: "root"},
				{Name: "x", DependsOn: []string{"root", "y"}},
				{Name: "y", DependsOn: []string{"x"}},
			},
			want: &dag.CycleError{Path: []string{"x", "y", "x"}},
			msg:  "dependency cycle: x -> y -> x; remove one of these dependencies",
		},
		{
			name:  "names are checked before dependencies",
			nodes: []dag.Node{{Name: "a", DependsOn: []string{"nope"}}, {Name: "a"}},
			want:  &dag.DuplicateStepError{Name: "a"},
			msg:   `step "a" is declared twice; step names must be unique within a template: rename one of them`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := dag.New(tt.nodes)
			require.Nil(t, g)
			require.Error(t, err)
			require.Equal(t, tt.want, err)
			require.EqualError(t, err, tt.msg)
			require.ErrorIs(t, err, dag.ErrInvalidGraph)
		})
	}
}

func TestNewErrorsAs(t *testing.T) {
	t.Parallel()
	_, err := dag.New([]dag.Node{{Name: "a", DependsOn: []string{"a"}}})
	var self *dag.SelfDependencyError
	require.ErrorAs(t, err, &self)
	require.Equal(t, "a", self.Step)

	_, err = dag.New([]dag.Node{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}})
	var cyc *dag.CycleError
	require.ErrorAs(t, err, &cyc)
	require.Equal(t, []string{"a", "b", "a"}, cyc.Path)
}

func TestSuggestion(t *testing.T) {
	t.Parallel()
	known := []string{"fetch_user", "fetch_users", "a", "validate_input"}
	tests := []struct{ dep, want string }{
		{"fetch_user_", "fetch_user"},
		{"fetchuser", "fetch_user"},
		{"validate_inptu", "validate_input"},
		{"b", ""},
		{"completely_different", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dep, func(t *testing.T) {
			t.Parallel()
			e := &dag.UnknownDependencyError{Step: "s", Dependency: tt.dep, Known: known}
			require.Equal(t, tt.want, e.Suggestion())
		})
	}
}

func TestDuplicateDependencyIsDeduplicated(t *testing.T) {
	t.Parallel()
	g, err := dag.New([]dag.Node{{Name: "a"}, {Name: "b", DependsOn: []string{"a", "a", "a"}}})
	require.NoError(t, err)
	require.Equal(t, []int{0}, g.Parents(1))
	require.Equal(t, []int{1}, g.Children(0))
}

func TestDiamondStructure(t *testing.T) {
	t.Parallel()
	g, err := dag.New(diamond())
	require.NoError(t, err)
	require.Equal(t, 7, g.Len())
	require.Equal(t, []string{"start_workflow"}, g.Roots())
	require.Equal(t, []string{"end_workflow"}, g.Leaves())
	require.Equal(t, map[string]int{
		"start_workflow":      0,
		"branch_one_process":  1,
		"branch_two_process":  1,
		"branch_one_validate": 2,
		"branch_two_validate": 2,
		"merge_branches":      3,
		"end_workflow":        4,
	}, g.Levels())
	require.Equal(t, []string{
		"start_workflow", "branch_one_process", "branch_two_process",
		"branch_one_validate", "branch_two_validate", "merge_branches", "end_workflow",
	}, g.TopologicalOrder())
	i, ok := g.Index("merge_branches")
	require.True(t, ok)
	require.Equal(t, 5, i)
	require.Equal(t, "merge_branches", g.Name(i))
	require.Equal(t, 3, g.LevelOf(i))
	require.Equal(t, []int{3, 4}, g.Parents(i))
	require.Equal(t, []int{6}, g.Children(i))
	require.Equal(t, []int{1, 2}, g.Children(0))
	_, ok = g.Index("nope")
	require.False(t, ok)
}

func TestOrderWhenChildrenAreDeclaredFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		nodes  []dag.Node
		topo   []string
		levels map[string]int
		roots  []string
		leaves []string
	}{
		{
			name: "reversed chain",
			nodes: []dag.Node{
				{Name: "c", DependsOn: []string{"b"}},
				{Name: "b", DependsOn: []string{"a"}},
				{Name: "a"},
			},
			topo:   []string{"a", "b", "c"},
			levels: map[string]int{"a": 0, "b": 1, "c": 2},
			roots:  []string{"a"},
			leaves: []string{"c"},
		},
		{
			name: "declaration order breaks ties",
			nodes: []dag.Node{
				{Name: "join", DependsOn: []string{"z", "y"}},
				{Name: "z"},
				{Name: "late", DependsOn: []string{"y"}},
				{Name: "y"},
			},
			topo:   []string{"z", "y", "join", "late"},
			levels: map[string]int{"join": 1, "z": 0, "late": 1, "y": 0},
			roots:  []string{"z", "y"},
			leaves: []string{"join", "late"},
		},
		{
			name:   "empty",
			nodes:  nil,
			topo:   []string{},
			levels: map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := dag.New(tt.nodes)
			require.NoError(t, err)
			require.Equal(t, tt.topo, g.TopologicalOrder())
			require.Equal(t, tt.levels, g.Levels())
			require.Equal(t, tt.roots, g.Roots())
			require.Equal(t, tt.leaves, g.Leaves())
		})
	}
}

func TestMermaid(t *testing.T) {
	t.Parallel()
	g, err := dag.New([]dag.Node{
		{Name: "fetch-user"},
		{Name: "fetch user", DependsOn: []string{"fetch-user"}},
		{Name: "end", DependsOn: []string{"fetch-user", "fetch user"}},
		{Name: `9 "quoted" <b>`, DependsOn: []string{"end"}},
	})
	require.NoError(t, err)

	require.Equal(t, `graph TD
    fetch_user["fetch-user"]
    fetch_user_2["fetch user"]
    step_end["end"]
    step_9__quoted___b_["9 #quot;quoted#quot; #lt;b#gt;"]
    fetch_user --> fetch_user_2
    fetch_user --> step_end
    fetch_user_2 --> step_end
    step_end --> step_9__quoted___b_
`, g.Mermaid(dag.MermaidOptions{}))

	got := g.Mermaid(dag.MermaidOptions{
		States:   map[string]string{"fetch-user": "complete", "fetch user": "error", "end": "pending"},
		Attempts: map[string]int{"fetch-user": 1, "fetch user": 3},
	})
	require.Equal(t, `graph TD
    fetch_user["fetch-user<br/>complete<br/>attempts: 1"]:::complete
    fetch_user_2["fetch user<br/>error<br/>attempts: 3"]:::error
    step_end["end<br/>pending"]:::pending
    step_9__quoted___b_["9 #quot;quoted#quot; #lt;b#gt;"]
    fetch_user --> fetch_user_2
    fetch_user --> step_end
    fetch_user_2 --> step_end
    step_end --> step_9__quoted___b_
    classDef pending fill:#f4f4f4,stroke:#999
    classDef complete fill:#d1e7dd,stroke:#198754
    classDef error fill:#f8d7da,stroke:#dc3545
`, got)
}

func TestAnalyzeDiamond(t *testing.T) {
	t.Parallel()
	a := dag.Analyze(diamond())
	require.Equal(t, "start_workflow", a.Topology[0])
	require.Len(t, a.Topology, 7)
	require.Empty(t, a.Cycles)
	require.NotNil(t, a.Cycles)
	require.Equal(t, []string{"start_workflow"}, a.Roots)
	require.Equal(t, []string{"end_workflow"}, a.Leaves)
	require.Equal(t, map[string]int{
		"start_workflow": 0, "branch_one_process": 1, "branch_two_process": 1,
		"branch_one_validate": 2, "branch_two_validate": 2, "merge_branches": 3, "end_workflow": 4,
	}, a.Levels)
	require.Equal(t, taskertype.AnalysisSummary{
		TotalSteps: 7, TotalDependencies: 7, HasCycles: false, MaxDepth: 4, ParallelBranches: 2,
	}, a.Summary)
	require.Equal(t, taskertype.AnalysisNode{
		Name: "merge_branches", Dependencies: []string{"branch_one_validate", "branch_two_validate"}, DependencyCount: 2,
	}, a.Nodes[5])
	require.Equal(t, taskertype.AnalysisNode{Name: "start_workflow", Dependencies: []string{}}, a.Nodes[0])
	require.Equal(t, []taskertype.AnalysisEdge{
		{From: "start_workflow", To: "branch_one_process", Type: "single"},
		{From: "start_workflow", To: "branch_two_process", Type: "single"},
		{From: "branch_one_process", To: "branch_one_validate", Type: "single"},
		{From: "branch_two_process", To: "branch_two_validate", Type: "single"},
		{From: "branch_one_validate", To: "merge_branches", Type: "multiple"},
		{From: "branch_two_validate", To: "merge_branches", Type: "multiple"},
		{From: "merge_branches", To: "end_workflow", Type: "single"},
	}, a.Edges)
}

func TestAnalyzeInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		nodes   []dag.Node
		cycles  [][]string
		levels  map[string]int
		roots   []string
		summary taskertype.AnalysisSummary
	}{
		{
			name: "cycle with a tail",
			nodes: []dag.Node{
				{Name: "a"},
				{Name: "b", DependsOn: []string{"a", "c"}},
				{Name: "c", DependsOn: []string{"b"}},
				{Name: "d", DependsOn: []string{"c"}},
			},
			cycles:  [][]string{{"b", "c", "b"}},
			levels:  map[string]int{"a": 0, "b": 1, "c": 2, "d": 3},
			roots:   []string{"a"},
			summary: taskertype.AnalysisSummary{TotalSteps: 4, TotalDependencies: 4, HasCycles: true, MaxDepth: 3, ParallelBranches: 1},
		},
		{
			name: "self dependency, unknown dependency and duplicate name",
			nodes: []dag.Node{
				{Name: "a", DependsOn: []string{"a", "ghost"}},
				{Name: "b"},
				{Name: "b", DependsOn: []string{"a"}},
			},
			cycles:  [][]string{{"a", "a"}},
			levels:  map[string]int{"a": 0, "b": 1},
			roots:   []string{},
			summary: taskertype.AnalysisSummary{TotalSteps: 2, TotalDependencies: 2, HasCycles: true, MaxDepth: 1, ParallelBranches: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := dag.Analyze(tt.nodes)
			require.Equal(t, tt.cycles, a.Cycles)
			require.NotNil(t, a.Topology)
			require.Empty(t, a.Topology)
			require.Equal(t, tt.levels, a.Levels)
			require.Equal(t, tt.roots, a.Roots)
			require.Equal(t, tt.summary, a.Summary)
		})
	}
}

func TestAnalyzeEmpty(t *testing.T) {
	t.Parallel()
	a := dag.Analyze(nil)
	require.NotNil(t, a.Nodes)
	require.NotNil(t, a.Edges)
	require.NotNil(t, a.Topology)
	require.NotNil(t, a.Cycles)
	require.NotNil(t, a.Roots)
	require.NotNil(t, a.Leaves)
	require.Equal(t, taskertype.AnalysisSummary{}, a.Summary)
}

func TestErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	_, err := dag.New([]dag.Node{{Name: "a", DependsOn: []string{"b"}}})
	var cyc *dag.CycleError
	require.False(t, errors.As(err, &cyc))
}

// TestCollidingNames uses names that the table's quick hash (length plus
// first and last eight bytes) cannot tell apart, forcing a full rehash.
func TestCollidingNames(t *testing.T) {
	t.Parallel()
	const n = 200
	nodes := make([]dag.Node, n)
	for i := range nodes {
		nodes[i].Name = fmt.Sprintf("prefix__%04d__suffix", i)
		if i > 0 {
			nodes[i].DependsOn = []string{nodes[i-1].Name}
		}
	}
	g, err := dag.New(nodes)
	require.NoError(t, err)
	for i, nd := range nodes {
		got, ok := g.Index(nd.Name)
		require.True(t, ok)
		require.Equal(t, i, got)
		require.Equal(t, i, g.LevelOf(i))
	}
	_, ok := g.Index("prefix__9999__suffix")
	require.False(t, ok)

	nodes = append(nodes, dag.Node{Name: nodes[150].Name})
	_, err = dag.New(nodes)
	require.Equal(t, &dag.DuplicateStepError{Name: "prefix__0150__suffix"}, err)
}
