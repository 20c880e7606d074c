package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

// examplesDir is the repository's examples directory (tests run in
// cmd/tasker).
func examplesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	require.NoError(t, err)
	return dir
}

// lookTool returns the path of the program name; without it the test
// skips, or fails when the environment variable requireVar is 1 (as in CI).
func lookTool(t *testing.T, name, requireVar string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(requireVar) == "1" {
			t.Fatalf("%s is not installed and %s=1", name, requireVar)
		}
		t.Skip(name + " is not installed")
	}
	return p
}

// tempDB returns a database URL of a new SQLite file in a test directory.
func tempDB(t *testing.T) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "x.db")
}

// run runs the CLI in-process with args and returns its stdout, its stderr
// and the error main would turn into an exit status.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// mustRun is run that requires success and returns stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, args...)
	require.NoError(t, err, "tasker %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}

// withDB prefixes args with --database and --templates.
func withDB(t *testing.T, db string, args ...string) []string {
	return append([]string{"--database", db, "--templates", examplesDir(t)}, args...)
}

// requireDiamondWaited checks what `task create diamond_workflow --wait`
// prints for the first task: a progress and a summary line per step, then
// the task's end.
func requireDiamondWaited(t *testing.T, out string) {
	t.Helper()
	for _, step := range []string{"diamond_start", "diamond_branch_b", "diamond_branch_c", "diamond_end"} {
		require.Regexp(t, `✓ `+step+` +complete`, out, "progress line of %s", step)
		require.Regexp(t, `(?m)^`+step+` +complete +1/3 `, out, "summary line of %s", step)
	}
	require.Contains(t, out, "task complete")
	require.Contains(t, out, "task 1 default.diamond_workflow@1.0.0: complete")
}

// waitedTask is what `task create --wait -o json` prints: the task and its
// steps.
type waitedTask struct {
	Task struct {
		ID     int64           `json:"task_id"`
		Status string          `json:"status"`
		Ctx    json.RawMessage `json:"context"`
	} `json:"task"`
	Steps []struct {
		Name     string          `json:"name"`
		Status   string          `json:"status"`
		Attempts int             `json:"attempts"`
		Results  json.RawMessage `json:"results"`
	} `json:"steps"`
}

// parseWaitedTask decodes the output of `task create --wait -o json`, which
// must be only JSON.
func parseWaitedTask(t *testing.T, raw string) waitedTask {
	t.Helper()
	var res waitedTask
	require.NoError(t, json.Unmarshal([]byte(raw), &res), "-o json prints only JSON:\n%s", raw)
	return res
}

// taskList is what `task list -o json` prints.
type taskList struct {
	Tasks []struct {
		ID   int64    `json:"task_id"`
		Tags []string `json:"tags"`
	} `json:"tasks"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// parseTaskList decodes the output of `task list -o json`.
func parseTaskList(t *testing.T, out string) taskList {
	t.Helper()
	var list taskList
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	return list
}

func TestTemplateValidateExamples(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "template", "validate", filepath.Join("..", "..", "examples"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6, out)
	for _, name := range []string{
		"default.diamond_workflow@1.0.0 (4 steps)", "default.linear_workflow@1.0.0 (4 steps)", "default.parallel_merge@1.0.0 (4 steps)",
		"default.tree_workflow@1.0.0 (8 steps)", "ecommerce.process_order@1.0.0 (5 steps)", "default.remote_billing@1.0.0 (3 steps)",
	} {
		require.Contains(t, out, "ok  "+name, out)
	}
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, "ok  "), l)
	}

	// One file works too.
	out = mustRun(t, "template", "validate", filepath.Join("..", "..", "examples", "linear_workflow.yaml"))
	require.Contains(t, out, "ok  default.linear_workflow@1.0.0")
}

func TestTemplateValidateBroken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := "name: good\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config: {command: [\"true\"]}\n"
	broken := "name: broken\nstep_templates:\n  - name: a\n    handler: exec\n  - name: b\n    handler: exec\n    depends_on_step: missing_step\n"
	unknownKey := "name: typo\nstep_templates:\n  - name: a\n    handler: exec\n    retry_limt: 3\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good.yaml"), []byte(good), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(broken), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "typo.yml"), []byte(unknownKey), 0o600))

	out, _, err := run(t, "template", "validate", dir)
	require.Error(t, err)
	require.Equal(t, 2, exitCode(err))
	require.Contains(t, err.Error(), "problem(s) found")
	require.Contains(t, out, "ok  default.good@0.1.0", "valid templates are still listed")
	require.Contains(t, out, "broken.yaml", "the message names the broken file")
	require.Contains(t, out, "missing_step")
	require.Contains(t, out, "typo.yml")
	require.Contains(t, out, "retry_limt")
	require.NotContains(t, out, "ok  default.broken")

	// A Go handler unknown to the CLI fails the strict check, names the
	// handler, and is accepted with --handler or --strict=false.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: broken\nstep_templates:\n  - name: a\n    handler: charge_card\n"), 0o600))
	require.NoError(t, os.Remove(filepath.Join(dir, "typo.yml")))
	out, _, err = run(t, "template", "validate", dir)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "charge_card")
	mustRun(t, "template", "validate", "--handler", "charge_card", dir)
	mustRun(t, "template", "validate", "--strict=false", dir)

	// Every problem of a template is reported, each unknown handler with
	// the flags that fix it, and every handler_config problem.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(`name: broken
step_templates:
  - name: a
    handler: charge_card
  - name: b
    handler: refund
  - name: c
    handler: exec
    handler_config: {command: 5}
  - name: d
    handler: http
    handler_config: {url: "ftp://x"}
`), 0o600))
	out, _, err = run(t, "template", "validate", dir)
	require.EqualError(t, err, "2 problem(s) found")
	require.Contains(t, out, `step "a": handler "charge_card" is not registered; if your program registers a Go handler "charge_card" `+
		`(Registry.RegisterHandler), declare it here with --handler charge_card (repeatable), or skip the handler check with --strict=false; `+
		`else use a built-in handler: exec, http, remote`)
	require.Contains(t, out, `step "b": handler "refund" is not registered`)
	out, _, err = run(t, "template", "validate", "--handler", "charge_card,refund", dir)
	require.EqualError(t, err, "2 problem(s) found")
	require.Contains(t, out, `step "c": handler_config.command must be a list`)
	require.Contains(t, out, `step "d": handler_config.url "ftp://x" must be an absolute http(s) URL`)

	_, _, err = run(t, "template", "validate", filepath.Join(dir, "does_not_exist"))
	require.Error(t, err)
	require.Equal(t, 2, exitCode(err))
}

func TestTemplateGraph(t *testing.T) {
	t.Parallel()
	file := filepath.Join("..", "..", "examples", "diamond_workflow.yaml")

	text := mustRun(t, "template", "graph", file)
	require.Contains(t, text, "default.diamond_workflow@1.0.0: 4 steps, 4 dependencies, depth 2, widest level 2")
	require.Contains(t, text, "roots:  diamond_start\n")
	require.Contains(t, text, "leaves: diamond_end\n")
	require.Contains(t, text, "order:  diamond_start → diamond_branch_b → diamond_branch_c → diamond_end\n")
	require.Contains(t, text, "  0: diamond_start\n  1: diamond_branch_b, diamond_branch_c\n  2: diamond_end\n")
	require.Contains(t, text, "graph TD")

	raw := mustRun(t, "template", "graph", "--format", "json", file)
	var an struct {
		Topology []string       `json:"topology"`
		Levels   map[string]int `json:"levels"`
		Roots    []string       `json:"roots"`
		Leaves   []string       `json:"leaves"`
		Cycles   [][]string     `json:"cycles"`
		Edges    []struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"edges"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &an), raw)
	require.Equal(t, []string{"diamond_start", "diamond_branch_b", "diamond_branch_c", "diamond_end"}, an.Topology)
	require.Equal(t, map[string]int{"diamond_start": 0, "diamond_branch_b": 1, "diamond_branch_c": 1, "diamond_end": 2}, an.Levels)
	require.Equal(t, []string{"diamond_start"}, an.Roots)
	require.Equal(t, []string{"diamond_end"}, an.Leaves)
	require.Empty(t, an.Cycles)
	require.Len(t, an.Edges, 4)

	mermaid := mustRun(t, "template", "graph", "--format", "mermaid", file)
	require.True(t, strings.HasPrefix(mermaid, "graph TD\n"), mermaid)
	for _, edge := range []string{
		"diamond_start --> diamond_branch_b", "diamond_start --> diamond_branch_c",
		"diamond_branch_b --> diamond_end", "diamond_branch_c --> diamond_end",
	} {
		require.Contains(t, mermaid, edge)
	}
	require.NotContains(t, mermaid, "roots:")

	_, _, err := run(t, "template", "graph", "--format", "svg", file)
	require.ErrorContains(t, err, `--format "svg" is unknown`)
}

func TestTaskCreateWait(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	out := mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait")...)
	requireDiamondWaited(t, out)
	require.Contains(t, out, `{"value": 288, "branch_b": 256, "branch_c": 32}`)

	raw := mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait", "-o", "json")...)
	res := parseWaitedTask(t, raw)
	require.Equal(t, int64(2), res.Task.ID)
	require.Equal(t, "complete", res.Task.Status)
	require.JSONEq(t, `{"even_number": 4}`, string(res.Task.Ctx))
	results := map[string]string{}
	for _, s := range res.Steps {
		require.Equal(t, "complete", s.Status, s.Name)
		require.Equal(t, 1, s.Attempts, s.Name)
		results[s.Name] = string(s.Results)
	}
	require.Len(t, results, 4)
	require.JSONEq(t, `{"value": 16}`, results["diamond_start"])
	require.JSONEq(t, `{"value": 256}`, results["diamond_branch_b"])
	require.JSONEq(t, `{"value": 32}`, results["diamond_branch_c"])
	require.JSONEq(t, `{"value": 288, "branch_b": 256, "branch_c": 32}`, results["diamond_end"])

	// The schema default (6) applies when the context omits the number:
	// 36 → 1296 and 72 → 1368.
	raw = mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--wait", "-o", "json")...)
	res = parseWaitedTask(t, raw)
	require.JSONEq(t, `{"even_number": 6}`, string(res.Task.Ctx))
	require.JSONEq(t, `{"value": 1368, "branch_b": 1296, "branch_c": 72}`, string(res.Steps[3].Results))
}

func TestTaskCreateInvalidContext(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	_, _, err := run(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 3}`)...)
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Contains(t, err.Error(), "does not match the schema of default.diamond_workflow@1.0.0")
	require.Contains(t, err.Error(), "context/even_number", "the error names the field")
	require.Contains(t, err.Error(), "multipleOf")

	_, _, err = run(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": "four"}`)...)
	require.ErrorContains(t, err, "context/even_number")

	_, _, err = run(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{not json`)...)
	require.ErrorContains(t, err, "is not valid JSON")

	_, _, err = run(t, withDB(t, db, "task", "create", "no_such_template")...)
	require.ErrorContains(t, err, `no task template "no_such_template"`)

	out := mustRun(t, withDB(t, db, "task", "list")...)
	require.Contains(t, out, "0 of 0 tasks", "no task was created")
}

func TestTaskListGetCancel(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	// A --wait runs every ready step of the database: create the task that
	// must stay pending afterwards.
	mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 2}`, "--wait")...)
	out := mustRun(t, withDB(t, db, "task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--tag", "nightly")...)
	require.Equal(t, "created task 2 (default.linear_workflow@1.0.0), status pending\n", out)

	out = mustRun(t, withDB(t, db, "task", "list")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^ID +TASK +STATUS +CREATED$`, lines[0])
	require.Regexp(t, `^2 +default\.linear_workflow@1\.0\.0 +pending `, lines[1], "newest first")
	require.Regexp(t, `^1 +default\.diamond_workflow@1\.0\.0 +complete `, lines[2])
	require.Equal(t, "2 of 2 tasks", lines[3])

	out = mustRun(t, withDB(t, db, "task", "list", "--status", "pending")...)
	require.Contains(t, out, "1 of 1 tasks")
	require.Contains(t, out, "linear_workflow")
	out = mustRun(t, withDB(t, db, "task", "list", "--tag", "nightly", "-o", "json")...)
	list := parseTaskList(t, out)
	require.Equal(t, 1, list.Total)
	require.Equal(t, int64(2), list.Tasks[0].ID)
	require.Equal(t, []string{"nightly"}, list.Tasks[0].Tags)
	out = mustRun(t, withDB(t, db, "task", "list", "--limit", "1", "--offset", "1")...)
	require.Contains(t, out, "1 of 2 tasks")
	require.Contains(t, out, "diamond_workflow")
	_, _, err := run(t, withDB(t, db, "task", "list", "--status", "done")...)
	require.ErrorContains(t, err, `--status "done" is not a state`)

	out = mustRun(t, withDB(t, db, "task", "get", "2")...)
	require.Contains(t, out, "task 2 default.linear_workflow@1.0.0: pending")
	for _, step := range []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"} {
		require.Regexp(t, `(?m)^`+step+` +pending +0/3`, out)
	}
	out = mustRun(t, withDB(t, db, "task", "get", "1", "-o", "json")...)
	require.Contains(t, out, `"status": "complete"`)
	_, _, err = run(t, withDB(t, db, "task", "get", "99")...)
	require.ErrorContains(t, err, "not found")
	_, _, err = run(t, withDB(t, db, "task", "get", "abc")...)
	require.ErrorContains(t, err, `task id "abc" is not a positive integer`)

	out = mustRun(t, withDB(t, db, "task", "cancel", "2", "--reason", "not needed")...)
	require.Equal(t, "task 2 cancelled\n", out)
	out = mustRun(t, withDB(t, db, "task", "get", "2")...)
	require.Regexp(t, `(?m)^linear_step_1 +cancelled`, out)

	_, _, err = run(t, withDB(t, db, "task", "cancel", "1")...)
	require.ErrorContains(t, err, "task 1 is complete and cannot be cancelled")
	_, _, err = run(t, withDB(t, db, "task", "cancel", "2")...)
	require.ErrorContains(t, err, "task 2 is cancelled and cannot be cancelled")
}

// Creating the same task again (the hash identity) says it found the
// existing task and does not run it; its duration is the task's (creation
// to end), not the time of this command; task get of a running task shows
// the time so far.
func TestTaskCreateAgainSaysExisting(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	// The README's first command (process_order has identity_strategy: hash).
	order := `{"customer_email": "ada@example.com", "cart_items": [{"sku": "A1", "quantity": 2, "price": 12.5}]}`
	args := withDB(t, db, "task", "create", "process_order", "--namespace", "ecommerce", "--context", order, "--wait")
	first := mustRun(t, args...)
	require.True(t, strings.HasPrefix(first, "created task 1 (ecommerce.process_order@1.0.0); running its steps here\n"), first)
	took := regexp.MustCompile(`(?m)^task 1 ecommerce\.process_order@1\.0\.0: complete in (\S+)$`)
	m := took.FindStringSubmatch(first)
	require.NotNil(t, m, first)

	again := mustRun(t, args...)
	require.True(t, strings.HasPrefix(again, "existing task 1 (ecommerce.process_order@1.0.0, same identity) already complete; not run again\n"), again)
	require.NotContains(t, again, "▶", "no step runs again")
	m2 := took.FindStringSubmatch(again)
	require.NotNil(t, m2, again)
	require.Equal(t, m[1], m2[1], "the task's own duration both times")
	require.Equal(t, m[1], took.FindStringSubmatch(mustRun(t, withDB(t, db, "task", "get", "1")...))[1], "task get shows the same")
	require.Equal(t, "existing task 1 (ecommerce.process_order@1.0.0, same identity), status complete\n",
		mustRun(t, withDB(t, db, "task", "create", "process_order", "--namespace", "ecommerce", "--context", order)...))

	// A task that runs: task get shows how long it has run so far.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slow.yaml"), []byte(slowTemplate()), 0o600))
	mustRun(t, "--database", db, "--templates", dir, "task", "create", "slow")
	time.Sleep(1100 * time.Millisecond)
	out := mustRun(t, "--database", db, "--templates", dir, "task", "get", "2")
	require.Regexp(t, `(?m)^task 2 default\.slow@1\.0\.0: pending, running for [1-9][0-9.]*m?s$`, out)
}

func TestTaskRetry(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 2}`, "--wait")...)
	_, _, err := run(t, withDB(t, db, "task", "retry", "1")...)
	require.Error(t, err)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "only a task in error can be retried")

	_, _, err = run(t, withDB(t, db, "task", "retry", "42")...)
	require.ErrorContains(t, err, "not found")
	require.Equal(t, 1, exitCode(err))
}

