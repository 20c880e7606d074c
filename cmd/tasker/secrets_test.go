package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testio"
)

// pgURLWithPassword creates a fresh PostgreSQL database on the server of
// $TASKER_TEST_DATABASE_URL (dropped at the end) and returns its URL with a
// password in it (the test server trusts local connections, so it is not
// checked).
func pgURLWithPassword(t *testing.T, password string) string {
	t.Helper()
	admin := os.Getenv(pgtest.EnvDatabaseURL)
	u, err := url.Parse(admin)
	if admin == "" || err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		if os.Getenv(pgtest.EnvRequire) == "1" {
			t.Fatalf("%s must name a PostgreSQL server with a postgres:// URL", pgtest.EnvDatabaseURL)
		}
		t.Skipf("set %s to a postgres:// URL to run this test", pgtest.EnvDatabaseURL)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	name := fmt.Sprintf("tasker_cli_redact_%d_%d", os.Getpid(), time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = conn.Close(context.Background())
	})
	u.Path = "/" + name
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// tasker migrate and the tasker worker banner print the database URL with
// its password masked (issue 12).
func TestCLIMasksDatabasePassword(t *testing.T) {
	t.Parallel()
	const password = "pw-5ecret-value"
	db := pgURLWithPassword(t, password)

	out, errOut, err := run(t, "--database", db, "migrate")
	require.NoError(t, err, errOut)
	require.Contains(t, out, "is at migration version")
	require.NotContains(t, out+errOut, password)
	require.Contains(t, out, ":xxxxx@")

	var wout, werr testio.Buffer
	root := newRoot(&wout, &werr)
	root.SetArgs([]string{"--database", db, "--log-level", "info", "worker", "--drain-timeout", "1s"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	require.Eventually(t, func() bool { return strings.Contains(wout.String(), "tasker worker running on") }, 30*time.Second, 10*time.Millisecond,
		"stdout: %s\nstderr: %s", wout.String(), werr.String())
	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, wout.String()+werr.String(), password)
	require.Contains(t, wout.String(), ":xxxxx@")
}

// tasker template validate prints a warning, not an error, for a
// handler_config variable this process lacks: the workers may have it.
func TestTemplateValidateWarnsOfUnsetHandlerConfigVariable(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "t.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config:\n      command: [./run.sh]\n      env: {K: \"${TASKER_CLI_TEST_SURELY_UNSET_9B}\"}\n"), 0o600))
	out := mustRun(t, "template", "validate", file)
	require.Contains(t, out, "warning: "+file+":7: template \"t\": step \"a\": environment variable TASKER_CLI_TEST_SURELY_UNSET_9B is not set")
	require.Contains(t, out, "ok  default.t@0.1.0 (1 steps) "+file)
}
