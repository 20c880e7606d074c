package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// failTwoTemplate is a step that fails once for good, and a child.
const failTwoTemplate = `name: two
version: 1.0.0
step_templates:
  - name: fail
    handler: exec
    default_retryable: false
    default_retry_limit: 1
    handler_config: {command: ["false"]}
  - name: after
    depends_on_step: fail
    handler: exec
    handler_config: {command: ["true"]}
`

// The step commands on the database and through --server: the retry limit,
// resolve (by name or id, with results), cancel, the step's and the task's
// audit trails; a wrong state is exit status 2, an unknown step names the
// task's steps.
func TestStepCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "two.yaml"), []byte(failTwoTemplate), 0o600))
	db := tempDB(t)
	local := func(args ...string) []string { return append([]string{"--database", db, "--templates", dir}, args...) }
	_, _, err := run(t, local("task", "create", "two", "--wait")...)
	require.Equal(t, 2, exitCode(err))
	_, _, err = run(t, local("task", "create", "two", "--wait")...) // a second task, for the server
	require.Equal(t, 2, exitCode(err))

	_, srv := serveDB(t, db, dir, 1<<20)
	for _, mode := range []struct {
		name string
		args func(...string) []string
		task string
	}{
		{"database", local, "1"},
		{"server", func(args ...string) []string { return append(args, "--server", srv.URL) }, "2"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			out := mustRun(t, mode.args("step", "retry-limit", mode.task, "fail", "4")...)
			require.Regexp(t, `^step \d+ \(fail\) of task `+mode.task+` is error \(attempts 1/4\)\n$`, out)
			_, _, err := run(t, mode.args("step", "retry-limit", mode.task, "fail", "0")...)
			require.ErrorContains(t, err, "retry_limit")

			out = mustRun(t, mode.args("step", "resolve", mode.task, "fail", "--results", `{"x": 1}`, "--reason", "fixed by hand", "-o", "json")...)
			var res struct{ Step tasker.Step }
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.Equal(t, tasker.StateResolvedManually, res.Step.State)
			require.JSONEq(t, `{"x": 1}`, string(res.Step.Results))

			_, _, err = run(t, mode.args("step", "resolve", mode.task, "fail")...)
			require.Equal(t, 2, exitCode(err), "a resolved step cannot be resolved again")
			require.ErrorContains(t, err, "resolved_manually")

			_, _, err = run(t, mode.args("step", "cancel", mode.task, "nope")...)
			require.ErrorContains(t, err, `task `+mode.task+` has no step "nope"; its steps: fail (`)

			out = mustRun(t, mode.args("step", "cancel", mode.task, "after", "--reason", "not needed")...)
			require.Regexp(t, `^step \d+ \(after\) of task `+mode.task+` is cancelled`, out)

			out = mustRun(t, mode.args("step", "get", mode.task, "fail")...)
			require.Contains(t, out, "(fail) of task "+mode.task+" is resolved_manually")
			require.Regexp(t, `error +resolved_manually +resolved_manually`, out, "the step's audit trail with the reason")
			require.Contains(t, out, "fixed by hand")

			out = mustRun(t, mode.args("task", "transitions", mode.task)...)
			require.Regexp(t, `in_progress +error +steps_in_error_state`, out)
			require.Regexp(t, `error +pending +steps_runnable_again`, out)
		})
	}
}