// A task that fails ends with exit status 2 from --wait, and retry --wait
// runs its failed steps again.
func TestTaskCreateWaitFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "second_time")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flaky.yaml"), []byte(flakyTemplate(marker)), 0o600))
	db := tempDB(t)
	out, _, err := run(t, "--database", db, "--templates", dir, "task", "create", "flaky", "--wait")
	require.Error(t, err, out)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "task 1 ended error")
	require.Regexp(t, `✗ once_broken +failed \(attempt 1/1, no retry\)`, out)
	require.Regexp(t, `(?m)^once_broken +error +1/1 +error: `, out)

	out = mustRun(t, "--database", db, "--templates", dir, "task", "retry", "1", "--wait")
	require.True(t, strings.HasPrefix(out, "task 1 (default.flaky@1.0.0) is pending again; running its failed steps here\n"), out)
	require.Contains(t, out, "task complete")
	require.Regexp(t, `(?m)^once_broken +complete +1/1 +\{"fixed": true\}`, out)
}

var migrateRe = regexp.MustCompile(`^database (\S+) is at migration version (\d+)\n$`)

func TestMigrate(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	out := mustRun(t, "--database", db, "migrate")
	m := migrateRe.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, db, m[1])
	require.NotEqual(t, "0", m[2])
	require.Equal(t, out, mustRun(t, "--database", db, "migrate"), "migrating twice changes nothing")

	_, _, err := run(t, "--database", "mysql://localhost/x", "migrate")
	require.ErrorContains(t, err, `scheme "mysql" is not supported`)
}

