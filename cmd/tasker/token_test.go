package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The token commands on a database, and a real `tasker serve` that requires
// the token once it exists: --token and $TASKER_TOKEN are sent by --server
// mode, a missing credential is a clear error, a revocation is refused at
// once.
func TestTokenCommandsAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
	out, errOut, err := run(t, "--database", db, "token", "create", "ci", "--permission", "tasker.task:*", "--permission", "tasker.handler:index")
	require.NoError(t, err, errOut)
	require.Regexp(t, `^tkr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$`, out, "the token alone on stdout")
	token := strings.TrimSpace(out)
	require.Contains(t, errOut, "created token ci (tasker.task:*, tasker.handler:index; never expires)")

	_, errOut, err = run(t, "--database", db, "token", "create", "bad", "--permission", "tasker task")
	require.ErrorContains(t, err, "permissions[0]: has no colon", errOut)
	_, _, err = run(t, "--database", db, "token", "create", "ci", "--permission", "*")
	require.Error(t, err, "a live token's name is taken")

	list := mustRun(t, "--database", db, "token", "list")
	require.Regexp(t, `(?m)^ci +active +tasker\.task:\*,tasker\.handler:index `, list)
	require.NotContains(t, list, token[len(token)-20:], "no secret in the list")

	srv := startServe(t, taskerBinary(t), "--database", db, "--templates", filepath.Join("..", "..", "examples"))
	_, _, err = run(t, "task", "list", "--server", srv.base)
	require.ErrorContains(t, err, "HTTP 401 unauthorized")
	require.ErrorContains(t, err, "--token or $TASKER_TOKEN")
	out = mustRun(t, "task", "list", "--server", srv.base, "--token", token)
	require.Contains(t, out, "0 tasks")
	t.Setenv("TASKER_TOKEN", token)
	mustRun(t, "handlers", "--server", srv.base)
	_, _, err = run(t, "handlers", "--server", srv.base, "--token", "tkr_0123456789abcdef_"+strings.Repeat("A", 43))
	require.ErrorContains(t, err, "HTTP 401 unauthorized")

	// The token's name is the actor of what it does.
	created := mustRun(t, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--server", srv.base, "-o", "json")
	require.Contains(t, created, `"initiator": "ci"`, "the token's name is the initiator when --initiator is not given")
	mustRun(t, "task", "cancel", "1", "--reason", "not needed", "--server", srv.base)
	trail := mustRun(t, "task", "get", "1", "--transitions", "--server", srv.base)
	require.Regexp(t, `(?m) +(pending|in_progress) +cancelled +cancelled +ci +not needed$`, trail)
	require.Equal(t, trail, mustRun(t, "--database", db, "task", "get", "1", "--transitions"), "the same trail from the database")

	_, errOut, err = run(t, "--database", db, "token", "revoke", "ci")
	require.NoError(t, err)
	require.Contains(t, errOut, "revoked token ci")
	_, _, err = run(t, "task", "list", "--server", srv.base)
	require.ErrorContains(t, err, "HTTP 401 unauthorized", "refused at once after revocation")
	require.Regexp(t, regexp.MustCompile(`(?m)^ci +revoked `), mustRun(t, "--database", db, "token", "list"))
}

// Without a credential configured, serve refuses a non-loopback address
// unless told --insecure-no-auth; loopback names are recognised.
func TestServeRefusesOpenNonLoopback(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "open.db")
	_, _, err := run(t, "--database", db, "serve", "--addr", "0.0.0.0:0")
	require.ErrorContains(t, err, "--addr 0.0.0.0:0 is not a loopback address and no credential is configured")
	require.ErrorContains(t, err, "--insecure-no-auth")
	_, _, err = run(t, "--database", db, "serve", "--addr", "127.0.0.1:0", "--auth-issuer", "x")
	require.ErrorContains(t, err, "--auth-issuer and --auth-audience need --auth-jwt-secret or --auth-jwks-url")
	_, _, err = run(t, "--database", db, "serve", "--auth-jwt-secret", "short")
	require.ErrorContains(t, err, "JWT configuration")
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true, "0.0.0.0:80": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false} {
		require.Equal(t, want, isLoopbackAddr(addr), addr)
	}
}
