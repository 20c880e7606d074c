package proctest_test

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/proctest"
)

// Start delivers the child's output lines, closes Lines at the end of the
// output, then Done with the exit status in Err, and keeps its stderr.
func TestStartLinesExitAndStderr(t *testing.T) {
	t.Parallel()
	c := proctest.Start(t, exec.Command("sh", "-c", "echo one; echo two; echo oops >&2; exit 3"), 8)
	var got []string
	for l := range c.Lines {
		got = append(got, l)
	}
	<-c.Done
	require.Equal(t, []string{"one", "two"}, got)
	var ee *exec.ExitError
	require.True(t, errors.As(c.Err, &ee), "%v", c.Err)
	require.Equal(t, 3, ee.ExitCode())
	require.Equal(t, "oops\n", c.StderrText())
	require.Equal(t, "oops\n", c.StderrTail(5))
	require.Equal(t, "…s\n", c.StderrTail(2))
}
