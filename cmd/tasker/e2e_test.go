package main

// End-to-end test of `tasker serve`: the real binary, started as a separate
// process on a free port, driven over HTTP. Skipped with -short.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/proctest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// TestMain runs the tests (with internal/pgtest, for the tests on
// PostgreSQL) and removes the binary they built.
func TestMain(m *testing.M) {
	pgtest.MainCleanup(m, nil, func() {
		if buildDir != "" {
			_ = os.RemoveAll(buildDir)
		}
	})
}

// taskerBinary builds cmd/tasker once per test binary and returns its path.
func taskerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tasker-e2e-") //nolint:usetesting // one build shared by every test of the binary; TestMain removes it
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "tasker")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out.String())
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

// e2eBinary begins an end-to-end test of the tasker binary: it skips the
// test in -short mode, runs it in parallel with the others and returns the
// binary.
func e2eBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the tasker binary: skipped in -short mode")
	}
	t.Parallel()
	return taskerBinary(t)
}

// served is a running `tasker serve` process; its Stderr is the request
// log.
type served struct {
	*proctest.Child
	base string // http://127.0.0.1:PORT
}

var listeningRe = regexp.MustCompile(`^tasker serve listening on (https?://\S+) \(database (\S+), (\d+) templates\)$`)

// startServe starts the binary's serve command on a free loopback port and
// waits for its "listening" line. The process is killed at the end of the
// test if it is still running.
func startServe(t testing.TB, bin string, args ...string) *served {
	t.Helper()
	return startServeEnv(t, bin, nil, args...)
}

// startServeEnv is startServe with env added to the process's environment.
func startServeEnv(t testing.TB, bin string, env []string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "TASKER_SERVER=", "TASKER_ADDR="), env...)
	s := &served{Child: proctest.Start(t, cmd, 16)}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.Lines:
			if !ok {
				<-s.Done
				t.Fatalf("tasker serve exited before listening: %v\n%s", s.Err, s.StderrText())
			}
			if m := listeningRe.FindStringSubmatch(line); m != nil {
				s.base = m[1]
				return s
			}
		case <-deadline:
			t.Fatalf("tasker serve printed no listening line in 30s\n%s", s.StderrText())
		}
	}
}

// terminate sends SIGTERM and returns the exit status and how long the
// process took to exit (at most within).
func (s *served) terminate(t testing.TB, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, s.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.Done:
	case <-time.After(within):
		t.Fatalf("tasker serve did not exit within %s of SIGTERM\n%s", within, s.StderrTail(3000))
	}
	took := time.Since(start)
	var ee *exec.ExitError
	if errors.As(s.Err, &ee) {
		return ee.ExitCode(), took
	}
	require.NoError(t, s.Err)
	return 0, took
}

