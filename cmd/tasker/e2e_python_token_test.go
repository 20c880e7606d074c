package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A remote worker authenticates with an API token holding
// tasker.worker:work (no legacy worker token on the server): it runs the
// remote step. A token without that permission is refused with 403 and the
// worker stops at once, saying why.
func TestE2EPythonWorkerWithAPIToken(t *testing.T) {
	bin := e2eBinary(t)
	py := python3(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "pytoken.db")
	token := func(name string, perms ...string) string {
		args := []string{"--database", db, "token", "create", name}
		for _, p := range perms {
			args = append(args, "--permission", p)
		}
		return strings.TrimSpace(mustRun(t, args...))
	}
	worker, admin, reader := token("billing-worker", "tasker.worker:work"), token("admin", "*"), token("reader", "tasker.task:index")
	srv := startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"), "--drain-timeout", "5s")

	startPythonWorker(t, py, srv.base, "py-token", "TASKER_TOKEN="+worker)
	out := mustRun(t, "task", "create", "remote_billing", "--context", `{"order_id": 3, "amount": 5}`, "--wait", "--timeout", "60s",
		"--server", srv.base, "--token", admin, "-o", "json")
	require.Contains(t, out, `"status": "complete"`)
	require.Contains(t, out, `"charge_id": "ch_1_3"`, "the remote step ran on the worker")

	refused := startPythonWorker(t, py, srv.base, "py-refused", "TASKER_TOKEN="+reader)
	exited := make(chan error, 1)
	go func() { exited <- refused.Wait() }()
	select {
	case err := <-exited:
		require.Error(t, err, "the worker exits with a failure")
	case <-time.After(30 * time.Second):
		t.Fatal("a worker whose credential lacks tasker.worker:work did not stop within 30 s")
	}
	log, err := os.ReadFile(refused.Stdout.(*os.File).Name())
	require.NoError(t, err)
	require.Contains(t, string(log), "tasker.worker:work", "the worker says which permission is missing:\n%s", log)
}
