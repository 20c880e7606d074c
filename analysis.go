package tasker

import (
	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/taskertype"
)

// The static dependency report of a template (defined in taskertype, which
// the graph analysis fills in).
type (
	// TemplateAnalysis is the static dependency report of a template, the
	// Go form of the original engine's dependency_graph, as
	// TaskTemplate.Analyze returns it. It marshals to the original JSON
	// shape (the REST API and `tasker template graph --format json` serve
	// it).
	TemplateAnalysis = taskertype.TemplateAnalysis
	// AnalysisNode is one step of a TemplateAnalysis.
	AnalysisNode = taskertype.AnalysisNode
	// AnalysisEdge is one dependency of a TemplateAnalysis, from parent to
	// child.
	AnalysisEdge = taskertype.AnalysisEdge
	// AnalysisSummary holds the headline numbers of a TemplateAnalysis.
	AnalysisSummary = taskertype.AnalysisSummary
)

// Analyze returns the dependency analysis of the template: topological order,
// levels, roots, leaves and a summary.
func (t *TaskTemplate) Analyze() *TemplateAnalysis {
	return dag.Analyze(t.nodes())
}
