package taskermetrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskermetrics"
	"github.com/tasker-go/tasker/taskertype"
)

// exported returns every metric family a Metrics exports once each kind
// of event, request and scrape happened: name → type.
func exported(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	m := taskermetrics.New(nil)
	c, err := tasker.NewClient(t.Context(), testdb.Open(t), nil)
	require.NoError(t, err)
	require.NoError(t, m.Attach(c))
	task := &tasker.Task{Namespace: "shop", Name: "order", Version: "1.0.0", CreatedAt: testdb.Base}
	step := &tasker.Step{Name: "pay"}
	for _, name := range []string{tasker.EventTaskStartRequested, tasker.EventTaskCompleted, tasker.EventTaskFailed, tasker.EventTaskCancelled} {
		m.OnEvent(&tasker.Event{Name: name, Task: task, At: testdb.Base})
	}
	for _, name := range []string{tasker.EventStepExecutionRequested, tasker.EventStepCompleted, tasker.EventStepFailed, tasker.EventStepBackoff} {
		m.OnEvent(&tasker.Event{Name: name, Task: task, Step: step, Error: &taskertype.StepError{Kind: "worker_lost"}, At: testdb.Base})
	}
	m.ObserveHTTP("GET", "/tasker/tasks", 200, time.Millisecond)
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string]dto.MetricType{}
	for _, f := range fams {
		out[f.GetName()] = f.GetType()
	}
	return out
}

var metricName = regexp.MustCompile(`\b(tasker|go|process)_[a-zA-Z0-9_]+`)

// checkExpr fails unless expr names at least one metric and every metric it
// names is exported (a histogram through its _bucket, _sum or _count).
func checkExpr(t *testing.T, where, expr string, fams map[string]dto.MetricType) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	require.NotEmpty(t, names, "%s: %q names no metric", where, expr)
	for _, n := range names {
		if _, ok := fams[n]; ok {
			continue
		}
		found := false
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && fams[base] == dto.MetricType_HISTOGRAM {
				found = true
			}
		}
		require.True(t, found, "%s: %q uses %s, which the registry does not export", where, expr, n)
	}
}

// The Grafana dashboard is valid JSON whose every query uses only metrics
// the registry exports.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	fams := exported(t)
	raw, err := os.ReadFile(filepath.Join("..", "examples", "grafana", "tasker-dashboard.json"))
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Title)
	require.GreaterOrEqual(t, len(dash.Panels), 10)
	queries := 0
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			checkExpr(t, "panel "+p.Title, tg.Expr, fams)
			queries++
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			checkExpr(t, "variable "+v.Name, v.Definition, fams)
		}
	}
	t.Logf("%d panels, %d queries checked", len(dash.Panels), queries)
}

// The alert rules parse as Prometheus rule groups and use only metrics the
// registry exports.
func TestPrometheusAlerts(t *testing.T) {
	t.Parallel()
	fams := exported(t)
	raw, err := os.ReadFile(filepath.Join("..", "examples", "prometheus", "tasker-alerts.yml"))
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rules))
	require.Len(t, rules.Groups, 1)
	seen := map[string]bool{}
	for _, r := range rules.Groups[0].Rules {
		require.NotEmpty(t, r.Alert)
		require.False(t, seen[r.Alert], "alert %s twice", r.Alert)
		seen[r.Alert] = true
		require.NotEmpty(t, r.Annotations["summary"], r.Alert)
		require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
		if r.For != "" {
			_, err := time.ParseDuration(r.For)
			require.NoError(t, err, r.Alert)
		}
		checkExpr(t, "alert "+r.Alert, r.Expr, fams)
	}
	require.GreaterOrEqual(t, len(seen), 8)
}
