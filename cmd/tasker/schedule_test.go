package main

import (
	"path/filepath"
	"slices"
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

// The schedule commands on a database, in process, and through a server.
func TestScheduleCommands(t *testing.T) {
	t.Parallel()
	tmpl := filepath.Join("..", "..", "examples")
	serverDB := "sqlite://" + filepath.Join(t.TempDir(), "served.db")
	_, srv := serveDB(t, serverDB, tmpl, 0)
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"database", []string{"--database", "sqlite://" + filepath.Join(t.TempDir(), "sched.db"), "--templates", tmpl}},
		{"server", []string{"--server", srv.URL}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			args := func(a ...string) []string { return append(slices.Clone(mode.flags), a...) }
			out := mustRun(t, args("schedule", "create", "nightly", "--template", "default/linear_workflow",
				"--cron", "30 2 * * *", "--time-zone", "America/New_York", "--context", `{"even_number": 4}`, "--overlap", "skip", "--catch-up", "one")...)
			require.Regexp(t, `created schedule nightly \(30 2 \* \* \*, America/New_York\), next fire \d{4}-\d\d-\d\dT0[67]:30:00Z`, out)
			_, errOut, err := run(t, args("schedule", "create", "bad", "--template", "linear_workflow", "--cron", "61 * * * *")...)
			require.ErrorContains(t, err, "cron", errOut)

			list := mustRun(t, args("schedule", "list")...)
			require.Regexp(t, `(?m)^nightly +default/linear_workflow +30 2 \* \* \* +America/New_York +active `, list)
			require.Contains(t, mustRun(t, args("schedule", "pause", "nightly")...), "paused schedule nightly")
			require.Regexp(t, `(?m)^nightly .* paused `, mustRun(t, args("schedule", "list")...))
			require.Contains(t, mustRun(t, args("schedule", "resume", "nightly")...), "resumed schedule nightly")
			require.Regexp(t, `created task 1 \(reason nightly@`, mustRun(t, args("schedule", "trigger", "nightly")...))
			require.Contains(t, mustRun(t, args("schedule", "get", "nightly")...), `"last_task_id": 1`)
			mustRun(t, args("schedule", "delete", "nightly")...)
			_, _, err = run(t, args("schedule", "get", "nightly")...)
			require.ErrorContains(t, err, "no schedule named")
		})
	}
}
