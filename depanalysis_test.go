package tasker_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGoldenDependencyAnalysis pins the runtime dependency analysis on both
// databases (one golden file: the answer must not depend on the database):
// a diamond whose branch b exhausted its two attempts (the task is in
// error, d never ran), and a six-step chain whose third step waits for its
// retry.
func TestGoldenDependencyAnalysis(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t,
			template("default", "diamond", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}, limit: 2},
				stepDef{name: "c", deps: []string{"a"}}, stepDef{name: "d", deps: []string{"b", "c"}}),
			template("default", "chain", "1.0.0", stepDef{name: "s1"}, stepDef{name: "s2", deps: []string{"s1"}},
				stepDef{name: "s3", deps: []string{"s2"}}, stepDef{name: "s4", deps: []string{"s3"}},
				stepDef{name: "s5", deps: []string{"s4"}}, stepDef{name: "s6", deps: []string{"s5"}}))
		e.h.fails["b"] = 100
		diamond := e.create("diamond", nil)
		task := e.quiesce(diamond.ID)
		require.Equal(t, taskertype.StateError, task.State)
		e.h.fails["s3"] = 1
		chain := e.create("chain", nil)
		e.singlePass() // s3 failed once and waits for its retry

		var out []byte
		for _, id := range []int64{diamond.ID, chain.ID} {
			a, err := e.client.TaskDependencyAnalysis(e.ctx, id)
			require.NoError(t, err)
			raw, err := json.MarshalIndent(a, "", "  ")
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("=== task %d\n%s\n", id, raw)...)
		}
		path := filepath.Join("testdata", "dependency_analysis.golden")
		if *updateGolden && t.Name() == "TestGoldenDependencyAnalysis/sqlite" {
			require.NoError(t, os.MkdirAll("testdata", 0o755))
			require.NoError(t, os.WriteFile(path, out, 0o644))
			return
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -run TestGoldenDependencyAnalysis -update to create it")
		require.Equal(t, string(want), string(out))
	})
}

// Every path the analysis reports is a real path of the task's graph: it
// starts at a root, ends at a leaf and follows edges; the path count and
// the longest path agree with a brute-force enumeration.
func TestDependencyAnalysisPathsAreRealPaths(t *testing.T) {
	t.Parallel()
	states := []taskertype.State{taskertype.StatePending, taskertype.StateInProgress, taskertype.StateComplete,
		taskertype.StateError, taskertype.StateCancelled, taskertype.StateResolvedManually}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		n := 1 + r.IntN(12)
		steps := make([]*tasker.Step, n)
		// Ids are shuffled so that a child may have a smaller id than its
		// parent.
		ids := r.Perm(n)
		for i := range n {
			s := &tasker.Step{ID: int64(ids[i] + 1), TaskID: 1, Name: fmt.Sprintf("s%d", i), State: states[r.IntN(len(states))],
				Attempts: r.IntN(4), RetryLimit: 1 + r.IntN(3), Retryable: true}
			if s.State == taskertype.StateError {
				s.Blocked = r.IntN(2) == 0
				s.NextAttemptAt = now.Add(time.Duration(r.IntN(3)-1) * time.Minute)
			}
			for j := range i {
				if r.IntN(3) == 0 {
					s.ParentIDs = append(s.ParentIDs, steps[j].ID)
				}
			}
			steps[i] = s
		}
		for _, s := range steps {
			for _, p := range s.ParentIDs {
				for _, ps := range steps {
					if ps.ID == p {
						ps.ChildIDs = append(ps.ChildIDs, s.ID)
					}
				}
			}
		}
		a := tasker.AnalyzeTaskDependencies(&tasker.Task{ID: 1, State: taskertype.StateInProgress}, steps, now)
		edge := map[[2]int64]bool{}
		parents, children := map[int64]int{}, map[int64]int{}
		for _, s := range steps {
			for _, p := range s.ParentIDs {
				edge[[2]int64{p, s.ID}] = true
				parents[s.ID]++
				children[p]++
			}
		}
		// Brute force: every root-to-leaf path.
		var all [][]int64
		var walk func(id int64, path []int64)
		walk = func(id int64, path []int64) {
			path = append(slices.Clone(path), id)
			if children[id] == 0 {
				all = append(all, path)
				return
			}
			for k := range edge {
				if k[0] == id {
					walk(k[1], path)
				}
			}
		}
		longest := 0
		for _, s := range steps {
			if parents[s.ID] == 0 {
				walk(s.ID, nil)
			}
		}
		for _, p := range all {
			longest = max(longest, len(p))
		}
		cp := a.CriticalPaths
		require.Equal(t, len(all), cp.TotalPaths, "seed %d", seed)
		require.Equal(t, longest, cp.LongestPathLength, "seed %d", seed)
		require.Equal(t, longest, a.TaskExecutionSummary.LongestPathLength)
		require.Len(t, cp.Paths, min(5, len(all)), "seed %d", seed)
		for i, p := range cp.Paths {
			require.NotEmpty(t, p.Path)
			require.Equal(t, len(p.Path), p.Length)
			require.Zero(t, parents[p.Path[0]], "seed %d: path %v starts at a root", seed, p.Path)
			require.Zero(t, children[p.Path[len(p.Path)-1]], "seed %d: path %v ends at a leaf", seed, p.Path)
			for k := 1; k < len(p.Path); k++ {
				require.True(t, edge[[2]int64{p.Path[k-1], p.Path[k]}], "seed %d: %v follows edges", seed, p.Path)
			}
			require.GreaterOrEqual(t, p.CriticalityScore, 0.0)
			if i > 0 {
				require.LessOrEqual(t, p.CriticalityScore, cp.Paths[i-1].CriticalityScore, "ranked by criticality")
			}
		}
		require.Len(t, a.DependencyGraph.Nodes, n)
		require.Len(t, a.DependencyGraph.Edges, len(edge))
		for _, ed := range a.DependencyGraph.Edges {
			require.Greater(t, a.DependencyGraph.DependencyLevels[fmt.Sprint(ed.To)], a.DependencyGraph.DependencyLevels[fmt.Sprint(ed.From)],
				"a child is on a deeper level than its parent")
		}
		require.Contains(t, []string{"critical", "warning", "healthy"}, a.TaskExecutionSummary.OverallHealth)
	}
}

