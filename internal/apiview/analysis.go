package apiview

import (
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
