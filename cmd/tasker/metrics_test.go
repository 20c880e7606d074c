package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var metricsLineRe = regexp.MustCompile(`tasker worker metrics on (http://\S+/tasker/metrics)`)

// tasker worker --metrics-addr serves the worker's metrics: the steps it
// ran, the database gauges, the Go runtime.
func TestWorkerMetricsAddr(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	mustRun(t, withDB(t, db, "migrate")...)
	mustRun(t, withDB(t, db, "task", "create", "linear_workflow", "--context", `{"even_number": 2}`)...)

	w := startBackground(t, withDB(t, db, "worker", "--metrics-addr", "127.0.0.1:0", "--drain-timeout", "5s")...)
	hc := &http.Client{Timeout: 10 * time.Second}
	var url string
	var body string
	deadline := time.After(30 * time.Second)
	for !strings.Contains(body, `tasker_task_completed_total{name="linear_workflow",namespace="default",version="1.0.0"} 1`) {
		select {
		case err := <-w.done:
			t.Fatalf("the worker exited: %v\nstdout:\n%s\nstderr:\n%s", err, w.out.String(), w.errOut.String())
		case <-deadline:
			t.Fatalf("no completed task in the worker's metrics after 30s:\n%s\nstdout:\n%s", body, w.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if url == "" {
			m := metricsLineRe.FindStringSubmatch(w.out.String())
			if m == nil {
				continue
			}
			url = m[1]
			require.Contains(t, w.out.String(), "(unauthenticated)")
		}
		res, err := hc.Get(url)
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "no-cache, no-store, must-revalidate", res.Header.Get("Cache-Control"))
		body = string(raw)
	}
	require.Contains(t, body, `tasker_step_completed_total{name="linear_workflow",namespace="default",step="linear_step_4",version="1.0.0"} 1`)
	require.Contains(t, body, "tasker_database_up 1")
	require.Contains(t, body, "go_goroutines ")
	res, err := hc.Get(strings.TrimSuffix(url, "/tasker/metrics") + "/tasker/tasks")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode, "the metrics listener serves nothing else")
	w.stopOK(t)
}

// A --metrics-addr that cannot be listened on is an error naming the flag.
func TestWorkerMetricsAddrInvalid(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, withDB(t, tempDB(t), "worker", "--metrics-addr", "not an address")...)
	require.ErrorContains(t, err, "--metrics-addr not an address (or $TASKER_METRICS_ADDR)")
}
