package taskerhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskerhttp"
)

// fuzzHandler is one handler on SQLite shared by the fuzz iterations, with a
// task and a step to update.
func fuzzHandler(f *testing.F) (http.Handler, string, string) {
	d, err := taskersqlite.Open(filepath.Join(f.TempDir(), "t.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = d.Close() })
	c, err := tasker.NewClient(f.Context(), d, &tasker.Config{Registry: testRegistry(f)})
	require.NoError(f, err)
	res, err := c.CreateTask(f.Context(), &tasker.TaskRequest{Name: "dummy_task", Context: `{"dummy": true}`})
	require.NoError(f, err)
	task := "/tasker/tasks/" + itoa(res.Task.ID)
	return taskerhttp.NewHandler(c, &taskerhttp.Options{WorkerToken: "t"}), task, task + "/workflow_steps/" + itoa(res.Steps[3].ID)
}

// fuzzClients returns a client on a fresh SQLite database and, when
// PostgreSQL is available (TASKER_TEST_DATABASE_URL, or a throwaway
// cluster; required with TASKER_TEST_REQUIRE_POSTGRES=1), one on a fresh
// PostgreSQL database, for the fuzz targets that cover both.
func fuzzClients(f *testing.F) []*tasker.Client {
	drivers := []taskerdriver.Driver{}
	d, err := taskersqlite.Open(filepath.Join(f.TempDir(), "t.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = d.Close() })
	drivers = append(drivers, d)
	if pgtest.Available() || os.Getenv(pgtest.EnvRequire) == "1" {
		pd, err := taskerpgx.Open(f.Context(), pgtest.URL(f))
		require.NoError(f, err)
		f.Cleanup(func() { _ = pd.Close() })
		drivers = append(drivers, pd)
	}
	clients := make([]*tasker.Client, len(drivers))
	for i, d := range drivers {
		c, err := tasker.NewClient(f.Context(), d, &tasker.Config{Registry: testRegistry(f)})
		require.NoError(f, err)
		clients[i] = c
	}
	return clients
}

// serveFuzz serves one request and returns the status and headers.
func serveFuzz(h http.Handler, req *http.Request) (int, http.Header) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var fuzzSeeds = []string{
	`{"name": "dummy_task", "context": {"dummy": true}}`,
	`{"task": {"name": "dummy_task", "namespace": "testing", "version": "1.0.0", "tags": ["a"]}}`,
	`{"task": {"name": "dummy_task"}, "x": 1}`,
	`{"reason": "r", "tags": ["a", "b"]}`,
	`{"task": {"reason": null}}`,
	`{"retry_limit": 3, "inputs": {"a": 1}}`,
	`{"workflow_step": {"retry_limit": -1}}`,
	`{"results": [1, 2], "reason": "x"}`,
	`{"name": 1, "context": "x", "tags": {}}`,
	`{"task": []}`, `null`, `[]`, `"x"`, `{`, ``, `{"context": {"dummy": true}}`,
	`{"name": "unique", "context": {"a": {"b": [1e400]}}}`,
	`{"worker_id": "w", "queues": ["billing"], "limit": 2, "lease_seconds": 10, "wait_seconds": 0}`,
	`{"worker_id": "w", "step_ids": [1, 2], "lease_seconds": 1e300}`,
	`{"worker_id": "w", "attempt": 1, "results": {"a": 1}}`,
	`{"worker_id": "w", "attempt": 1, "error": {"message": "m", "kind": "permanent", "retry_after_seconds": 2, "details": {}}}`,
	`{"worker_id": "w", "attempt": 1, "error": {"details": []}}`,
	`{"worker_id": "w", "attempt": 1, "results": 1, "events": [{"name": "a.b", "payload": {"x": 1}}, {"name": 1}, []]}`,
}

// FuzzBodies sends arbitrary bodies to every JSON decoder: the answer is
// never a 500 and the handler never panics.
func FuzzBodies(f *testing.F) {
	h, task, step := fuzzHandler(f)
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	targets := []struct{ method, path string }{
		{"POST", "/tasker/tasks"},
		{"PATCH", task},
		{"PUT", step},
		{"POST", step + "/resolve"},
		{"POST", "/tasker/workers/claim"},
		{"POST", "/tasker/workers/heartbeat"},
		{"POST", "/tasker/workers/steps/1/result"},
		{"POST", "/tasker/workers/steps/1/release"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, tg := range targets {
			// A claim may wait (wait_seconds): cut it short.
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			req := httptest.NewRequestWithContext(ctx, tg.method, tg.path, strings.NewReader(body))
			req.Host = "localhost"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			cancel()
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", tg.method, tg.path, body, rec.Code, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("%s %s with %q: not JSON: %s", tg.method, tg.path, body, rec.Header().Get("Content-Type"))
			}
		}
	})
}
