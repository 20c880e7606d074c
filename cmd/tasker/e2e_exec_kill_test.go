//go:build linux

package main

// End-to-end test of issue 12 item 7: a `tasker worker` process killed with
// SIGKILL while it runs an exec step takes the step's processes with it,
// grandchildren included. Linux only: it reads /proc.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/proctest"
)

func TestE2EKilledWorkerTakesExecProcessesWithIt(t *testing.T) {
	bin := e2eBinary(t)
	dir := t.TempDir()
	// A duration no other process uses marks the step's processes: both
	// sleeps (the backgrounded grandchild and the foreground one) have it
	// as their argument.
	marker := strconv.Itoa(3_000_000 + rand.IntN(1_000_000))
	tmpl := fmt.Sprintf(`name: orphan_check
namespace_name: default
version: 1.0.0
step_templates:
  - name: hold
    handler: exec
    handler_config:
      command: "sh -c 'sleep %[1]s & sleep %[1]s'"
      timeout: 1h
`, marker)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orphan.yaml"), []byte(tmpl), 0o600))
	db := "sqlite://" + filepath.Join(dir, "orphan.db")
	env := append(os.Environ(), "TASKER_DATABASE_URL=", "TASKER_TEMPLATES=", "TASKER_SERVER=")

	create := exec.Command(bin, "task", "create", "orphan_check", "--database", db, "--templates", dir)
	create.Env = env
	out, err := create.CombinedOutput()
	require.NoError(t, err, "%s", out)

	worker := exec.Command(bin, "worker", "--database", db, "--templates", dir)
	worker.Env = env
	var logs bytes.Buffer
	worker.Stdout, worker.Stderr = &logs, &logs
	require.NoError(t, worker.Start())
	exited := make(chan struct{})
	go func() {
		_ = worker.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = worker.Process.Kill()
		<-exited
		proctest.Kill(proctest.WithArg(t, marker)) // never leave them behind, even on failure
	})

	require.True(t, proctest.Eventually(30*time.Second, func() bool { return len(proctest.WithArg(t, marker)) >= 2 }),
		"the exec step's two sleeps did not start within 30s; worker output:\n%s", &logs)

	require.NoError(t, worker.Process.Kill())
	<-exited
	gone := proctest.Eventually(10*time.Second, func() bool { return len(proctest.WithArg(t, marker)) == 0 })
	require.True(t, gone, "processes of the exec step survived the worker's SIGKILL: %v", proctest.WithArg(t, marker))
}
