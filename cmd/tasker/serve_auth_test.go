package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// get answers a GET of base+path with an optional bearer token, through
// 127.0.0.1 whatever address the server listens on.
func get(t *testing.T, base, path, token string) int {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:"+u.Port()+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	return res.StatusCode
}

// serve --insecure-no-auth listens on every interface without a credential
// configured, and says loudly that anyone can do anything.
func TestServeInsecureNoAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "open.db")
	srv := startServe(t, taskerBinary(t), "--database", db, "--addr", "0.0.0.0:0", "--insecure-no-auth")
	require.Equal(t, http.StatusOK, get(t, srv.base, "/tasker/tasks", ""))
	require.Contains(t, srv.StderrText(), "tasker serve: authentication is off: no API token exists and no JWT configuration is given")
}

// --auth-public (and $TASKER_AUTH_PUBLIC) serves the listed read-only
// operations without a credential while authentication is on; any other
// operation is refused at start with the list of the ones that may be.
func TestServeAuthPublic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "public.db")
	token := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "reader", "--permission", "tasker.task:index"))

	srv := startServe(t, taskerBinary(t), "--database", db, "--auth-public", "tasker.metrics:index,tasker.health_status:index")
	require.Equal(t, http.StatusOK, get(t, srv.base, "/tasker/metrics", ""))
	require.Equal(t, http.StatusOK, get(t, srv.base, "/tasker/health/status", ""))
	require.Equal(t, http.StatusUnauthorized, get(t, srv.base, "/tasker/analytics/performance", ""))
	require.Equal(t, http.StatusUnauthorized, get(t, srv.base, "/tasker/tasks", ""))
	require.Equal(t, http.StatusOK, get(t, srv.base, "/tasker/tasks", token))
	// A credential far over the limit is a JSON 431, not Go's plain-text one.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.base+"/tasker/tasks", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 200<<10))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	require.Contains(t, string(body), `"code":"header_too_large"`)

	srv = startServeEnv(t, taskerBinary(t), []string{"TASKER_AUTH_PUBLIC=tasker.analytics:index"}, "--database", db)
	require.Equal(t, http.StatusOK, get(t, srv.base, "/tasker/analytics/performance", ""))
	require.Equal(t, http.StatusUnauthorized, get(t, srv.base, "/tasker/metrics", ""))

	_, _, err = run(t, "--database", db, "serve", "--auth-public", "tasker.task:index")
	require.ErrorContains(t, err, `--auth-public (or $TASKER_AUTH_PUBLIC): "tasker.task:index" cannot be public: only tasker.health_status:index, tasker.metrics:index, tasker.analytics:index, tasker.openapi:show can`)
}

// --auth-proxy-* (and their environment variables) sign in the user a
// trusted proxy names: authentication is on, so serve may listen on every
// interface; the header from elsewhere, or its absence, is refused; the
// flags go together, each misuse named.
func TestServeAuthProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs `tasker serve`: skipped in -short mode")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "proxy.db")
	as := func(base, user string) int {
		t.Helper()
		u, err := url.Parse(base)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:"+u.Port()+"/tasker/tasks", nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-User", user)
		req.Header.Set("X-Forwarded-Groups", "ops")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return res.StatusCode
	}
	srv := startServeEnv(t, taskerBinary(t), []string{"TASKER_AUTH_PROXY_TRUSTED=127.0.0.1,::1", "TASKER_AUTH_ROLES=ops=tasker.task:index"},
		"--database", db, "--addr", "0.0.0.0:0", "--auth-proxy-header", "X-Forwarded-User", "--auth-proxy-groups-header", "X-Forwarded-Groups")
	require.Equal(t, http.StatusOK, as(srv.base, "ada"), "the group ops grants tasker.task:index")
	require.Equal(t, http.StatusUnauthorized, get(t, srv.base, "/tasker/tasks", ""), "no header, no credential")

	srv = startServe(t, taskerBinary(t), "--database", db, "--auth-proxy-header", "X-Forwarded-User", "--auth-proxy-trusted", "10.9.0.0/16",
		"--auth-proxy-permissions", "tasker.task:index")
	require.Equal(t, http.StatusUnauthorized, as(srv.base, "ada"), "the header from an untrusted address")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth-proxy-header", "X-Forwarded-User"}, "--auth-proxy-header needs --auth-proxy-trusted"},
		{[]string{"--auth-proxy-trusted", "10.0.0.1"}, "need --auth-proxy-header"},
		{[]string{"--auth-proxy-header", "X-User", "--auth-proxy-trusted", "proxy.local"}, `--auth-proxy-trusted (or $TASKER_AUTH_PROXY_TRUSTED): "proxy.local" is neither an address nor a CIDR prefix`},
		{[]string{"--auth-proxy-header", "Authorization", "--auth-proxy-trusted", "10.0.0.1"}, "carries credentials"},
		{[]string{"--auth-proxy-header", "X-User", "--auth-proxy-trusted", "10.0.0.1", "--auth-proxy-permissions", "tasker.task"}, "TrustedProxyConfig.Permissions"},
		{[]string{"--auth-role", "ops=tasker.task:index"}, "it needs --auth-jwt-secret, --auth-jwks-url or --auth-proxy-groups-header"},
	} {
		_, _, err := run(t, append([]string{"--database", db, "serve"}, tc.args...)...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}
