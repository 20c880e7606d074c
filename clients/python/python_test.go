package python

import (
	"os"
	"os/exec"
	"testing"
)

func TestPythonClient(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("TASKER_TEST_REQUIRE_PYTHON") == "1" {
			t.Fatal("python3 is not installed and TASKER_TEST_REQUIRE_PYTHON=1")
		}
		t.Skip("python3 is not installed")
	}
	cmd := exec.CommandContext(t.Context(), py, "-B", "-m", "unittest", "-v", "test_tasker_worker.py")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
