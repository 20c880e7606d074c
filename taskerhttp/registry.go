package taskerhttp

import (
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/tasker-go/tasker"
)

func (s *server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	reg := s.c.Registry()
	namespaces := []map[string]any{}
	for _, ns := range reg.Namespaces() {
		namespaces = append(namespaces, map[string]any{"name": ns, "handler_count": len(templateNames(reg, ns))})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"namespaces": namespaces, "total_namespaces": len(namespaces), "generated_at": time.Now().UTC(),
	})
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

func (s *server) listHandlers(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("namespace")
	reg := s.c.Registry()
	names := templateNames(reg, ns)
	if len(names) == 0 {
		return fmt.Errorf("%w: namespace %q has no task templates", tasker.ErrNotFound, ns)
	}
	handlers := make([]map[string]any, len(names))
	for i, name := range names {
		versions := reg.Versions(ns, name)
		handlers[i] = map[string]any{"name": name, "namespace": ns, "versions": versions, "latest_version": versions[len(versions)-1]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "handlers": handlers, "total_handlers": len(handlers)})
	return nil
}

type stepTemplateView struct {
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	Handler       string            `json:"handler"`
	HandlerConfig map[string]any    `json:"handler_config"`
	DependsOn     []string          `json:"depends_on"`
	Retryable     bool              `json:"retryable"`
	RetryLimit    int               `json:"retry_limit"`
	Skippable     bool              `json:"skippable"`
	Timeout       string            `json:"timeout,omitempty"`
	CustomEvents  []customEventView `json:"custom_events"`
}

type customEventView struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type graphNodeView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Handler      string   `json:"handler"`
	Dependencies []string `json:"dependencies"`
	Level        int      `json:"level"`
}

type graphEdgeView struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
}

func (s *server) getHandler(w http.ResponseWriter, r *http.Request) error {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	tmpl, err := s.c.Registry().Template(ns, name, r.URL.Query().Get("version"))
	if err != nil {
		return err
	}
	a := tmpl.Analyze()
	steps := make([]stepTemplateView, len(tmpl.Steps))
	nodes := make([]graphNodeView, len(tmpl.Steps))
	for i, st := range tmpl.Steps {
		v := stepTemplateView{Name: st.Name, Description: st.Description, Handler: st.Handler, HandlerConfig: st.HandlerConfig,
			DependsOn: st.DependsOn, Retryable: st.Retryable == nil || *st.Retryable, RetryLimit: st.RetryLimit,
			Skippable: st.Skippable, CustomEvents: []customEventView{}}
		if v.HandlerConfig == nil {
			v.HandlerConfig = map[string]any{}
		}
		if v.DependsOn == nil {
			v.DependsOn = []string{}
		}
		if st.Timeout > 0 {
			v.Timeout = st.Timeout.String()
		}
		for _, ce := range st.CustomEvents {
			v.CustomEvents = append(v.CustomEvents, customEventView{Name: ce.Name, Description: ce.Description})
		}
		steps[i] = v
		nodes[i] = graphNodeView{ID: st.Name, Name: st.Name, Type: "step", Handler: st.Handler, Dependencies: v.DependsOn, Level: a.Levels[st.Name]}
	}
	edges := make([]graphEdgeView, len(a.Edges))
	for i, e := range a.Edges {
		edges[i] = graphEdgeView{From: e.From, To: e.To, Type: "dependency"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"handler": map[string]any{
		"name": tmpl.Name, "namespace": tmpl.Namespace, "version": tmpl.Version, "full_name": tmpl.FullName(),
		"description": tmpl.Description, "versions": s.c.Registry().Versions(tmpl.Namespace, tmpl.Name),
		"step_templates": steps,
		"dependency_graph": map[string]any{
			"nodes": nodes, "edges": edges, "execution_order": a.Topology, "levels": a.Levels,
			"roots": a.Roots, "leaves": a.Leaves, "summary": a.Summary,
		},
	}, "generated_at": time.Now().UTC()})
	return nil
}

//go:embed openapi.json
var openAPIDoc []byte

func (s *server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}
