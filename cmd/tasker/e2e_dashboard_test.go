package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browserChecks is the Node project of TestDashboardInBrowser.
var browserChecks = filepath.Join("..", "..", "taskerdashboard", "testdata", "e2e")

// chromium returns the Chromium binary and node, with the check's packages
// installed. Without them the test skips, or fails with
// TASKER_TEST_REQUIRE_BROWSER=1 (.ci/run installs Debian's chromium).
func chromium(t *testing.T) (browser, nodeBin string) {
	t.Helper()
	browser = lookTool(t, "chromium", "TASKER_TEST_REQUIRE_BROWSER")
	nodeBin = lookTool(t, "node", "TASKER_TEST_REQUIRE_BROWSER")
	npmCI(t, browserChecks, "playwright-core")
	return browser, nodeBin
}

// dashboardTemplates are the templates of TestDashboardInBrowser: one whose
// charge step fails until a flag file exists, one whose step always fails.
const dashboardTemplates = `name: dashboard_flaky
namespace_name: dashboard
version: 1.0.0
description: Charges once the flag file exists
schema:
  type: object
  properties:
    order_id: {type: integer, description: the order to charge}
    customer:
      type: object
      required: [email]
      properties:
        email: {type: string}
        vip: {type: boolean}
    skus: {type: array, items: {type: string}}
step_templates:
  - name: prepare
    handler: exec
    handler_config:
      command: |
        printf '{"prepared": true}'
  - name: charge
    depends_on_step: prepare
    handler: exec
    default_retry_limit: 1
    handler_config:
      command: |
        test -f FLAG && printf '{"charged": true}'
`

const dashboardStuck = `name: dashboard_stuck
namespace_name: dashboard
version: 1.0.0
description: A step that always fails
step_templates:
  - name: stuck
    handler: exec
    default_retry_limit: 1
    handler_config:
      command: |
        echo 'the warehouse is closed' >&2; exit 1
`

// dashboardRemote is a template whose step waits for remote workers of a
// queue that none polls: its task page says so.
const dashboardRemote = `name: dashboard_remote
namespace_name: dashboard
version: 1.0.0
description: A step for remote workers that nobody runs
step_templates:
  - name: ship
    handler: remote
    handler_config:
      queue: shipping
`

// TestDashboardInBrowser drives the dashboard of `tasker serve` in headless
// Chromium (taskerdashboard/testdata/e2e/dashboard.mjs): sign-in, filters,
// a failing step's error and attempts, retry watched live, resolve, dead
// letter replay, a disabled button and its 403, axe-core on every page in
// both themes. With TASKER_SCREENSHOTS=DIR it writes the screenshots of
// docs/dashboard.md there.
func TestDashboardInBrowser(t *testing.T) {
	browser, nodeBin := chromium(t)
	bin := e2eBinary(t)
	dir := t.TempDir()
	flag := filepath.Join(dir, "charge.ok")
	tmpl := filepath.Join(dir, "templates")
	require.NoError(t, os.MkdirAll(tmpl, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "flaky.yaml"), []byte(strings.ReplaceAll(dashboardTemplates, "FLAG", flag)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "stuck.yaml"), []byte(dashboardStuck), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "remote.yaml"), []byte(dashboardRemote), 0o600))
	subs := filepath.Join(dir, "subscriptions.yaml")
	require.NoError(t, os.WriteFile(subs, []byte(`subscriptions:
  - name: e2e-hook
    type: webhook
    events: ["task.failed"]
    config:
      url: http://127.0.0.1:9/hook
      max_attempts: 1
`), 0o600))
	db := "sqlite://" + filepath.Join(dir, "dash.db")
	admin := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "admin", "--permission", "*"))
	viewer := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "viewer",
		"--permission", "tasker.task:index", "--permission", "tasker.task:show",
		"--permission", "tasker.workflow_step:index", "--permission", "tasker.workflow_step:show",
		"--permission", "tasker.handler:*", "--permission", "tasker.health_status:index"))
	srv := startServe(t, bin, "--database", db, "--templates", tmpl, "--subscriptions", subs)

	shots := os.Getenv("TASKER_SCREENSHOTS")
	if shots != "" {
		abs, err := filepath.Abs(shots)
		require.NoError(t, err)
		shots = abs
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, nodeBin, "dashboard.mjs")
	run.Dir = browserChecks
	run.Env = append(os.Environ(), "TASKER_URL="+srv.base, "ADMIN_TOKEN="+admin, "VIEWER_TOKEN="+viewer,
		"FLAG_FILE="+flag, "CHROMIUM="+browser, "SCREENSHOTS="+shots)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("node dashboard.mjs: %v\n%s\nserve stderr (tail):\n%s", err, out, srv.StderrTail(4000))
	}
	for _, want := range []string{`"retriedLive":true`, `"resolved":true`, `"replayed":true`, `"forcedRetry":403`, `"waitingShown":true`} {
		require.Contains(t, string(out), want)
	}
	t.Logf("dashboard check: %s", out)
}

// TestServeDashboardAndGraphQLFromEnv: tasker serve serves the dashboard
// at / (none with TASKER_NO_DASHBOARD), and its GraphQL and dashboard flags
// come from the environment as their help says.
func TestServeDashboardAndGraphQLFromEnv(t *testing.T) {
	bin := e2eBinary(t)
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		require.NoError(t, err)
		defer func() { _ = res.Body.Close() }()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "env.db")
	srv := startServe(t, bin, "--database", db)
	code, body := get(srv.base + "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "/assets/app.js")

	off := startServeEnv(t, bin, []string{"TASKER_NO_DASHBOARD=true", "TASKER_GRAPHQL_MAX_DEPTH=2"}, "--database", db)
	code, _ = get(off.base + "/")
	require.Equal(t, http.StatusNotFound, code)
	code, body = get(off.base + "/tasker/graphql?query=" + url.QueryEscape("{ tasks { workflowSteps { name } } }"))
	require.Less(t, code, 500)
	require.Contains(t, body, "at most 2 are allowed")
}