// httpJSON sends a request with an optional JSON body and decodes the JSON
// answer into out (when not nil). It returns the status code.
func httpJSON(t testing.TB, hc *http.Client, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s %s → %d: %s", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// e2eTask is the part of the API's task JSON the test checks.
type e2eTask struct {
	ID       int64  `json:"task_id"`
	FullName string `json:"full_name"`
	Status   string `json:"status"`
	Complete bool   `json:"complete"`
	Steps    []struct {
		ID        int64           `json:"workflow_step_id"`
		Name      string          `json:"name"`
		Status    string          `json:"status"`
		Attempts  int             `json:"attempts"`
		Processed bool            `json:"processed"`
		Results   json.RawMessage `json:"results"`
	} `json:"workflow_steps"`
}

func TestE2EServe(t *testing.T) {
	bin := e2eBinary(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "e2e.db")
	srv := startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"), "--drain-timeout", "10s")
	hc := &http.Client{Timeout: 10 * time.Second}

	var health map[string]any
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", srv.base+"/tasker/health/live", nil, &health))
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", srv.base+"/tasker/health/ready", nil, &health), "%v", health)

	type expect struct {
		body     map[string]any
		fullName string
		// results checks each step's results (JSON, compared as JSON) and
		// attempts (0: 1 attempt).
		results  map[string]string
		attempts map[string]int
		steps    int
	}
	cases := []expect{
		{
			body:     map[string]any{"name": "diamond_workflow", "context": map[string]any{"even_number": 4}},
			fullName: "default.diamond_workflow@1.0.0", steps: 4,
			results: map[string]string{
				"diamond_start": `{"value": 16}`, "diamond_branch_b": `{"value": 256}`, "diamond_branch_c": `{"value": 32}`,
				"diamond_end": `{"value": 288, "branch_b": 256, "branch_c": 32}`,
			},
		},
		{
			body:     map[string]any{"name": "linear_workflow", "context": map[string]any{"even_number": 2}},
			fullName: "default.linear_workflow@1.0.0", steps: 4,
			results: map[string]string{
				"linear_step_1": `{"value": 4}`, "linear_step_2": `{"value": 16}`, "linear_step_3": `{"value": 256}`,
				"linear_step_4": `{"value": 65536}`,
			},
		},
		{
			body:     map[string]any{"name": "tree_workflow", "namespace": "default", "version": "1.0.0"},
			fullName: "default.tree_workflow@1.0.0", steps: 8,
			results: map[string]string{"tree_aggregate": `{"sum_of_leaves": 10}`},
		},
		{
			body:     map[string]any{"name": "parallel_merge", "initiator": "e2e", "tags": []string{"e2e"}},
			fullName: "default.parallel_merge@1.0.0", steps: 4,
			results: map[string]string{"merge_data": `{"users": 3, "orders": 5, "items": 8}`},
		},
		{
			body: map[string]any{"name": "process_order", "namespace": "ecommerce", "context": map[string]any{
				"customer_email": "ada@example.com",
				"cart_items": []map[string]any{
					{"sku": "A1", "quantity": 2, "price": 12.5}, {"sku": "B2", "quantity": 1, "price": 3},
				},
			}},
			fullName: "ecommerce.process_order@1.0.0", steps: 5,
			results:  map[string]string{"validate_cart": `{"total_cents": 2800}`, "update_inventory": `{"reserved": true}`, "send_confirmation": `{"sent": true}`},
			attempts: map[string]int{"process_payment": 2},
		},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		var created struct {
			Task e2eTask `json:"task"`
		}
		status := httpJSON(t, hc, "POST", srv.base+"/tasker/tasks", c.body, &created)
		require.Equal(t, http.StatusCreated, status, "create %s", c.fullName)
		require.Equal(t, c.fullName, created.Task.FullName)
		require.NotZero(t, created.Task.ID)
		ids[i] = created.Task.ID
	}

	// Every task completes: the server's worker runs them all at once.
	deadline := time.Now().Add(60 * time.Second)
	for i, c := range cases {
		var got struct {
			Task e2eTask `json:"task"`
		}
		for {
			require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d", srv.base, ids[i]), nil, &got))
			if got.Task.Status == "complete" || got.Task.Status == "error" || got.Task.Status == "cancelled" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %d (%s) is still %s after 60 s: %+v", ids[i], c.fullName, got.Task.Status, got.Task.Steps)
			}
			time.Sleep(100 * time.Millisecond)
		}
		require.Equal(t, "complete", got.Task.Status, "%s: %+v", c.fullName, got.Task.Steps)
		require.True(t, got.Task.Complete)
		require.Len(t, got.Task.Steps, c.steps, c.fullName)
		seen := map[string]bool{}
		for _, s := range got.Task.Steps {
			seen[s.Name] = true
			require.Equal(t, "complete", s.Status, "%s step %s", c.fullName, s.Name)
			require.True(t, s.Processed, "%s step %s", c.fullName, s.Name)
			want := 1
			if n, ok := c.attempts[s.Name]; ok {
				want = n
			}
			require.Equal(t, want, s.Attempts, "%s step %s attempts", c.fullName, s.Name)
			if r, ok := c.results[s.Name]; ok {
				require.JSONEq(t, r, string(s.Results), "%s step %s results", c.fullName, s.Name)
			}
		}
		for name := range c.results {
			require.True(t, seen[name], "%s has step %s", c.fullName, name)
		}
		if c.fullName == "ecommerce.process_order@1.0.0" {
			for _, s := range got.Task.Steps {
				if s.Name == "process_payment" {
					require.JSONEq(t, fmt.Sprintf(`{"payment_id": "pay_%d", "status": "captured"}`, ids[i]), string(s.Results))
				}
			}
		}
	}

	// The task list sees all five.
	var list struct {
		Tasks      []e2eTask `json:"tasks"`
		Pagination struct {
			Total   int  `json:"total"`
			HasMore bool `json:"has_more"`
		} `json:"pagination"`
	}
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", srv.base+"/tasker/tasks?status=complete&limit=10", nil, &list))
	require.Equal(t, len(cases), list.Pagination.Total)
	require.False(t, list.Pagination.HasMore)

	// The CLI works against the same server.
	out, _, err := run(t, "task", "get", fmt.Sprint(ids[0]), "--server", srv.base)
	require.NoError(t, err)
	require.Contains(t, out, "default.diamond_workflow@1.0.0: complete")

	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", srv.base+"/tasker/health/live", nil, nil))
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", srv.base+"/tasker/health/ready", nil, nil))

	// The Prometheus metrics: every task above completed in this process.
	res, err := hc.Get(srv.base + "/tasker/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(metrics), `tasker_task_completed_total{name="diamond_workflow",namespace="default",version="1.0.0"} 1`)
	require.Contains(t, string(metrics), `tasker_tasks{state="complete"} 5`)
	require.Contains(t, string(metrics), "go_goroutines ")
	require.Contains(t, string(metrics), "process_cpu_seconds_total ")

	// SIGTERM: a graceful stop, exit status 0, within the drain timeout.
	hc.CloseIdleConnections()
	code, took := srv.terminate(t, 15*time.Second)
	require.Equal(t, 0, code, "exit status after SIGTERM\n%s", srv.StderrTail(3000))
	require.Less(t, took, 10*time.Second, "exits within --drain-timeout")
	logs := srv.StderrText()
	require.Contains(t, logs, `msg="http request"`, "request log on stderr")
	require.Contains(t, logs, "tasker serve: stopped")
	t.Logf("tasker serve exited 0 %s after SIGTERM", took.Round(time.Millisecond))
}

// TestE2EServeShutdownDrains checks that SIGTERM lets a running step finish
// (within --drain-timeout) before the process exits.
func TestE2EServeShutdownDrains(t *testing.T) {
	bin := e2eBinary(t)
	dir := t.TempDir()
	tmpl := "name: slowish\nversion: 1.0.0\nstep_templates:\n  - name: nap\n    handler: exec\n    handler_config: {command: [\"sh\", \"-c\", \"sleep 1; printf '{\\\"slept\\\": true}'\"]}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slowish.yaml"), []byte(tmpl), 0o600))
	db := "sqlite://" + filepath.Join(dir, "drain.db")
	srv := startServe(t, bin, "--database", db, "--templates", dir, "--drain-timeout", "20s")
	hc := &http.Client{Timeout: 10 * time.Second}
	var created struct {
		Task e2eTask `json:"task"`
	}
	require.Equal(t, http.StatusCreated, httpJSON(t, hc, "POST", srv.base+"/tasker/tasks", map[string]any{"name": "slowish"}, &created))
	// Wait until the step runs, then stop the server.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var got struct {
			Task e2eTask `json:"task"`
		}
		httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d", srv.base, created.Task.ID), nil, &got)
		if len(got.Task.Steps) == 1 && got.Task.Steps[0].Status == "in_progress" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the step never started: %+v", got.Task)
		time.Sleep(20 * time.Millisecond)
	}
	hc.CloseIdleConnections()
	code, took := srv.terminate(t, 25*time.Second)
	require.Equal(t, 0, code, srv.StderrTail(3000))
	require.Less(t, took, 20*time.Second)

	// The step finished during the drain: the database says complete.
	out, _, err := run(t, "--database", db, "--templates", dir, "task", "get", fmt.Sprint(created.Task.ID))
	require.NoError(t, err)
	require.Contains(t, out, "slowish@1.0.0: complete", out)
	require.True(t, strings.Contains(out, `"slept": true`) || strings.Contains(out, `"slept":true`), out)
}

