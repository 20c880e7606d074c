package apiview

import (
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/dag"
)

// DependencyAnalysis is the runtime dependency analysis of a task: the
// execution context, each step's readiness, and the structure of its graph.
type DependencyAnalysis struct {
	*tasker.ExecutionContext
	Steps []StepReadiness `json:"steps"`
	// Source is "template" when the structure comes from the registered
	// template, "steps" when it was rebuilt from the task's own steps.
	Source         string         `json:"graph_source"`
	Levels         map[string]int `json:"levels"`
	Roots          []string       `json:"roots"`
	Leaves         []string       `json:"leaves"`
	ExecutionOrder []string       `json:"execution_order"`

	// The original engine's runtime analysis (spec §13), from
	// Client.TaskDependencyAnalysis: its task_id is the execution
	// context's.
	DependencyGraph          tasker.RuntimeGraph         `json:"dependency_graph"`
	CriticalPaths            tasker.CriticalPaths        `json:"critical_paths"`
	ParallelismOpportunities tasker.ParallelismAnalysis  `json:"parallelism_opportunities"`
	ErrorChains              tasker.ErrorChainAnalysis   `json:"error_chains"`
	Bottlenecks              tasker.StepBottlenecks      `json:"bottlenecks"`
	GeneratedAt              time.Time                   `json:"generated_at"`
	AnalysisTimestamp        time.Time                   `json:"analysis_timestamp"`
	TaskExecutionSummary     tasker.TaskExecutionSummary `json:"task_execution_summary"`
}

// WithRuntime adds the runtime analysis a to da.
func (da *DependencyAnalysis) WithRuntime(a *tasker.TaskDependencyAnalysis) *DependencyAnalysis {
	da.DependencyGraph, da.CriticalPaths, da.ParallelismOpportunities = a.DependencyGraph, a.CriticalPaths, a.ParallelismOpportunities
	da.ErrorChains, da.Bottlenecks, da.TaskExecutionSummary = a.ErrorChains, a.Bottlenecks, a.TaskExecutionSummary
	for i := range da.ErrorChains.ErrorChains {
		c := &da.ErrorChains.ErrorChains[i]
		c.RetryAnalysis.NextRetryAt = UTC(c.RetryAnalysis.NextRetryAt)
	}
	da.GeneratedAt = UTC(a.GeneratedAt)
	da.AnalysisTimestamp = da.GeneratedAt
	return da
}

// StepReadiness is one step of a DependencyAnalysis.
type StepReadiness struct {
	tasker.StepReadiness
	// TimeUntilReady is in seconds (the Go field is a duration).
	TimeUntilReady float64 `json:"time_until_ready"`
}

// NewDependencyAnalysis returns the analysis of task from its steps and
// execution context; the graph comes from the task's registered template
// in reg when there is one, else from the steps themselves.
func NewDependencyAnalysis(reg *tasker.Registry, task *tasker.Task, steps []*tasker.Step, ec *tasker.ExecutionContext) *DependencyAnalysis {
	da := &DependencyAnalysis{ExecutionContext: ec, Steps: make([]StepReadiness, len(ec.Steps))}
	for i, sr := range ec.Steps {
		sr.NextRetryAt = UTC(sr.NextRetryAt)
		da.Steps[i] = StepReadiness{StepReadiness: sr, TimeUntilReady: sr.TimeUntilReady.Seconds()}
	}
	if tmpl, err := reg.Template(task.Namespace, task.Name, task.Version); err == nil {
		a := tmpl.Analyze()
		da.Source, da.Levels, da.Roots, da.Leaves, da.ExecutionOrder = "template", a.Levels, a.Roots, a.Leaves, a.Topology
	} else {
		a := dag.Analyze(stepNodes(steps))
		da.Source, da.Levels, da.Roots, da.Leaves, da.ExecutionOrder = "steps", a.Levels, a.Roots, a.Leaves, a.Topology
	}
	return da
}

// stepNodes rebuilds the dependency graph of a task from its steps.
func stepNodes(steps []*tasker.Step) []dag.Node {
	names := make(map[int64]string, len(steps))
	for _, st := range steps {
		names[st.ID] = st.Name
	}
	nodes := make([]dag.Node, len(steps))
	for i, st := range steps {
		nodes[i] = dag.Node{Name: st.Name}
		for _, p := range st.ParentIDs {
			if n, ok := names[p]; ok {
				nodes[i].DependsOn = append(nodes[i].DependsOn, n)
			}
		}
	}
	return nodes
}
