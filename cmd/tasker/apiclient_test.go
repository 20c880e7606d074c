package main

// The CLI with --server against the REST handler (taskerhttp) on a SQLite
// client, served by httptest in this process.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttp"
)

// testServer serves taskerhttp.NewHandler on a new SQLite database with
// the example templates plus those in extra (file name → YAML), with a
// running worker. It returns the server's URL and the templates directory.
func testServer(t *testing.T, extra map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(examplesDir(t))
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			data, err := os.ReadFile(filepath.Join(examplesDir(t), e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
		}
	}
	for name, y := range extra {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(y), 0o600))
	}
	c, srv := serveDB(t, "sqlite://"+filepath.Join(t.TempDir(), "server.db"), dir, 1<<20)
	startWorker(t, c)
	return srv.URL, dir
}

// serveDB opens the client the CLI opens on database db with the templates
// of dir (polling every 200ms, logs discarded) and serves it with
// taskerhttp.NewHandler (maxBody: Options.MaxBodyBytes) on a test server;
// both are closed after the test.
func serveDB(t *testing.T, db, dir string, maxBody int64) (*tasker.Client, *httptest.Server) {
	t.Helper()
	a := &app{out: io.Discard, errOut: io.Discard, s: settings{database: db, templates: []string{dir}, logLevel: "error", poll: 200 * time.Millisecond}}
	c, closeFn, err := a.client(t.Context())
	require.NoError(t, err)
	srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: maxBody}))
	t.Cleanup(func() { srv.Close(); closeFn() })
	return c, srv
}

