package apiview

import (
	"fmt"

	"github.com/tasker-go/tasker"
)

// The views of the registered task templates (the original engine's
// "handlers"). Members are in alphabetical order where the REST answers
// were built as JSON maps, so that the bytes stay the same.

// Namespace is one namespace of the registry with its number of task
// template names.
type Namespace struct {
	HandlerCount int    `json:"handler_count"`
	Name         string `json:"name"`
}

// Namespaces lists the namespaces of reg (never nil).
func Namespaces(reg *tasker.Registry) []Namespace {
	out := []Namespace{}
	for _, ns := range reg.Namespaces() {
		out = append(out, Namespace{HandlerCount: len(templateNames(reg, ns)), Name: ns})
	}
	return out
}

// templateNames lists the distinct template names of a namespace, sorted.
func templateNames(reg *tasker.Registry, ns string) []string {
	var names []string
	for _, t := range reg.Templates(ns) {
		if len(names) == 0 || names[len(names)-1] != t.Name {
			names = append(names, t.Name)
		}
	}
	return names
}

// HandlerSummary is one task template name of a namespace with its versions.
type HandlerSummary struct {
	LatestVersion string   `json:"latest_version"`
	Name          string   `json:"name"`
	Namespace     string   `json:"namespace"`
	Versions      []string `json:"versions"`
}

// Handlers lists the task template names of namespace ns; an error wrapping
// tasker.ErrNotFound when the namespace has none.
func Handlers(reg *tasker.Registry, ns string) ([]HandlerSummary, error) {
	names := templateNames(reg, ns)
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: namespace %q has no task templates", tasker.ErrNotFound, ns)
	}
	out := make([]HandlerSummary, len(names))
	for i, name := range names {
		versions := reg.Versions(ns, name)
		out[i] = HandlerSummary{LatestVersion: versions[len(versions)-1], Name: name, Namespace: ns, Versions: versions}
	}
	return out, nil
}

// Handler is one task template with its step templates and its dependency
// graph.
type Handler struct {
	DependencyGraph DependencyGraph `json:"dependency_graph"`
	Description     string          `json:"description"`
	FullName        string          `json:"full_name"`
	Name            string          `json:"name"`
	Namespace       string          `json:"namespace"`
	// Schema is the JSON Schema of the task context (absent: any object).
	Schema        map[string]any `json:"schema,omitempty"`
	StepTemplates []StepTemplate `json:"step_templates"`
	Version       string         `json:"version"`
	Versions      []string       `json:"versions"`
}

// StepTemplate is one step template of a Handler.
type StepTemplate struct {
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Handler       string         `json:"handler"`
	HandlerConfig map[string]any `json:"handler_config"`
	DependsOn     []string       `json:"depends_on"`
	Retryable     bool           `json:"retryable"`
	RetryLimit    int            `json:"retry_limit"`
	Skippable     bool           `json:"skippable"`
	Timeout       string         `json:"timeout,omitempty"` // as written: "10s"
	TimeoutMS     int64          `json:"timeout_ms,omitempty"`
	CustomEvents  []CustomEvent  `json:"custom_events"`
}

// CustomEvent is a custom event a step template declares.
type CustomEvent struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// DependencyGraph is the structure of a template's steps.
type DependencyGraph struct {
	Edges          []GraphEdge            `json:"edges"`
	ExecutionOrder []string               `json:"execution_order"`
	Leaves         []string               `json:"leaves"`
	Levels         map[string]int         `json:"levels"`
	Nodes          []GraphNode            `json:"nodes"`
	Roots          []string               `json:"roots"`
	Summary        tasker.AnalysisSummary `json:"summary"`
}

// GraphNode is one step of a DependencyGraph.
type GraphNode struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Handler      string   `json:"handler"`
	Dependencies []string `json:"dependencies"`
	Level        int      `json:"level"`
}

// GraphEdge is one dependency of a DependencyGraph, parent to child.
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
}

// NewHandler returns the view of tmpl, a template of reg.
func NewHandler(reg *tasker.Registry, tmpl *tasker.TaskTemplate) *Handler {
	a := tmpl.Analyze()
	steps := make([]StepTemplate, len(tmpl.Steps))
	nodes := make([]GraphNode, len(tmpl.Steps))
	for i, st := range tmpl.Steps {
		v := StepTemplate{Name: st.Name, Description: st.Description, Handler: st.Handler, HandlerConfig: st.HandlerConfig,
			DependsOn: st.DependsOn, Retryable: st.Retryable == nil || *st.Retryable, RetryLimit: st.RetryLimit,
			Skippable: st.Skippable, CustomEvents: []CustomEvent{}}
		if v.HandlerConfig == nil {
			v.HandlerConfig = map[string]any{}
		}
		if v.DependsOn == nil {
			v.DependsOn = []string{}
		}
		if st.Timeout > 0 {
			v.Timeout = st.Timeout.String()
			v.TimeoutMS = st.Timeout.Milliseconds()
		}
		for _, ce := range st.CustomEvents {
			v.CustomEvents = append(v.CustomEvents, CustomEvent{Name: ce.Name, Description: ce.Description})
		}
		steps[i] = v
		nodes[i] = GraphNode{ID: st.Name, Name: st.Name, Type: "step", Handler: st.Handler, Dependencies: v.DependsOn, Level: a.Levels[st.Name]}
	}
	edges := make([]GraphEdge, len(a.Edges))
	for i, e := range a.Edges {
		edges[i] = GraphEdge{From: e.From, To: e.To, Type: "dependency"}
	}
	return &Handler{
		Name: tmpl.Name, Namespace: tmpl.Namespace, Version: tmpl.Version, FullName: tmpl.FullName(),
		Description: tmpl.Description, Versions: reg.Versions(tmpl.Namespace, tmpl.Name), Schema: tmpl.Schema,
		StepTemplates: steps,
		DependencyGraph: DependencyGraph{
			Nodes: nodes, Edges: edges, ExecutionOrder: a.Topology, Levels: a.Levels,
			Roots: a.Roots, Leaves: a.Leaves, Summary: a.Summary,
		},
	}
}
