package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// --log-format json makes every stderr line a JSON record; the events of a
// "log" subscription show at the default level, with the step's task_id,
// step and attempt.
func TestLogFormatJSON(t *testing.T) {
	db := tempDB(t)
	subs := filepath.Join(t.TempDir(), "subs.yml")
	require.NoError(t, os.WriteFile(subs, []byte("subscriptions:\n  - {name: audit, type: log, events: [step.completed]}\n"), 0o600))
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			args := []string{"--subscriptions", subs}
			if how == "flag" {
				args = append(args, "--log-format", "json")
			} else {
				t.Setenv("TASKER_LOG_FORMAT", "json")
			}
			args = append(args, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait", "-o", "json")
			out, errOut, err := run(t, withDB(t, db, args...)...)
			require.NoError(t, err, "stderr:\n%s", errOut)
			var waited struct {
				Task struct {
					ID float64 `json:"task_id"`
				} `json:"task"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &waited))
			steps := map[string]bool{}
			for line := range strings.Lines(errOut) {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec), "a JSON line: %s", line)
				require.NotEmpty(t, rec["time"])
				if rec["msg"] != "tasker event" {
					continue
				}
				require.Equal(t, "INFO", rec["level"])
				require.Equal(t, "audit", rec["subscription"])
				require.Equal(t, "step.completed", rec["event"])
				require.Equal(t, waited.Task.ID, rec["task_id"])
				require.Equal(t, float64(1), rec["attempt"])
				steps[rec["step"].(string)] = true
			}
			require.Len(t, steps, 4, "one record per completed step of the diamond:\n%s", errOut)
		})
	}
}

// The text format is the default; --log-level warn hides info records.
func TestLogFormatTextAndLevel(t *testing.T) {
	db := tempDB(t)
	subs := filepath.Join(t.TempDir(), "subs.yml")
	require.NoError(t, os.WriteFile(subs, []byte("subscriptions:\n  - {name: audit, type: log, events: [task.completed]}\n"), 0o600))
	_, errOut, err := run(t, withDB(t, db, "--subscriptions", subs, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait")...)
	require.NoError(t, err)
	require.Contains(t, errOut, `level=INFO msg="tasker event" subscription=audit event=task.completed`)
	_, errOut, err = run(t, withDB(t, db, "--log-level", "warn", "--subscriptions", subs, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait")...)
	require.NoError(t, err)
	require.NotContains(t, errOut, "tasker event")
}

// A bad --log-format or --log-level is an error naming the flag and the
// valid values, for every command.
func TestLogFlagsInvalid(t *testing.T) {
	db := tempDB(t)
	for _, tc := range []struct {
		args []string
		env  [2]string
		want string
	}{
		{args: []string{"--log-format", "xml", "migrate"}, want: `--log-format [$TASKER_LOG_FORMAT, config log_format]: log format "xml" is not valid: use text or json`},
		{args: []string{"--log-level", "loud", "template", "validate", examplesDir(t)}, want: `--log-level [$TASKER_LOG_LEVEL, config log_level]: log level "loud" is not valid: use debug, info, warn or error`},
		{args: []string{"migrate"}, env: [2]string{"TASKER_LOG_FORMAT", "yaml"}, want: `--log-format [$TASKER_LOG_FORMAT, config log_format]: log format "yaml" is not valid`},
		{args: []string{"events", "catalog"}, env: [2]string{"TASKER_LOG_LEVEL", "verbose"}, want: `log level "verbose" is not valid`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			_, _, err := run(t, append([]string{"--database", db}, tc.args...)...)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
