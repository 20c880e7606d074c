package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseTemplateRef(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][3]string{
		"report": {"", "report", ""}, "ops/report": {"ops", "report", ""}, "ops/report@1.2.0": {"ops", "report", "1.2.0"}, "report@2.0.0": {"", "report", "2.0.0"},
	} {
		ns, name, version := parseTemplateRef(in)
		require.Equal(t, want, [3]string{ns, name, version}, in)
	}
}

// The schedule commands on a database, in process.
func TestScheduleCommands(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "sched.db")
	tmpl := filepath.Join("..", "..", "examples")
	out := mustRun(t, "--database", db, "--templates", tmpl, "schedule", "create", "nightly", "--template", "default/linear_workflow",
		"--cron", "30 2 * * *", "--time-zone", "America/New_York", "--context", `{"even_number": 4}`, "--overlap", "skip", "--catch-up", "one")
	require.Regexp(t, `created schedule nightly \(30 2 \* \* \*, America/New_York\), next fire \d{4}-\d\d-\d\dT0[67]:30:00Z`, out)
	_, errOut, err := run(t, "--database", db, "--templates", tmpl, "schedule", "create", "bad", "--template", "linear_workflow", "--cron", "61 * * * *")
	require.ErrorContains(t, err, "cron", errOut)

	list := mustRun(t, "--database", db, "schedule", "list")
	require.Regexp(t, `(?m)^nightly +default/linear_workflow +30 2 \* \* \* +America/New_York +active `, list)
	require.Contains(t, mustRun(t, "--database", db, "schedule", "pause", "nightly"), "paused schedule nightly")
	require.Regexp(t, `(?m)^nightly .* paused `, mustRun(t, "--database", db, "schedule", "list"))
	require.Contains(t, mustRun(t, "--database", db, "schedule", "resume", "nightly"), "resumed schedule nightly")
	require.Regexp(t, `created task 1 \(reason nightly@`, mustRun(t, "--database", db, "--templates", tmpl, "schedule", "trigger", "nightly"))
	require.Contains(t, mustRun(t, "--database", db, "schedule", "get", "nightly"), `"last_task_id": 1`)
	mustRun(t, "--database", db, "schedule", "delete", "nightly")
	_, _, err = run(t, "--database", db, "schedule", "get", "nightly")
	require.ErrorContains(t, err, "no schedule named")
}
