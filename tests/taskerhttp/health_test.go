package taskerhttp_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
)

// healthVolatile matches what differs between databases and machines in a
// health answer: the server's connections (none on SQLite) and the
// in-process worker's host, pid and version. (This test binary, of the tests
// module, carries no build information of the engine's module, so the
// worker reports no version here; the root package's
// TestInProcessWorkerRecordsItsProcess checks that it does.)
var healthVolatile = []replacement{
	{regexp.MustCompile(`"(active_connections|max_connections|connection_utilization)":[0-9.]+`), `"$1":<n>`},
	{regexp.MustCompile(`"(host|version)":"[^"]*"`), `"$1":"<$1>"`},
	{regexp.MustCompile(`"pid":[0-9]+`), `"pid":<pid>`},
}

// TestGoldenHealthStatus pins /tasker/health/status on seeded data, the
// same answer on both databases (testdata/health.golden): the original's
// shape (metrics.tasks/steps/retries, database, timestamp,
// generation_duration) beside the earlier keys, the workers seen (an
// in-process worker and a remote one, then none once the window passed),
// and the thresholds: 40 % of tasks in error is healthy (200), 57 % is not
// (503).
func TestGoldenHealthStatus(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		clock := testdb.NewClock(testdb.Base)
		c, err := tasker.NewClient(context.Background(), openTestDriver(t), &tasker.Config{
			Registry: testRegistry(t), Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
			Worker: tasker.WorkerConfig{ID: "in-process-1"},
		})
		require.NoError(t, err)
		e := newEnvWithClient(t, c, &taskerhttp.Options{WorkerToken: workerToken})

		var out bytes.Buffer
		status := func(want int) {
			t.Helper()
			res := e.do("GET", "/tasker/health/status", nil).want(t, want)
			fmt.Fprintf(&out, "=== %d\n%s\n", res.Status, normalize(res.Body, healthVolatile))
		}
		status(http.StatusOK) // empty database

		for range 3 {
			e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		}
		e.runUntilIdle()
		// A worker that starts records itself at once.
		require.NoError(t, c.Start(context.Background()))
		require.NoError(t, c.Stop(context.Background()))
		clock.Advance(time.Second)
		e.do("POST", "/tasker/workers/claim", `{"worker_id": "py-1", "queues": ["ml", "etl"]}`, auth...).want(t, http.StatusOK)
		for range 2 {
			e.createTask(`{"name": "fragile"}`)
		}
		e.runUntilIdle()
		status(http.StatusOK) // 2 of 5 tasks in error: 40 %

		for range 2 {
			e.createTask(`{"name": "fragile"}`)
		}
		e.runUntilIdle()
		status(http.StatusServiceUnavailable) // 4 of 7: 57 %

		clock.Advance(5*time.Minute + time.Second)
		status(http.StatusServiceUnavailable) // the workers are out of the window

		checkGolden(t, filepath.Join("testdata", "health.golden"), out.Bytes(), *update && testdb.DriverOf(t) == "sqlite")
	})
}

// GET /tasker/workers lists the workers seen in the window, and refuses a
// window it cannot answer.
func TestListWorkers(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnvOpts(t, &taskerhttp.Options{WorkerToken: workerToken})
		body := e.do("GET", "/tasker/workers", nil).want(t, http.StatusOK).json(t)
		require.Equal(t, []any{}, body["workers"])
		require.EqualValues(t, 5, body["since_minutes"])

		e.do("POST", "/tasker/workers/claim", `{"worker_id": "py-1", "queues": ["ml"]}`, auth...).want(t, http.StatusOK)
		body = e.do("GET", "/tasker/workers?since_minutes=60", nil).want(t, http.StatusOK).json(t)
		require.EqualValues(t, 60, body["since_minutes"])
		workers := body["workers"].([]any)
		require.Len(t, workers, 1)
		w := workers[0].(map[string]any)
		require.Equal(t, "py-1", w["worker_id"])
		require.Equal(t, "remote", w["kind"])
		require.Equal(t, []any{"ml"}, w["queues"])

		for _, bad := range []string{"0", "1441", "x"} {
			res := e.do("GET", "/tasker/workers?since_minutes="+bad, nil).want(t, http.StatusBadRequest)
			require.Contains(t, res.errorFields(t), "since_minutes")
		}
	})
}
