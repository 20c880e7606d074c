package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testio"
)

// background is a CLI command line run in-process in the background, as a
// long-running command (worker, serve) runs until its signal.
type background struct {
	out, errOut testio.Buffer
	stop        context.CancelFunc // the signal: the command's context is cancelled
	done        chan error         // receives the command's result
}

// startBackground runs the CLI with args in a goroutine.
func startBackground(t *testing.T, args ...string) *background {
	t.Helper()
	b := &background{done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	b.stop = cancel
	root := newRoot(&b.out, &b.errOut)
	root.SetArgs(args)
	go func() { b.done <- root.ExecuteContext(ctx) }()
	return b
}

// waitForText waits until the output o of the command contains text,
// failing the test if the command exits first.
func (b *background) waitForText(t *testing.T, what string, o *testio.Buffer, text string) {
	t.Helper()
	for !strings.Contains(o.String(), text) {
		select {
		case err := <-b.done:
			t.Fatalf("the command exited while waiting for %s: %v\nstdout:\n%s\nstderr:\n%s", what, err, b.out.String(), b.errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stopOK stops the command (its signal) and requires that it exits
// without an error.
func (b *background) stopOK(t *testing.T) {
	t.Helper()
	b.stop()
	require.NoError(t, <-b.done)
}

// fastStartWaits shortens the waits between the attempts to reach the
// database for the test (restored after it), and the time one attempt may
// take when attempt is not 0.
func fastStartWaits(t *testing.T, attempt time.Duration) {
	first, most, was := startWaitFirst, startWaitMax, startAttemptTimeout
	startWaitFirst, startWaitMax = 20*time.Millisecond, 100*time.Millisecond
	if attempt != 0 {
		startAttemptTimeout = attempt
	}
	t.Cleanup(func() { startWaitFirst, startWaitMax, startAttemptTimeout = first, most, was })
}

// TestWorkerWaitsForTheDatabase: a worker started while PostgreSQL is down
// waits, logging why, and runs once the database is up (issue 12: it
// exited).
func TestWorkerWaitsForTheDatabase(t *testing.T) {
	fastStartWaits(t, 0)

	cl := pgtest.NewCluster(t)
	cl.Stop(t)
	db := "postgres://postgres@/postgres?sslmode=disable&host=" + cl.Dir()
	w := startBackground(t, "--database", db, "worker", "--drain-timeout", "5s")
	w.waitForText(t, "its third attempt", &w.errOut, "attempt=3")
	log := w.errOut.String()
	require.Contains(t, log, "the database is unavailable; waiting for it")
	require.Contains(t, log, "retry_in=")
	require.Contains(t, log, "error=", "the log says why")
	require.NotContains(t, w.out.String(), "tasker worker running")

	cl.Start(t)
	w.waitForText(t, "the database", &w.out, "tasker worker running")
	w.stopOK(t)
}

// A database that accepts connections but never answers (a frozen server)
// is waited for like one that is down: each attempt gives up after
// startAttemptTimeout and says so, instead of hanging silently; serve
// starts once the server answers again.
func TestServeWaitsForAFrozenDatabase(t *testing.T) {
	fastStartWaits(t, 300*time.Millisecond)

	cl := pgtest.NewCluster(t)
	db := "postgres://postgres@/postgres?sslmode=disable&host=" + cl.Dir()
	cl.Freeze(t)
	b := startBackground(t, "--database", db, "serve", "--addr", "127.0.0.1:0", "--drain-timeout", "5s")
	b.waitForText(t, "the third attempt", &b.errOut, "attempt=3")
	require.Contains(t, b.errOut.String(), "no answer within 300ms", "the log says why")
	require.NotContains(t, b.out.String(), "tasker serve listening")

	cl.Thaw(t)
	b.waitForText(t, "the listening line", &b.out, "tasker serve listening")
	b.stopOK(t)
}

// TestWorkerStoppedWhileWaiting: SIGINT while waiting for the database
// ends the worker, saying what it waited for.
func TestWorkerStoppedWhileWaiting(t *testing.T) {
	cl := pgtest.NewCluster(t)
	cl.Stop(t)
	w := startBackground(t, "--database", "postgres://postgres:secret@/postgres?sslmode=disable&host="+cl.Dir(), "worker")
	w.waitForText(t, "the database", &w.errOut, "waiting for it")
	w.stop()
	err := <-w.done
	require.ErrorContains(t, err, "stopped while waiting for the database")
	require.NotContains(t, err.Error()+w.errOut.String(), "secret", "the password is masked")
}

// TestE2EServeBrowsers: the serve flags of issue 12 through their
// environment variables: Host allow-list, CORS origins, the JSON
// Content-Type and the cross-origin refusal.
func TestE2EServeBrowsers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test of the tasker binary: skipped in -short mode")
	}
	t.Setenv("TASKER_ALLOWED_HOSTS", "tasker.test,*.corp.test")
	t.Setenv("TASKER_CORS_ORIGINS", "https://console.test")
	t.Setenv("TASKER_REQUEST_TIMEOUT", "7s")
	bin := taskerBinary(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "e2e.db")
	srv := startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"))
	hc := &http.Client{Timeout: 10 * time.Second}
	// answer is what the test reads of an answer (its body closed).
	type answer struct {
		StatusCode int
		Header     http.Header
	}
	send := func(method, path, body string, headers ...string) answer {
		t.Helper()
		req, err := http.NewRequest(method, srv.base+path, strings.NewReader(body))
		require.NoError(t, err)
		for i := 0; i+1 < len(headers); i += 2 {
			if headers[i] == "Host" {
				req.Host = headers[i+1]
			} else {
				req.Header.Set(headers[i], headers[i+1])
			}
		}
		res, err := hc.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return answer{res.StatusCode, res.Header}
	}
	require.Equal(t, http.StatusMisdirectedRequest, send("GET", "/tasker/tasks", "", "Host", "evil.example").StatusCode)
	require.Equal(t, http.StatusOK, send("GET", "/tasker/tasks", "", "Host", "tasker.test:8080").StatusCode)
	require.Equal(t, http.StatusOK, send("GET", "/tasker/tasks", "", "Host", "a.corp.test").StatusCode)
	require.Equal(t, http.StatusOK, send("GET", "/tasker/tasks", "", "Host", "localhost").StatusCode)

	res := send("OPTIONS", "/tasker/tasks", "", "Origin", "https://console.test", "Access-Control-Request-Method", "POST")
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, "https://console.test", res.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, http.StatusForbidden, send("OPTIONS", "/tasker/tasks", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST").StatusCode)

	require.Equal(t, http.StatusForbidden, send("POST", "/tasker/tasks/1/retry", "", "Content-Type", "application/x-www-form-urlencoded",
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").StatusCode)
	require.Equal(t, http.StatusUnsupportedMediaType, send("POST", "/tasker/tasks/1/retry", "").StatusCode)
	require.Equal(t, http.StatusNotFound, send("POST", "/tasker/tasks/1/retry", "", "Content-Type", "application/json").StatusCode)
}

// TestServeRefusesABadCORSOrigin: a CORS origin must be scheme://host[:port].
func TestServeRefusesABadCORSOrigin(t *testing.T) {
	_, _, err := run(t, "--database", tempDB(t), "serve", "--cors-origins", "console.example.com")
	require.ErrorContains(t, err, "--cors-origins")
	_, _, err = run(t, "--database", tempDB(t), "serve", "--request-timeout", "0s")
	require.ErrorContains(t, err, "--request-timeout")
}
