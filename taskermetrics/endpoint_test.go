package taskermetrics_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskermetrics"
	"github.com/tasker-go/tasker/taskertype"
)

func get(h http.Handler, path, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.Host = "localhost"
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The REST API serves the metrics, records its own requests by route
// pattern, and no label of any metric is an id.
func TestEndpoint(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.create(plan{Fail: map[string]int{"c": 1}})
		e.quiesce(task.ID)
		api := taskerhttp.NewHandler(e.client, &taskerhttp.Options{Metrics: e.metrics})
		id := strconv.FormatInt(task.ID, 10)
		require.Equal(t, http.StatusOK, get(api, "/tasker/tasks/"+id, "").Code)
		require.Equal(t, http.StatusOK, get(api, "/tasker/tasks/"+id+"/workflow_steps", "").Code)
		require.Equal(t, http.StatusNotFound, get(api, "/tasker/tasks/987654", "").Code)
		require.Equal(t, http.StatusNotFound, get(api, "/tasker/nothing/here/4242", "").Code)

		fams := scrape(t, api)
		http := series(fams, "tasker_http_requests_total")
		for _, want := range []string{
			"tasker_http_requests_total{code=200,method=GET,route=/tasker/tasks/{task_id}} 1",
			"tasker_http_requests_total{code=200,method=GET,route=/tasker/tasks/{task_id}/workflow_steps} 1",
			"tasker_http_requests_total{code=404,method=GET,route=/tasker/tasks/{task_id}} 1",
			"tasker_http_requests_total{code=404,method=GET,route=unmatched} 1",
		} {
			require.Contains(t, http, want)
		}
		require.Contains(t, series(fams, "tasker_http_request_duration_seconds"), "tasker_http_request_duration_seconds_count{method=GET,route=/tasker/tasks/{task_id}} 2")

		// No label is an id: the label names are the documented ones, and
		// no value holds a task or step id.
		steps, err := e.client.ListSteps(t.Context(), task.ID)
		require.NoError(t, err)
		ids := []string{id}
		for _, s := range steps {
			ids = append(ids, strconv.FormatInt(s.ID, 10))
		}
		allowed := map[string]bool{"namespace": true, "name": true, "version": true, "step": true, "kind": true, "outcome": true,
			"status": true, "state": true, "method": true, "route": true, "code": true}
		digits := regexp.MustCompile(`\d+`)
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					require.True(t, allowed[l.GetName()], "%s has label %s", name, l.GetName())
					if l.GetName() == "code" || l.GetName() == "version" {
						continue
					}
					for _, n := range digits.FindAllString(l.GetValue(), -1) {
						require.NotContains(t, ids, n, "%s{%s=%q} holds an id", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
		require.Equal(t, dto.MetricType_HISTOGRAM, fams["tasker_step_queue_seconds"].GetType())
	})
}

// A scraper that asks for OpenMetrics gets it: its content type, counters
// declared without _total, and the closing # EOF.
func TestOpenMetricsNegotiation(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		e.quiesce(e.create(plan{}).ID)
		api := taskerhttp.NewHandler(e.client, &taskerhttp.Options{Metrics: e.metrics})
		rec := get(api, "/tasker/metrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
		require.Equal(t, http.StatusOK, rec.Code)
		require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/openmetrics-text; version=1.0.0"), rec.Header().Get("Content-Type"))
		require.Equal(t, "no-cache, no-store, must-revalidate", rec.Header().Get("Cache-Control"))
		body := rec.Body.String()
		require.True(t, strings.HasSuffix(body, "# EOF\n"), "OpenMetrics ends with # EOF")
		require.True(t, strings.Contains(body, "# TYPE tasker_task_completed counter\n"), "OpenMetrics declares a counter without _total")
		require.True(t, strings.Contains(body, `tasker_task_completed_total{name="order",namespace="shop",version="1.0.0"} 1.0`+"\n"), "the counter's sample")
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			line := sc.Text()
			require.True(t, strings.HasPrefix(line, "#") || regexp.MustCompile(`^[a-z_]+(\{.*\})? \S+( \S+)?$`).MatchString(line), "line %q", line)
		}
		// Without an Accept header: the Prometheus text format.
		rec = get(api, "/tasker/metrics", "")
		require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"), rec.Header().Get("Content-Type"))
	})
}

// The database gauges match seeded data, are counted once per CacheTTL
// however many scrapes there are, and tasker_database_up says when the
// count failed.
func TestDatabaseGauges(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		e.create(plan{})
		e.create(plan{})
		done := e.create(plan{})
		_, err := e.client.CancelTask(t.Context(), done.ID, "seed")
		require.NoError(t, err)
		h := e.metrics.Handler()
		require.Equal(t, normAll([]string{
			"tasker_database_up{} 1",
			"tasker_steps_ready{} 2",
			"tasker_steps{state=cancelled} 4",
			"tasker_steps{state=pending} 8",
			"tasker_tasks{state=cancelled} 1",
			"tasker_tasks{state=pending} 2",
		}), gauges(scrape(t, h)))

		e.create(plan{})
		require.Contains(t, gauges(scrape(t, h)), "tasker_steps_ready{} 2", "counted once per CacheTTL")
		e.clock.Advance(taskermetrics.DefaultCacheTTL)
		require.Contains(t, gauges(scrape(t, h)), "tasker_steps_ready{} 3")

		h2, err := e.client.Health(t.Context())
		require.NoError(t, err)
		require.Equal(t, 3, h2.ReadySteps, "the same count as the Go API's")

		// The database goes away: the gauges are left out, up is 0.
		require.NoError(t, e.client.Driver().Close())
		e.clock.Advance(taskermetrics.DefaultCacheTTL)
		fams := scrape(t, h)
		require.Empty(t, gauges(fams))
		require.Equal(t, 0.0, fams["tasker_database_up"].GetMetric()[0].GetGauge().GetValue())
		require.Contains(t, fams, "tasker_worker_steps_in_flight", "the other metrics are still served")
	})
}

// The hook counts what it is told: a lost worker's attempt is a rescue as
// well as a failure of kind worker_lost; a timeout is its own kind.
func TestFailureKinds(t *testing.T) {
	t.Parallel()
	m := taskermetrics.New(&taskermetrics.Config{NoRuntime: true})
	task := &tasker.Task{ID: 7, Namespace: "shop", Name: "order", Version: "1.0.0", CreatedAt: testdb.Base}
	step := &tasker.Step{ID: 9, TaskID: 7, Name: "pay"}
	for _, kind := range []string{"worker_lost", "timeout", "permanent", "worker_lost"} {
		m.OnEvent(&tasker.Event{Name: tasker.EventStepFailed, Task: task, Step: step, Duration: 2 * time.Second,
			Error: &taskertype.StepError{Kind: kind}, At: testdb.Base})
	}
	got := counters(scrape(t, m.Handler()))
	require.Equal(t, normAll([]string{
		"tasker_lease_rescues_total{name=order,namespace=shop,step=pay,version=1.0.0} 2",
		"tasker_step_duration_seconds_count{name=order,namespace=shop,outcome=failed,step=pay,version=1.0.0} 4",
		"tasker_step_duration_seconds_sum{name=order,namespace=shop,outcome=failed,step=pay,version=1.0.0} 8",
		"tasker_step_failed_total{kind=permanent,name=order,namespace=shop,step=pay,version=1.0.0} 1",
		"tasker_step_failed_total{kind=timeout,name=order,namespace=shop,step=pay,version=1.0.0} 1",
		"tasker_step_failed_total{kind=worker_lost,name=order,namespace=shop,step=pay,version=1.0.0} 2",
	}), got)
}
