package main

// End-to-end test of the Python remote worker client: `tasker serve` with a
// worker token, the example workflow examples/remote_billing.yaml, and the
// example worker clients/python/example_worker.py as real processes; one of
// them is killed with SIGKILL mid-step.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const e2eWorkerToken = "e2e-worker-token-0123456789"

// python3 returns the interpreter, skipping the test when there is none
// (unless TASKER_TEST_REQUIRE_PYTHON=1, as in CI).
func python3(t *testing.T) string {
	t.Helper()
	return lookTool(t, "python3", "TASKER_TEST_REQUIRE_PYTHON")
}

// startPythonWorker runs the example worker (with env added to its
// environment: TASKER_TOKEN, which it prefers to the worker token); it is
// killed at the end of the test if still running.
func startPythonWorker(t *testing.T, py, url, id string, env ...string) *exec.Cmd {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "clients", "python", "example_worker.py"))
	require.NoError(t, err)
	cmd := exec.Command(py, "-B", script)
	cmd.Env = append(os.Environ(), "TASKER_URL="+url, "TASKER_WORKER_TOKEN="+e2eWorkerToken,
		"TASKER_WORKER_ID="+id, "TASKER_LEASE_SECONDS=2", "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, env...)
	logFile, err := os.Create(filepath.Join(t.TempDir(), id+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			logs, _ := os.ReadFile(logFile.Name())
			t.Logf("worker %s log:\n%s", id, logs)
		}
	})
	return cmd
}

// startPythonServe begins an end-to-end test with Python workers: it returns
// the interpreter and a `tasker serve` of the examples, on a new SQLite
// database, that accepts the workers' token.
func startPythonServe(t *testing.T) (py string, srv *served) {
	t.Helper()
	bin := e2eBinary(t)
	py = python3(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "py.db")
	return py, startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"),
		"--worker-token", e2eWorkerToken, "--drain-timeout", "5s")
}

// createRemoteBilling creates a task of examples/remote_billing.yaml with
// context ctx through the REST API and returns its id.
func createRemoteBilling(t *testing.T, hc *http.Client, base string, ctx map[string]any) int64 {
	t.Helper()
	var out struct {
		Task struct {
			ID int64 `json:"task_id"`
		} `json:"task"`
	}
	require.Equal(t, http.StatusCreated, httpJSON(t, hc, "POST", base+"/tasker/tasks",
		map[string]any{"name": "remote_billing", "context": ctx}, &out))
	return out.Task.ID
}

type e2eStep struct {
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Attempts   int            `json:"attempts"`
	LeaseOwner string         `json:"lease_owner"`
	Results    map[string]any `json:"results"`
	LastError  *struct {
		Kind string `json:"kind"`
	} `json:"last_error"`
}

// waitTask polls the task until cond holds for it (or fails after 60 s).
func waitTask(t *testing.T, base string, id int64, what string, cond func(status string, steps map[string]e2eStep) bool) map[string]e2eStep {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var body struct {
			Task struct {
				Status string    `json:"status"`
				Steps  []e2eStep `json:"workflow_steps"`
			} `json:"task"`
		}
		require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d", base, id), nil, &body))
		steps := map[string]e2eStep{}
		for _, s := range body.Task.Steps {
			steps[s.Name] = s
		}
		if cond(body.Task.Status, steps) {
			return steps
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d: %s: not reached in 60s (status %s, steps %+v)", id, what, body.Task.Status, steps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestE2EPythonWorker(t *testing.T) {
	py, srv := startPythonServe(t)
	hc := &http.Client{Timeout: 10 * time.Second}

	// A worker runs the remote step of a workflow with exec steps around it.
	a := startPythonWorker(t, py, srv.base, "py-a")
	id := createRemoteBilling(t, hc, srv.base, map[string]any{"order_id": 7, "amount": 42.5})
	steps := waitTask(t, srv.base, id, "complete", func(status string, _ map[string]e2eStep) bool { return status == "complete" })
	require.Equal(t, map[string]any{"charge_id": fmt.Sprintf("ch_%d_7", id), "amount": 42.5, "provider": "demo", "attempt": float64(1)}, steps["charge"].Results)
	require.Equal(t, map[string]any{"receipt": fmt.Sprintf("receipt-for-ch_%d_7", id)}, steps["receipt"].Results)

	// The worker hangs on attempt 1 and is killed mid-step: its lease
	// expires, the step is rescued as worker_lost and another worker runs
	// attempt 2.
	id = createRemoteBilling(t, hc, srv.base, map[string]any{"order_id": 8, "amount": 10, "hang_on_attempt": 1})
	waitTask(t, srv.base, id, "charge claimed by py-a", func(_ string, s map[string]e2eStep) bool {
		return s["charge"].Status == "in_progress" && s["charge"].LeaseOwner == "py-a"
	})
	require.NoError(t, a.Process.Kill())
	_ = a.Wait()
	startPythonWorker(t, py, srv.base, "py-b")
	steps = waitTask(t, srv.base, id, "complete after the rescue", func(status string, _ map[string]e2eStep) bool { return status == "complete" })
	require.Equal(t, 2, steps["charge"].Attempts)
	require.Equal(t, float64(2), steps["charge"].Results["attempt"])

	var st struct {
		Step struct {
			Transitions []struct {
				To       string         `json:"to_state"`
				Metadata map[string]any `json:"metadata"`
			} `json:"transitions"`
		} `json:"step"`
	}
	var taskBody struct {
		Task struct {
			Steps []struct {
				ID   int64  `json:"workflow_step_id"`
				Name string `json:"name"`
			} `json:"workflow_steps"`
		} `json:"task"`
	}
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d", srv.base, id), nil, &taskBody))
	var chargeID int64
	for _, s := range taskBody.Task.Steps {
		if s.Name == "charge" {
			chargeID = s.ID
		}
	}
	require.Equal(t, http.StatusOK, httpJSON(t, hc, "GET", fmt.Sprintf("%s/tasker/tasks/%d/workflow_steps/%d", srv.base, id, chargeID), nil, &st))
	var kinds []string
	for _, tr := range st.Step.Transitions {
		if k, ok := tr.Metadata["error_kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	require.Equal(t, []string{"worker_lost"}, kinds, "attempt 1 was failed as worker_lost")
}
