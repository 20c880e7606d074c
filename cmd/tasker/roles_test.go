package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestParseRoles(t *testing.T) {
	got, err := parseRoles([]string{"ops=tasker.task:*, tasker.handler:index", " viewer =tasker.task:index", "admin=*"})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"ops": {"tasker.task:*", "tasker.handler:index"}, "viewer": {"tasker.task:index"}, "admin": {"*"},
	}, got)
	for value, want := range map[string]string{
		"ops":                       "has no '='",
		"=tasker.task:*":            "the role name must be non-empty",
		"o ps=tasker.task:*":        "the role name must be non-empty, without spaces",
		"ops=":                      `permission "" is empty`,
		"ops=tasker.task:*,":        `permission "" is empty`,
		"ops=tasker task":           `permission "tasker task" has no colon`,
		"ops=tasker.*:index":        "invalid resource",
		"ops=tasker.task:index;x=*": "invalid action",
	} {
		_, err := parseRoles([]string{value})
		require.ErrorContains(t, err, want, value)
		require.ErrorContains(t, err, "--auth-role", value)
	}
	_, err = parseRoles([]string{"ops=tasker.task:index", "ops=tasker.task:show"})
	require.ErrorContains(t, err, `role "ops" is given twice`)
}

// serve validates the role map at start: by flag or by $TASKER_AUTH_ROLES,
// with a message naming the value and the fix; a role map needs a JWT
// configuration.
func TestServeRolesValidatedAtStart(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "roles.db")
	secret := "--auth-jwt-secret=0123456789abcdef0123456789abcdef-roles"
	_, _, err := run(t, "--database", db, "serve", "--addr", "127.0.0.1:0", "--auth-role", "ops=tasker.task:*")
	require.ErrorContains(t, err, "--auth-role (or $TASKER_AUTH_ROLES) maps the roles claim of JWTs or a proxy's groups: it needs --auth-jwt-secret, --auth-jwks-url or --auth-proxy-groups-header")
	_, _, err = run(t, "--database", db, "serve", "--addr", "127.0.0.1:0", secret, "--auth-role", "ops=tasker task")
	require.ErrorContains(t, err, `--auth-role "ops=tasker task": permission "tasker task" has no colon`)
	t.Setenv("TASKER_AUTH_ROLES", "ops=tasker.task:*;viewer")
	_, _, err = run(t, "--database", db, "serve", "--addr", "127.0.0.1:0", secret)
	require.ErrorContains(t, err, `--auth-role "viewer" has no '='`)
	require.ErrorContains(t, err, "TASKER_AUTH_ROLES=")
}

// A real serve maps the roles claim of JWTs to permissions from
// $TASKER_AUTH_ROLES; a flag given on the command line replaces the
// variable.
func TestServeJWTRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	const key = "0123456789abcdef0123456789abcdef-roles"
	sign := func(roles ...string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "roles": roles}).
			SignedString([]byte(key))
		require.NoError(t, err)
		return s
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "roles.db")
	bin := taskerBinary(t)
	t.Setenv("TASKER_AUTH_JWT_SECRET", key)
	t.Setenv("TASKER_AUTH_ROLES", " viewer=tasker.task:index ; ops=tasker.handler:*,tasker.task:index")
	srv := startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"))
	viewer, ops, stranger := sign("viewer"), sign("ops"), sign("other")
	require.Contains(t, mustRun(t, "task", "list", "--server", srv.base, "--token", viewer), "0 tasks")
	_, _, err := run(t, "handlers", "--server", srv.base, "--token", viewer)
	require.ErrorContains(t, err, "HTTP 403 forbidden")
	require.ErrorContains(t, err, "tasker.handler:index")
	mustRun(t, "handlers", "--server", srv.base, "--token", ops)
	_, _, err = run(t, "task", "list", "--server", srv.base, "--token", stranger)
	require.ErrorContains(t, err, "HTTP 403 forbidden", "a role not in the map grants nothing")

	// The flag wins over the variable.
	flagged := startServe(t, bin, "--database", db, "--auth-role", "other=tasker.task:index")
	mustRun(t, "task", "list", "--server", flagged.base, "--token", stranger)
	_, _, err = run(t, "task", "list", "--server", flagged.base, "--token", viewer)
	require.ErrorContains(t, err, "HTTP 403 forbidden")
}