// Not parallel: it sets environment variables.
func TestDatabasePrecedence(t *testing.T) {
	envDB, flagDB := tempDB(t), tempDB(t)
	t.Setenv("TASKER_DATABASE_URL", envDB)

	out := mustRun(t, "migrate")
	require.Contains(t, out, "database "+envDB+" ", "TASKER_DATABASE_URL is used without --database")
	out = mustRun(t, "--database", flagDB, "migrate")
	require.Contains(t, out, "database "+flagDB+" ", "--database wins over TASKER_DATABASE_URL")

	// The environment also wins over the config file.
	cfgDB := tempDB(t)
	cfg := filepath.Join(t.TempDir(), "tasker.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database: "+cfgDB+"\n"), 0o600))
	out = mustRun(t, "--config", cfg, "migrate")
	require.Contains(t, out, "database "+envDB+" ")

	// TASKER_TEMPLATES names the templates directory.
	t.Setenv("TASKER_TEMPLATES", examplesDir(t))
	out = mustRun(t, "task", "create", "tree_workflow")
	require.Contains(t, out, "created task 1 (default.tree_workflow@1.0.0)")
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, otherDB := tempDB(t), tempDB(t)
	cfg := filepath.Join(dir, "tasker.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database: "+db+"\ntemplates: "+examplesDir(t)+"\nlog_level: error\nworker:\n  concurrency: 2\n"), 0o600))

	out := mustRun(t, "--config", cfg, "task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--wait")
	require.Contains(t, out, "task 1 default.linear_workflow@1.0.0: complete", "the config file sets the database and the templates")
	require.Contains(t, out, `{"value": 65536}`, "2 squared four times")
	out = mustRun(t, "--config", cfg, "migrate")
	require.Contains(t, out, "database "+db+" ")
	out = mustRun(t, "--config", cfg, "--database", otherDB, "migrate")
	require.Contains(t, out, "database "+otherDB+" ", "flags win over the config file")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("database: "+db+"\ntemplate_dir: /tmp\n"), 0o600))
	_, _, err := run(t, "--config", bad, "migrate")
	require.Error(t, err)
	require.Contains(t, err.Error(), bad, "the error names the file")
	require.Contains(t, err.Error(), "template_dir", "the error names the unknown key")
	require.Contains(t, err.Error(), "valid keys: database, templates")

	_, _, err = run(t, "--config", filepath.Join(dir, "missing.yaml"), "migrate")
	require.ErrorContains(t, err, "config file")
}

