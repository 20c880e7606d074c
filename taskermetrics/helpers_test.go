package taskermetrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskermetrics"
)

// plan is what the test handler does, read from the task context: fail
// each named step that many times (retryable), or always.
type plan struct {
	Fail   map[string]int `json:"fail"`
	Always string         `json:"always"`
}

// handle is the test handler: it fails as the task's plan says.
func handle(_ context.Context, s *tasker.StepContext) (any, error) {
	var p plan
	if err := s.DecodeContext(&p); err != nil {
		return nil, err
	}
	if p.Always == s.Step.Name || s.Attempt <= p.Fail[s.Step.Name] {
		return nil, errors.New(s.Step.Name + " failed")
	}
	return map[string]any{"ok": true}, nil
}

// env is a client instrumented by Metrics on a fresh database of the
// test's driver, with a fake clock (also the metrics cache's clock) and no
// backoff jitter; its template shop.order@1.0.0 is the diamond a → b, c → d.
type env struct {
	t       *testing.T
	client  *tasker.Client
	clock   *testdb.Clock
	metrics *taskermetrics.Metrics
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reg := tasker.NewRegistry()
	require.NoError(t, reg.RegisterHandler("test", tasker.StepHandlerFunc(handle), false))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Namespace: "shop", Name: "order", Version: "1.0.0", Steps: []tasker.StepTemplate{
		{Name: "a", Handler: "test"},
		{Name: "b", Handler: "test", DependsOn: []string{"a"}},
		{Name: "c", Handler: "test", DependsOn: []string{"a"}},
		{Name: "d", Handler: "test", DependsOn: []string{"b", "c"}},
	}}, tasker.RegisterOptions{}))
	clock := testdb.NewClock(testdb.Base)
	m := taskermetrics.New(&taskermetrics.Config{Now: clock.Now, NoRuntime: true})
	cfg := &tasker.Config{Registry: reg, Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
		Backoff: tasker.Backoff{Jitter: new(0.0)}, Worker: tasker.WorkerConfig{Concurrency: 1}}
	m.Instrument(cfg)
	c, err := tasker.NewClient(t.Context(), testdb.Open(t), cfg)
	require.NoError(t, err)
	require.NoError(t, m.Attach(c))
	return &env{t: t, client: c, clock: clock, metrics: m}
}

func (e *env) create(p plan) *tasker.Task {
	e.t.Helper()
	raw, err := json.Marshal(p)
	require.NoError(e.t, err)
	res, err := e.client.CreateTask(e.t.Context(), &tasker.TaskRequest{Namespace: "shop", Name: "order", Version: "1.0.0", Context: json.RawMessage(raw)})
	require.NoError(e.t, err)
	return res.Task
}

// quiesce runs passes, moving the clock 10s between them (past every
// backoff), until the task is final.
func (e *env) quiesce(id int64) *tasker.Task {
	e.t.Helper()
	for range 20 {
		require.NoError(e.t, e.client.RunUntilIdle(e.t.Context()))
		task, err := e.client.GetTask(e.t.Context(), id)
		require.NoError(e.t, err)
		if task.State.Final() {
			return task
		}
		e.clock.Advance(10 * time.Second)
	}
	e.t.Fatalf("task %d did not finish", id)
	return nil
}

// scrape gets h's metrics as a scraper asking for the Prometheus text
// format does, and parses them with the Prometheus text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest("GET", "/tasker/metrics", nil)
	req.Host = "localhost"
	req.Header.Set("Accept", "text/plain")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"), rec.Header().Get("Content-Type"))
	require.Equal(t, "no-cache, no-store, must-revalidate", rec.Header().Get("Cache-Control"))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}

// series renders the samples of the families whose names start with prefix
// as sorted lines "name{label=value,...} value": counters and gauges as
// their value, histograms as name_count and name_sum. Zero samples are
// left out.
func series(fams map[string]*dto.MetricFamily, prefix string) []string {
	var out []string
	for name, f := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				if v := m.GetCounter().GetValue(); v != 0 {
					out = append(out, fmt.Sprintf("%s%s %g", name, key, v))
				}
			case dto.MetricType_GAUGE:
				if v := m.GetGauge().GetValue(); v != 0 {
					out = append(out, fmt.Sprintf("%s%s %g", name, key, v))
				}
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out = append(out, fmt.Sprintf("%s_count%s %d", name, key, h.GetSampleCount()), fmt.Sprintf("%s_sum%s %g", name, key, h.GetSampleSum()))
			}
		}
	}
	slices.Sort(out)
	return out
}

// counters are the tasker counters and histograms of the hook: what a
// golden workflow left.
func counters(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for _, s := range series(fams, "tasker_") {
		if strings.HasPrefix(s, "tasker_task_") || strings.HasPrefix(s, "tasker_step_") || strings.HasPrefix(s, "tasker_lease_") {
			out = append(out, s)
		}
	}
	return out
}

// gauges are the database gauges (tasks, steps, outbox, database_up) that
// are not zero.
func gauges(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for _, s := range series(fams, "tasker_") {
		for _, p := range []string{"tasker_tasks", "tasker_steps", "tasker_outbox_", "tasker_database_"} {
			if strings.HasPrefix(s, p) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// norm sorts the labels of a line as series renders it, so that tests may
// write them in any order.
func norm(line string) string {
	i, j := strings.Index(line, "{"), strings.Index(line, "}")
	if i < 0 || j < i {
		return line
	}
	labels := strings.Split(line[i+1:j], ",")
	sort.Strings(labels)
	return line[:i+1] + strings.Join(labels, ",") + line[j:]
}

// normAll is norm of each line, sorted.
func normAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = norm(l)
	}
	slices.Sort(out)
	return out
}
