package main

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

var tokenRe = regexp.MustCompile(`^tkr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$`)

// The token commands through --server with an admin credential: the same
// output as on the database (the token alone on stdout, details on stderr),
// list never shows a secret, a credential cannot mint more than it holds,
// revoke makes the server refuse the token at once.
func TestTokenCommandsThroughServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
	admin := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "admin", "--permission", "*"))
	minter := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "minter", "--permission", "tasker.token:create", "--permission", "tasker.task:*"))
	srv := startServe(t, taskerBinary(t), "--database", db, "--templates", filepath.Join("..", "..", "examples"))

	out, errOut, err := run(t, "token", "create", "ci", "--permission", "tasker.task:index", "--expires", "720h", "--server", srv.base, "--token", admin)
	require.NoError(t, err, errOut)
	require.Regexp(t, tokenRe, out, "the token alone on stdout")
	require.Regexp(t, `^created token ci \(tasker\.task:index; expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); it is shown only this once\n$`, errOut)
	ci := strings.TrimSpace(out)
	require.Contains(t, mustRun(t, "task", "list", "--server", srv.base, "--token", ci), "0 tasks")

	t.Setenv("TASKER_TOKEN", admin)
	list := mustRun(t, "token", "list", "--server", srv.base)
	require.Regexp(t, `(?m)^ci +active +tasker\.task:index +\S+ +\S+$`, list)
	require.Regexp(t, `(?m)^admin +active +\* `, list)
	for _, secret := range []string{admin, minter, ci} {
		require.NotContains(t, list, secret[len(secret)-43:], "no secret in the list")
	}
	require.Equal(t, list, mustRun(t, "--database", db, "token", "list"), "the same list from the database")

	_, _, err = run(t, "token", "list", "--server", srv.base, "--token", "")
	require.ErrorContains(t, err, "HTTP 401 unauthorized")
	_, _, err = run(t, "token", "list", "--server", srv.base, "--token", ci)
	require.ErrorContains(t, err, "HTTP 403 forbidden")
	require.ErrorContains(t, err, "tasker.token:index")

	// No escalation through the CLI either.
	_, _, err = run(t, "token", "create", "root", "--permission", "*", "--server", srv.base, "--token", minter)
	require.ErrorContains(t, err, "HTTP 403 forbidden")
	require.ErrorContains(t, err, "a token may grant only permissions its creator holds")
	out = mustRun(t, "token", "create", "tasks", "--permission", "tasker.task:*", "--server", srv.base, "--token", minter)
	require.Regexp(t, tokenRe, out)

	_, _, err = run(t, "token", "create", "ci", "--permission", "*", "--server", srv.base)
	require.ErrorContains(t, err, "HTTP 409 conflict")
	_, _, err = run(t, "token", "create", "bad", "--permission", "tasker task", "--server", srv.base)
	require.ErrorContains(t, err, "permissions[0]: has no colon")

	_, errOut, err = run(t, "token", "revoke", "ci", "--server", srv.base)
	require.NoError(t, err)
	require.Equal(t, "revoked token ci\n", errOut)
	_, _, err = run(t, "task", "list", "--server", srv.base, "--token", ci)
	require.ErrorContains(t, err, "HTTP 401 unauthorized", "refused at once after revocation")
	_, _, err = run(t, "token", "revoke", "ci", "--server", srv.base)
	require.ErrorContains(t, err, "HTTP 404 not_found")
	require.Regexp(t, `(?m)^ci +revoked `, mustRun(t, "token", "list", "--server", srv.base))
}

// Revocation across processes: two `tasker serve` processes on one
// database accept a token; revoked through one, it is refused by the other
// at the next request (401). On PostgreSQL (the deployment with several
// servers) and on SQLite (two processes on one file).
func TestTokenRevokedAcrossServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			db := "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
			if driver == "postgres" {
				db = postgresURL(t, pgtest.URL(t))
			}
			bin := taskerBinary(t)
			admin := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "admin", "--permission", "*"))
			ci := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "ci", "--permission", "tasker.task:index"))
			a := startServe(t, bin, "--database", db)
			b := startServe(t, bin, "--database", db)
			for _, srv := range []*served{a, b} {
				require.Contains(t, mustRun(t, "task", "list", "--server", srv.base, "--token", ci), "0 tasks")
			}
			// A token created through one server works on the other at once.
			late := strings.TrimSpace(mustRun(t, "token", "create", "late", "--permission", "tasker.task:index", "--server", a.base, "--token", admin))
			mustRun(t, "task", "list", "--server", b.base, "--token", late)

			mustRun(t, "token", "revoke", "ci", "--server", a.base, "--token", admin)
			for _, srv := range []*served{b, a} {
				_, _, err := run(t, "task", "list", "--server", srv.base, "--token", ci)
				require.ErrorContains(t, err, "HTTP 401 unauthorized")
				require.ErrorContains(t, err, `token "ci" is revoked`)
			}
			mustRun(t, "task", "list", "--server", b.base, "--token", late)
		})
	}
}

// Expiry through a real process: a token is accepted until its expiry time
// and refused (401, "expired") from then on, with no revocation.
func TestTokenExpiresOnServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
	srv := startServe(t, taskerBinary(t), "--database", db)
	admin := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "admin", "--permission", "*"))
	const life = 3 * time.Second
	out, errOut, err := run(t, "token", "create", "brief", "--permission", "tasker.task:index", "--expires", life.String(), "--server", srv.base, "--token", admin)
	require.NoError(t, err)
	brief := strings.TrimSpace(out)
	m := regexp.MustCompile(`expires (\S+)\)`).FindStringSubmatch(errOut)
	require.NotNil(t, m, errOut)
	expiresAt, err := time.Parse(time.RFC3339, m[1])
	require.NoError(t, err)
	// The printed time is cut to the second: the token expires in the second
	// after it at the latest.
	expiresAt = expiresAt.Add(time.Second)

	if _, _, err := run(t, "task", "list", "--server", srv.base, "--token", brief); err != nil {
		// Only a machine too slow to ask within the token's life may fail here.
		require.False(t, time.Now().Before(expiresAt.Add(-time.Second)), "refused before its expiry: %v", err)
	}
	time.Sleep(time.Until(expiresAt)) // the server's clock is the wall clock: wait for the expiry to pass
	_, _, err = run(t, "task", "list", "--server", srv.base, "--token", brief)
	require.ErrorContains(t, err, "HTTP 401 unauthorized")
	require.ErrorContains(t, err, `token "brief" expired at`)
	require.Regexp(t, `(?m)^brief +expired `, mustRun(t, "token", "list", "--server", srv.base, "--token", admin))
}

// postgresURL turns a connection string of internal/pgtest into a
// postgres:// URL, the form --database takes (a throwaway cluster's is a
// key=value DSN with a unix socket directory as host).
func postgresURL(t *testing.T, conn string) string {
	t.Helper()
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		return conn
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(conn) {
		k, v, ok := strings.Cut(f, "=")
		require.True(t, ok, "pgtest connection string %q", conn)
		kv[k] = v
	}
	q := url.Values{}
	for k, v := range kv {
		if k != "user" && k != "dbname" {
			q.Set(k, v)
		}
	}
	return (&url.URL{Scheme: "postgres", User: url.User(kv["user"]), Host: "", Path: "/" + kv["dbname"], RawQuery: q.Encode()}).String()
}
