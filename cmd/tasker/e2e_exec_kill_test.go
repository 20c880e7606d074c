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
)

// processesWith returns the pids of the live processes whose command line
// holds arg as one argument. Zombies (already dead, not yet reaped) have an
// empty command line and are not returned.
func processesWith(t *testing.T, arg string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		for a := range bytes.SplitSeq(cmdline, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// pollUntil calls cond every 20 ms until it holds or within has passed.
func pollUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestE2EKilledWorkerTakesExecProcessesWithIt(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test of the tasker binary: skipped in -short mode")
	}
	t.Parallel()
	bin := taskerBinary(t)
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
		for _, pid := range processesWith(t, marker) { // never leave them behind, even on failure
			_ = syscallKill(pid)
		}
	})

	require.True(t, pollUntil(30*time.Second, func() bool { return len(processesWith(t, marker)) >= 2 }),
		"the exec step's two sleeps did not start within 30s; worker output:\n%s", &logs)

	require.NoError(t, worker.Process.Kill())
	<-exited
	gone := pollUntil(10*time.Second, func() bool { return len(processesWith(t, marker)) == 0 })
	require.True(t, gone, "processes of the exec step survived the worker's SIGKILL: %v", processesWith(t, marker))
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
