//go:build linux

package exechandler

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/proctest"
)

// TestHelperWorker is not a test: TestRunWorkerKilled runs the test binary
// with it as a stand-in worker that runs the command in
// $TASKER_TEST_HELPER_COMMAND until killed.
func TestHelperWorker(t *testing.T) {
	command := os.Getenv("TASKER_TEST_HELPER_COMMAND")
	if command == "" {
		t.Skip("helper process for TestRunWorkerKilled")
	}
	_, err := Run(context.Background(), &Config{Shell: command}, nil)
	t.Fatalf("Run returned: %v", err)
}

func TestRunWorkerKilledTakesTheProcessGroup(t *testing.T) {
	t.Parallel()
	marker := strconv.Itoa(3_000_000 + rand.IntN(1_000_000))
	worker := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$", "-test.count=1")
	worker.Env = append(os.Environ(), "TASKER_TEST_HELPER_COMMAND=sh -c 'sleep "+marker+" & sleep "+marker+"'")
	var logs bytes.Buffer
	worker.Stdout, worker.Stderr = &logs, &logs
	require.NoError(t, worker.Start())
	t.Cleanup(func() {
		_ = worker.Process.Kill()
		_ = worker.Wait()
		proctest.Kill(proctest.WithArg(t, marker))
	})
	require.True(t, proctest.Eventually(30*time.Second, func() bool { return len(proctest.WithArg(t, marker)) >= 2 }),
		"the command's sleeps did not start: %s", &logs)

	require.NoError(t, worker.Process.Kill())
	_ = worker.Wait()
	require.True(t, proctest.Eventually(10*time.Second, func() bool { return len(proctest.WithArg(t, marker)) == 0 }),
		"processes survived their worker's SIGKILL: %v", proctest.WithArg(t, marker))
}

func TestRunSupervisorIsInvisibleToTheCommand(t *testing.T) {
	t.Parallel()
	// The command sees neither the supervisor's variable nor its arguments,
	// and reads its stdin.
	out, err := Run(t.Context(), &Config{Program: "sh", Args: []string{"-c",
		`printf '%s|%s|%s' "${TASKER_EXEC_SUPERVISOR-unset}" "$0" "$(head -c 10)"`, "zero"}}, testInput())
	require.NoError(t, err)
	require.JSONEq(t, `{"stdout": "unset|zero|{\"task_id\""}`, string(out))
}

func TestRunExitStatusThroughTheSupervisor(t *testing.T) {
	t.Parallel()
	for cmd, want := range map[string]string{
		"exit 3":        "code 3 signal",
		"kill -TERM $$": "code 143 signal terminated",
	} {
		_, err := Run(t.Context(), &Config{Shell: cmd}, nil)
		var ee *ExitError
		require.ErrorAs(t, err, &ee, cmd)
		require.Equal(t, want, strings.TrimSpace(fmt.Sprintf("code %d signal %s", ee.Code, ee.Signal)), cmd)
	}
}

func TestRunWithoutAWorkingSupervisor(t *testing.T) {
	t.Parallel()
	// A supervisor that exits before starting the command (here /bin/true;
	// in life, a program whose init function exits first) is not used
	// again: the command starts directly and still runs.
	for range 2 {
		cfg := &Config{Shell: `echo '{"ok": true}'`, supervisor: "/bin/true"}
		out, err := Run(t.Context(), cfg, nil)
		require.NoError(t, err)
		require.JSONEq(t, `{"ok": true}`, string(out))
		_, broken := brokenSupervisors.Load("/bin/true")
		require.True(t, broken)
	}
}

func TestRunTimeoutWhileTheSupervisorStartsKeepsIt(t *testing.T) {
	t.Parallel()
	// A supervisor killed by the step's timeout before it reports (a slow
	// start on a loaded machine) is not broken: later commands still run
	// under it. Marking it broken made every later command of the process
	// start unsupervised.
	slow := filepath.Join(t.TempDir(), "slow-supervisor")
	require.NoError(t, os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	cfg := &Config{Shell: "true", supervisor: slow, Timeout: 200 * time.Millisecond}
	_, err := Run(t.Context(), cfg, nil)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	_, broken := brokenSupervisors.Load(slow)
	require.False(t, broken)
}

func TestSupervisorRefusesToRunOutsideRun(t *testing.T) {
	t.Parallel()
	// Started by hand (no pipes, not leading its process group), the
	// supervisor neither runs the command nor kills anyone's group.
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := exec.Command(os.Args[0])
	cmd.Args = []string{supervisorArg0, "/bin/sh", "sh", "-c", `touch "$0"`, marker}
	cmd.Env = append(os.Environ(), supervisorEnv+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 125, ee.ExitCode())
	require.Contains(t, string(out), "must be started by the exec handler")
	_, statErr := os.Stat(marker)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}
