//go:build unix

package exechandler

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// childEnv runs `env` with cfg's env settings and returns what the child
// saw.
func childEnv(t *testing.T, m map[string]any) map[string]string {
	t.Helper()
	m["command"] = []any{"env"}
	out, err := Run(t.Context(), mustConfig(t, m), testInput())
	require.NoError(t, err)
	var res struct{ Stdout string }
	require.NoError(t, json.Unmarshal(out, &res))
	env := map[string]string{}
	for line := range strings.SplitSeq(res.Stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Tasker's own secrets are not inherited by exec children (issue 12); the
// rest of the worker's environment is, and env or inherit_env decide.
func TestRunWithholdsTaskerSecrets(t *testing.T) {
	secrets := map[string]string{
		"TASKER_WORKER_TOKEN":    "worker-token-5ecret",
		"TASKER_DATABASE_URL":    "postgres://u:db-5ecret@h/db",
		"TASKER_AUTH_JWT_SECRET": "jwt-5ecret",
		"TASKER_TOKEN":           "api-token-5ecret",
		"PGPASSWORD":             "pg-5ecret",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("EXEC_TEST_VISIBLE", "visible")

	env := childEnv(t, map[string]any{})
	for k := range secrets {
		require.NotContains(t, env, k)
	}
	require.Equal(t, "visible", env["EXEC_TEST_VISIBLE"])
	require.NotEmpty(t, env["PATH"])
	require.Equal(t, "41", env["TASKER_TASK_ID"], "the engine's own variables are set")

	// An explicit env entry gives a command what it needs, by name.
	env = childEnv(t, map[string]any{"env": map[string]any{"TASKER_TOKEN": "given"}})
	require.Equal(t, "given", env["TASKER_TOKEN"])
	require.NotContains(t, env, "TASKER_WORKER_TOKEN")

	// inherit_env is an allow-list: only those, plus env and the engine's.
	env = childEnv(t, map[string]any{"inherit_env": []any{"PATH"}, "env": map[string]any{"X": "1"}})
	require.NotContains(t, env, "EXEC_TEST_VISIBLE")
	require.NotEmpty(t, env["PATH"])
	require.Equal(t, "1", env["X"])
	require.Equal(t, "7", env["TASKER_STEP_ID"])
	for k := range secrets {
		require.NotContains(t, env, k)
	}
}

func TestParseInheritEnv(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": "true", "inherit_env": []any{"PATH", "HOME"}})
	require.Equal(t, []string{"PATH", "HOME"}, cfg.InheritEnv)
	cfg = mustConfig(t, map[string]any{"command": "true", "inherit_env": []any{}})
	require.NotNil(t, cfg.InheritEnv)
	require.Empty(t, cfg.InheritEnv)
	_, err := ParseConfig(map[string]any{"command": "true", "inherit_env": "PATH"})
	require.EqualError(t, err, "handler_config.inherit_env must be a list of variable names, such as [PATH, HOME, LANG], not a string")
	_, err = ParseConfig(map[string]any{"command": "true", "inherit_env": []any{"A=B"}})
	require.EqualError(t, err, "handler_config.inherit_env[0] is not a variable name: use letters, digits and underscores, such as PATH")
}