// TestHTTPBench measures the REST API of the real `tasker serve` binary from
// this test process (a second process, over loopback): task creation
// latency (POST /tasker/tasks, one client, sequential) and the throughput of
// GET /tasker/tasks/{id} with concurrent clients. It runs only with
// TASKER_HTTP_BENCH=1:
//
//	TASKER_HTTP_BENCH=1 go test -run TestHTTPBench -v -count 1 ./cmd/tasker
//
// TASKER_HTTP_BENCH_SECONDS (default 5) bounds each phase and
// TASKER_HTTP_BENCH_CLIENTS (default 16) sets the concurrent GET clients.
// Two set-ups: "idle worker", where the worker (--concurrency 1) is kept busy
// by one long step so that created tasks are not run and the numbers are the
// API's and the database's alone; and "busy worker", where the server's
// worker (--concurrency 16) runs every created 4-step task (each step an
// exec of /bin/true) while the requests come in.
func TestHTTPBench(t *testing.T) {
	if os.Getenv("TASKER_HTTP_BENCH") != "1" {
		t.Skip("HTTP benchmark: set TASKER_HTTP_BENCH=1 to run it")
	}
	phase := 5 * time.Second
	if v := os.Getenv("TASKER_HTTP_BENCH_SECONDS"); v != "" {
		n, err := time.ParseDuration(v + "s")
		require.NoError(t, err)
		phase = n
	}
	clients := 16
	if v := os.Getenv("TASKER_HTTP_BENCH_CLIENTS"); v != "" {
		_, err := fmt.Sscan(v, &clients)
		require.NoError(t, err)
	}
	bin := taskerBinary(t)
	for _, setup := range []struct {
		name        string
		concurrency string
		block       bool
	}{{"idle worker", "1", true}, {"busy worker", "16", false}} {
		t.Run(strings.ReplaceAll(setup.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			diamond := "name: bench_diamond\nversion: 1.0.0\nstep_templates:\n" +
				"  - {name: a, handler: exec, handler_config: {command: [\"true\"]}}\n" +
				"  - {name: b, depends_on_step: a, handler: exec, handler_config: {command: [\"true\"]}}\n" +
				"  - {name: c, depends_on_step: a, handler: exec, handler_config: {command: [\"true\"]}}\n" +
				"  - {name: d, depends_on_steps: [b, c], handler: exec, handler_config: {command: [\"true\"]}}\n"
			blocker := "name: blocker\nversion: 1.0.0\nstep_templates:\n  - {name: hold, handler: exec, handler_config: {command: [\"sleep\", \"600\"]}}\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "diamond.yaml"), []byte(diamond), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "blocker.yaml"), []byte(blocker), 0o600))
			srv := startServe(t, bin, "--database", "sqlite://"+filepath.Join(dir, "bench.db"), "--templates", dir,
				"--concurrency", setup.concurrency, "--drain-timeout", "2s")
			tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, IdleConnTimeout: time.Minute}
			hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			defer tr.CloseIdleConnections()

			if setup.block {
				var created struct {
					Task e2eTask `json:"task"`
				}
				require.Equal(t, http.StatusCreated, httpJSON(t, hc, "POST", srv.base+"/tasker/tasks", map[string]any{"name": "blocker"}, &created))
				require.Eventually(t, func() bool {
					var got struct {
						Task e2eTask `json:"task"`
					}
					httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d", srv.base, created.Task.ID), nil, &got)
					return len(got.Task.Steps) == 1 && got.Task.Steps[0].Status == "in_progress"
				}, 10*time.Second, 10*time.Millisecond, "the blocker step runs")
			}

			// Phase 1: sequential creation.
			for i := range 20 { // warm-up: connections, statement caches
				httpJSON(t, hc, "POST", srv.base+"/tasker/tasks", map[string]any{"name": "bench_diamond", "context": map[string]any{"warm": i}}, nil)
			}
			var lat []time.Duration
			var ids []int64
			end := time.Now().Add(phase)
			for i := 0; time.Now().Before(end); i++ {
				var created struct {
					Task struct {
						ID int64 `json:"task_id"`
					} `json:"task"`
				}
				start := time.Now()
				status := httpJSON(t, hc, "POST", srv.base+"/tasker/tasks", map[string]any{"name": "bench_diamond", "context": map[string]any{"i": i}}, &created)
				lat = append(lat, time.Since(start))
				require.Equal(t, http.StatusCreated, status)
				ids = append(ids, created.Task.ID)
			}
			c := summarize(lat)
			t.Logf("%s: POST /tasker/tasks (4-step task, 1 client, sequential): %d tasks in %s = %.0f/s; p50 %s, p90 %s, p99 %s, max %s",
				setup.name, len(lat), phase, float64(len(lat))/phase.Seconds(), c.p50, c.p90, c.p99, c.max)

			// Phase 2: concurrent GET /tasker/tasks/{id}.
			type result struct {
				lat  []time.Duration
				errs int
			}
			results := make(chan result, clients)
			end = time.Now().Add(phase)
			for w := range clients {
				go func() {
					var r result
					for i := w; time.Now().Before(end); i += clients {
						url := fmt.Sprintf("%s/tasker/tasks/%d", srv.base, ids[i%len(ids)])
						start := time.Now()
						resp, err := hc.Get(url)
						if err != nil {
							r.errs++
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						r.lat = append(r.lat, time.Since(start))
						if resp.StatusCode != http.StatusOK {
							r.errs++
						}
					}
					results <- r
				}()
			}
			var all []time.Duration
			errs := 0
			for range clients {
				r := <-results
				all = append(all, r.lat...)
				errs += r.errs
			}
			g := summarize(all)
			t.Logf("%s: GET /tasker/tasks/{id} (%d concurrent clients, %s): %d requests = %.0f req/s, %d errors; p50 %s, p90 %s, p99 %s, max %s",
				setup.name, clients, phase, len(all), float64(len(all))/phase.Seconds(), errs, g.p50, g.p90, g.p99, g.max)
			require.Zero(t, errs)

			tr.CloseIdleConnections()
			code, _ := srv.terminate(t, 60*time.Second)
			require.Equal(t, 0, code)
		})
	}
}

type latencySummary struct{ p50, p90, p99, max time.Duration }

func summarize(d []time.Duration) latencySummary {
	if len(d) == 0 {
		return latencySummary{}
	}
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond)
	}
	return latencySummary{p50: at(0.50), p90: at(0.90), p99: at(0.99), max: s[len(s)-1].Round(time.Microsecond)}
}