// startWorker starts c's worker, stopped after the test.
func startWorker(t *testing.T, c *tasker.Client) {
	t.Helper()
	require.NoError(t, c.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
}

func slowTemplate() string {
	return "name: slow\nversion: 1.0.0\nstep_templates:\n  - name: nap\n    handler: exec\n    handler_config: {command: [\"sleep\", \"30\"]}\n  - name: after_nap\n    depends_on_step: nap\n    handler: exec\n    handler_config: {command: [\"true\"]}\n"
}

func flakyTemplate(marker string) string {
	return `name: flaky
version: 1.0.0
step_templates:
  - name: once_broken
    handler: exec
    default_retry_limit: 1
    handler_config:
      command: ["sh", "-c", "if [ -e '` + marker + `' ]; then echo '{\"fixed\": true}'; else touch '` + marker + `'; echo broken >&2; exit 3; fi"]
`
}

func TestRemoteTaskCommands(t *testing.T) {
	t.Parallel()
	url, _ := testServer(t, map[string]string{"slow.yaml": slowTemplate()})
	srv := func(args ...string) []string { return append(args, "--server", url) }

	// create --wait polls the server and prints each step as it finishes.
	out := mustRun(t, srv("task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait")...)
	require.Contains(t, out, "created task 1 (default.diamond_workflow@1.0.0); waiting for "+url)
	requireDiamondWaited(t, out)
	require.Regexp(t, `(?m)^diamond_end +complete +1/3 +\{"value": ?288, ?"branch_b": ?256, ?"branch_c": ?32\}`, out)

	// -o json prints only the JSON of the task and its steps.
	raw := mustRun(t, srv("task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--wait", "-o", "json")...)
	res := parseWaitedTask(t, raw)
	require.Equal(t, int64(2), res.Task.ID)
	require.Equal(t, "complete", res.Task.Status)
	require.JSONEq(t, `{"even_number": 2}`, string(res.Task.Ctx))
	require.Len(t, res.Steps, 4)
	require.JSONEq(t, `{"value": 65536}`, string(res.Steps[3].Results))

	// Without --wait: the local mode's line; a task that keeps running.
	out = mustRun(t, srv("task", "create", "slow", "--tag", "nightly", "--reason", "test")...)
	require.Equal(t, "created task 3 (default.slow@1.0.0), status pending\n", out)

	// process_order runs with one failed payment attempt (the flaky
	// gateway) and uses the hash identity: the same request finds it.
	order := `{"customer_email": "ada@example.com", "cart_items": [{"sku": "A1", "quantity": 2, "price": 12.5}]}`
	out = mustRun(t, srv("task", "create", "process_order", "--namespace", "ecommerce", "--context", order, "--wait", "--timeout", "60s")...)
	require.Regexp(t, `✗ process_payment +failed \(attempt 1/3, retry`, out)
	require.Regexp(t, `(?m)^process_payment +complete +2/3 `, out)
	require.Regexp(t, `(?m)^validate_cart +complete +1/3 +\{"total_cents": ?2500\}`, out)
	out = mustRun(t, srv("task", "create", "process_order", "--namespace", "ecommerce", "--context", order)...)
	require.Equal(t, "existing task 4 (ecommerce.process_order@1.0.0, same identity), status complete\n", out)
	out = mustRun(t, srv("task", "create", "process_order", "--namespace", "ecommerce", "--context", order, "--wait")...)
	require.Contains(t, out, "existing task 4 (ecommerce.process_order@1.0.0, same identity), status complete; waiting for "+url)
	require.NotRegexp(t, `complete in 0s\n`, out, "the duration is the task's, not this command's")

	// list: newest first, the local table and footer.
	out = mustRun(t, srv("task", "list")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6, out)
	require.Regexp(t, `^ID +TASK +STATUS +CREATED$`, lines[0])
	require.Regexp(t, `^4 +ecommerce\.process_order@1\.0\.0 +complete +20\d\d-`, lines[1])
	require.Regexp(t, `^3 +default\.slow@1\.0\.0 +(pending|in_progress) `, lines[2])
	require.Regexp(t, `^1 +default\.diamond_workflow@1\.0\.0 +complete `, lines[4])
	require.Equal(t, "4 of 4 tasks", lines[5])
	out = mustRun(t, srv("task", "list", "--status", "complete", "--namespace", "default")...)
	require.Contains(t, out, "2 of 2 tasks")
	require.NotContains(t, out, "process_order")
	out = mustRun(t, srv("task", "list", "--limit", "1", "--offset", "1", "--name", "diamond_workflow")...)
	require.Contains(t, out, "0 of 1 tasks")
	out = mustRun(t, srv("task", "list", "--tag", "nightly", "-o", "json")...)
	list := parseTaskList(t, out)
	require.Equal(t, 1, list.Total)
	require.Equal(t, 50, list.Limit)
	require.Equal(t, int64(3), list.Tasks[0].ID)
	require.Equal(t, []string{"nightly"}, list.Tasks[0].Tags)
	_, _, err := run(t, srv("task", "list", "--status", "done")...)
	require.ErrorContains(t, err, `--status "done" is not a state`, "checked before asking the server")

	// get: the local summary and JSON.
	out = mustRun(t, srv("task", "get", "1")...)
	require.Contains(t, out, "task 1 default.diamond_workflow@1.0.0: complete in ")
	require.Regexp(t, `(?m)^diamond_branch_c +complete +1/3 +\{"value": ?32\}`, out)
	out = mustRun(t, srv("task", "get", "1", "-o", "json")...)
	var got struct {
		Task struct {
			ID     int64  `json:"task_id"`
			Status string `json:"status"`
		} `json:"task"`
		Steps []struct {
			Name     string  `json:"name"`
			Parents  []int64 `json:"parents_ids"`
			Children []int64 `json:"children_ids"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, "complete", got.Task.Status)
	require.Len(t, got.Steps, 4)
	require.Len(t, got.Steps[0].Children, 2)
	require.Len(t, got.Steps[3].Parents, 2)

	// Errors: the server's message, exit status 1 for a missing task or an
	// invalid request, 2 for a conflict with the task's state.
	_, _, err = run(t, srv("task", "get", "99")...)
	require.ErrorContains(t, err, "not found")
	require.ErrorContains(t, err, "HTTP 404")
	require.Equal(t, 1, exitCode(err))
	_, _, err = run(t, srv("task", "get", "abc")...)
	require.ErrorContains(t, err, `task id "abc" is not a positive integer`)
	_, _, err = run(t, srv("task", "create", "diamond_workflow", "--context", `{"even_number": 3}`)...)
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.ErrorContains(t, err, "context/even_number", "the error names the field")
	require.ErrorContains(t, err, "HTTP 4")
	_, _, err = run(t, srv("task", "create", "no_such_template")...)
	require.ErrorContains(t, err, "no_such_template")
	require.Equal(t, 1, exitCode(err))

	// cancel: a running task, then conflicts.
	out = mustRun(t, srv("task", "cancel", "3", "--reason", "not needed")...)
	require.Equal(t, "task 3 cancelled\n", out)
	out = mustRun(t, srv("task", "get", "3")...)
	require.Regexp(t, `(?m)^after_nap +cancelled`, out)

	// Conflicts with the task's state (409) exit with status 2, as locally
	// (retry of a task not in error among them); a missing task with 1.
	for _, tc := range []struct {
		args []string
		msg  string // "" when only the exit status is checked
		code int
	}{
		{[]string{"task", "cancel", "1"}, "task 1 is complete and cannot be cancelled", 2},
		{[]string{"task", "cancel", "3"}, "task 3 is cancelled and cannot be cancelled", 2},
		{[]string{"task", "cancel", "77"}, "", 1},
		{[]string{"task", "retry", "1"}, "only a task in error can be retried", 2},
		{[]string{"task", "retry", "42"}, "not found", 1},
	} {
		_, _, err = run(t, srv(tc.args...)...)
		require.ErrorContains(t, err, tc.msg, "%v", tc.args)
		require.Equal(t, tc.code, exitCode(err), "%v", tc.args)
	}
}

// A failing task ends --wait with exit status 2; retry --wait over the API
// runs it again to completion.
func TestRemoteRetryWait(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "second_time")
	url, _ := testServer(t, map[string]string{"flaky.yaml": flakyTemplate(marker)})
	out, _, err := run(t, "task", "create", "flaky", "--wait", "--server", url)
	require.Error(t, err, out)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "task 1 ended error")
	require.Regexp(t, `✗ once_broken +failed \(attempt 1/1, no retry\)`, out)
	require.Regexp(t, `(?m)^once_broken +error +1/1 `, out)

	out, _, err = run(t, "task", "retry", "1", "--server", url)
	require.NoError(t, err)
	require.Equal(t, "task 1 is pending again; a worker will run its failed steps\n", out)
	// The server's worker runs it again.
	require.Eventually(t, func() bool {
		out = mustRun(t, "task", "get", "1", "--server", url)
		return strings.Contains(out, "flaky@1.0.0: complete")
	}, 30*time.Second, 50*time.Millisecond, out)
	require.Regexp(t, `(?m)^once_broken +complete +1/1 +\{"fixed": ?true\}`, out)

	// retry --wait: a second task that fails, then runs again.
	require.NoError(t, os.Remove(marker))
	out, _, err = run(t, "task", "create", "flaky", "--wait", "--server", url)
	require.Equal(t, 2, exitCode(err), out)
	out = mustRun(t, "task", "retry", "2", "--wait", "--server", url)
	require.Contains(t, out, "task 2 (default.flaky@1.0.0) is pending again; waiting for")
	require.Contains(t, out, "task complete")
	require.Regexp(t, `(?m)^once_broken +complete +1/1 +\{"fixed": ?true\}`, out)
}

func TestRemoteHandlers(t *testing.T) {
	t.Parallel()
	url, dir := testServer(t, nil)
	for _, mode := range [][]string{{"--server", url}, {"--templates", dir}} {
		out := mustRun(t, append([]string{"handlers"}, mode...)...)
		require.Regexp(t, `(?m)^NAMESPACE +HANDLERS$`, out, mode)
		require.Regexp(t, `(?m)^default +5$`, out, mode)
		require.Regexp(t, `(?m)^ecommerce +1$`, out, mode)
		require.Contains(t, out, "2 namespaces\n", mode)

		out = mustRun(t, append([]string{"handlers", "default"}, mode...)...)
		require.Regexp(t, `(?m)^HANDLER +LATEST +VERSIONS$`, out, mode)
		for _, n := range []string{"diamond_workflow", "linear_workflow", "parallel_merge", "remote_billing", "tree_workflow"} {
			require.Regexp(t, `(?m)^`+n+` +1\.0\.0 +1\.0\.0$`, out, mode)
		}
		require.Contains(t, out, "5 handlers in namespace default", mode)

		raw := mustRun(t, append([]string{"handlers", "-o", "json"}, mode...)...)
		var list namespaceList
		require.NoError(t, json.Unmarshal([]byte(raw), &list), raw)
		require.Equal(t, 2, list.Total)
		require.Equal(t, []namespaceCount{{"default", 5}, {"ecommerce", 1}}, list.Namespaces)

		raw = mustRun(t, append([]string{"handlers", "ecommerce", "-o", "json"}, mode...)...)
		var hs namespaceHandlers
		require.NoError(t, json.Unmarshal([]byte(raw), &hs), raw)
		require.Equal(t, namespaceHandlers{Namespace: "ecommerce", Handlers: []handlerInfo{
			{Name: "process_order", Namespace: "ecommerce", Versions: []string{"1.0.0"}, LatestVersion: "1.0.0"},
		}}, hs)

		_, _, err := run(t, append([]string{"handlers", "no_such_namespace"}, mode...)...)
		require.ErrorContains(t, err, "no_such_namespace", mode)
		require.Equal(t, 1, exitCode(err))
	}
	// Without templates and without a server: nothing, with a hint.
	out := mustRun(t, "handlers")
	require.Contains(t, out, "0 namespaces")
	_, _, err := run(t, "handlers", "default")
	require.ErrorContains(t, err, "give --templates DIR")
}

func TestRemoteErrors(t *testing.T) {
	t.Parallel()
	// Nothing listens on this port (it was just closed).
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	_, _, err := run(t, "task", "list", "--server", deadURL)
	require.ErrorContains(t, err, "cannot reach the tasker server at "+deadURL)
	require.Equal(t, 1, exitCode(err))

	_, _, err = run(t, "task", "get", "1", "--server", "ftp://example.com")
	require.ErrorContains(t, err, "is not a server URL")

	// A server that answers errors with fields, or with no JSON at all.
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tasker/tasks":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = fmt.Fprint(w, `{"error": {"code": "validation_error", "message": "the request is invalid", "fields": {"context/x": "is required", "name": "is required"}}}`)
		case "/tasker/tasks/5":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprint(w, "upstream down\nmore")
		case "/tasker/tasks/6":
			_, _ = fmt.Fprint(w, `{"task": `)
		default:
			http.NotFound(w, r)
		}
	}))
	defer stub.Close()
	_, _, err = run(t, "task", "create", "x", "--server", stub.URL+"/tasker/")
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Equal(t, "the request is invalid (HTTP 422 validation_error)\n  context/x: is required\n  name: is required", err.Error())
	_, _, err = run(t, "task", "get", "5", "--server", stub.URL)
	require.EqualError(t, err, "upstream down (HTTP 502)")
	_, _, err = run(t, "task", "get", "6", "--server", stub.URL)
	require.ErrorContains(t, err, "not the expected JSON")
}

// Not parallel: it sets TASKER_SERVER.
func TestRemoteServerFromEnv(t *testing.T) {
	url, _ := testServer(t, nil)
	t.Setenv("TASKER_SERVER", strings.TrimPrefix(url, "http://"))
	out := mustRun(t, "task", "create", "tree_workflow")
	require.Equal(t, "created task 1 (default.tree_workflow@1.0.0), status pending\n", out)
	out = mustRun(t, "handlers")
	require.Contains(t, out, "2 namespaces")
	// --server on the command line wins.
	_, _, err := run(t, "task", "list", "--server", "http://127.0.0.1:1")
	require.ErrorContains(t, err, "cannot reach")
}

func TestNewRemoteURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":        "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/tasker":  "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/tasker/": "http://127.0.0.1:8080",
		"localhost:9000":                "http://localhost:9000",
		"https://tasker.example/api":    "https://tasker.example/api",
	} {
		r, err := newAPIClient(in)
		require.NoError(t, err, in)
		require.Equal(t, want, r.base, in)
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		_, err := newAPIClient(bad)
		require.Error(t, err, bad)
	}
}