// BenchmarkAnalyzeTaskDependencies1000 analyses a 1,000-step task: a chain
// of 100 levels of 10 steps, each step depending on two steps of the level
// above (so the path count explodes and only the first 1,000 paths are
// enumerated), with errors and retries spread over it.
func BenchmarkAnalyzeTaskDependencies1000(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const width, depth = 10, 100
	steps := make([]*tasker.Step, 0, width*depth)
	for l := range depth {
		for i := range width {
			id := int64(l*width + i + 1)
			s := &tasker.Step{ID: id, TaskID: 1, Name: fmt.Sprintf("s%d_%d", l, i), State: taskertype.StatePending, RetryLimit: 3, Retryable: true}
			switch {
			case l < depth/2:
				s.State, s.Attempts = taskertype.StateComplete, 1
			case l == depth/2 && i%3 == 0:
				s.State, s.Attempts, s.NextAttemptAt = taskertype.StateError, 1+i%3, now.Add(time.Minute)
			}
			if l > 0 {
				s.ParentIDs = []int64{int64((l-1)*width + i + 1), int64((l-1)*width + (i+1)%width + 1)}
			}
			steps = append(steps, s)
		}
	}
	task := &tasker.Task{ID: 1, State: taskertype.StateInProgress}
	b.ReportAllocs()
	for b.Loop() {
		a := tasker.AnalyzeTaskDependencies(task, steps, now)
		if !a.CriticalPaths.PathsTruncated {
			b.Fatal("expected more paths than enumerated")
		}
	}
}

// A task without steps has an empty analysis, not a failure.
func TestDependencyAnalysisOfNoSteps(t *testing.T) {
	t.Parallel()
	a := tasker.AnalyzeTaskDependencies(&tasker.Task{ID: 9, State: taskertype.StatePending}, nil, time.Now())
	require.EqualValues(t, 9, a.TaskID)
	require.Empty(t, a.DependencyGraph.Nodes)
	require.Zero(t, a.CriticalPaths.TotalPaths)
	require.Empty(t, a.CriticalPaths.Paths)
	require.Equal(t, "healthy", a.TaskExecutionSummary.OverallHealth)
	require.Equal(t, []string{"Task execution appears healthy"}, a.TaskExecutionSummary.Recommendations)
	raw, err := json.Marshal(a)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(raw), "null"), "empty lists are [], not null; only most_critical_error is null: %s", raw)
	require.Contains(t, string(raw), `"most_critical_error":null`)
}