// A task with a remote step run with --wait in this process says that the
// step needs remote workers (it cannot finish here).
func TestTaskCreateRemoteStepNote(t *testing.T) {
	t.Parallel()
	db := "sqlite://" + filepath.Join(t.TempDir(), "t.db")
	_, stderr, err := run(t, withDB(t, db, "task", "create", "remote_billing", "--context", `{"order_id": 1, "amount": 2}`, "--wait", "--timeout", "1s")...)
	require.Error(t, err)
	require.Contains(t, stderr, "note: step charge runs on remote workers of queue \"billing\", not in this process: serve them with `tasker serve --worker-token` on this database")
}

// A bad OTEL_* value stops serve and worker at once, naming the variable.
func TestTracingEnvErrors(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "otel.db")
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	_, _, err := run(t, "worker", "--database", db)
	require.ErrorContains(t, err, "OTEL_TRACES_EXPORTER")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, _, err = run(t, "serve", "--database", db, "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_PROTOCOL")
}

// --async-commit (and worker.async_commit in the config file) runs the
// worker's passes with asynchronous commits on PostgreSQL: a task still
// runs to completion with its results.
func TestAsyncCommitFlag(t *testing.T) {
	t.Parallel()
	db := postgresURL(t, pgtest.URL(t))
	out := mustRun(t, "--database", db, "--templates", examplesDir(t), "--log-level", "error", "--async-commit",
		"task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--wait")
	require.Contains(t, out, "task 1 default.linear_workflow@1.0.0: complete")
	require.Contains(t, out, `{"value": 65536}`)

	cfg := filepath.Join(t.TempDir(), "tasker.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database: "+db+"\ntemplates: "+examplesDir(t)+"\nlog_level: error\nworker:\n  async_commit: true\n"), 0o600))
	out = mustRun(t, "--config", cfg, "task", "create", "linear_workflow", "--context", `{"even_number": 4}`, "--wait")
	require.Contains(t, out, "task 2 default.linear_workflow@1.0.0: complete")
}

// --passes (worker.passes in the config file) sets how many worker passes
// run at once; a value out of range is refused, naming the field.
func TestPassesFlag(t *testing.T) {
	t.Parallel()
	db := postgresURL(t, pgtest.URL(t))
	out := mustRun(t, "--database", db, "--templates", examplesDir(t), "--log-level", "error", "--passes", "2",
		"task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--wait")
	require.Contains(t, out, "task 1 default.linear_workflow@1.0.0: complete")

	cfg := filepath.Join(t.TempDir(), "tasker.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("database: "+db+"\ntemplates: "+examplesDir(t)+"\nlog_level: error\nworker:\n  passes: 3\n"), 0o600))
	out = mustRun(t, "--config", cfg, "task", "create", "linear_workflow", "--context", `{"even_number": 4}`, "--wait")
	require.Contains(t, out, "task 2 default.linear_workflow@1.0.0: complete")

	_, _, err := run(t, "--database", db, "--passes", "9", "task", "create", "linear_workflow", "--context", `{"even_number": 2}`, "--wait")
	require.ErrorContains(t, err, "Worker.Passes")
}
