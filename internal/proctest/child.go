package proctest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Child is a process that a test started with [Start].
type Child struct {
	Cmd *exec.Cmd
	// Lines receives the lines of the process's standard output, and is
	// closed when the output ends. A line that finds the buffer full is
	// dropped (nobody reads any more).
	Lines <-chan string
	// Done is closed when the process has exited (after Lines is closed).
	Done <-chan struct{}
	// Err is the process's exit status (Wait's result), once Done is closed.
	Err error
	// Stderr is the file that holds the process's standard error.
	Stderr string
}

// Start starts cmd with its standard output read line by line into Lines
// (buffered lines at most wait there) and its standard error written to a
// file of the test's temporary directory. A cleanup of t kills the process
// (SIGKILL) if it still runs, and waits for it to exit.
func Start(t testing.TB, cmd *exec.Cmd, buffered int) *Child {
	t.Helper()
	c := &Child{Cmd: cmd, Stderr: filepath.Join(t.TempDir(), filepath.Base(cmd.Path)+".stderr")}
	errFile, err := os.Create(c.Stderr)
	require.NoError(t, err)
	defer func() { _ = errFile.Close() }() // the process has its own descriptor
	cmd.Stderr = errFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines, done := make(chan string, buffered), make(chan struct{})
	c.Lines, c.Done = lines, done
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // past a line too long for the scanner
		close(lines)
		c.Err = cmd.Wait() // after the last read of stdout, as exec.Cmd.StdoutPipe asks
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return c
}

// StderrText returns what the process has written to its standard error.
func (c *Child) StderrText() string {
	b, _ := os.ReadFile(c.Stderr)
	return string(b)
}

// StderrTail returns the last n bytes of StderrText, after "…" when it is
// longer.
func (c *Child) StderrTail(n int) string {
	s := c.StderrText()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
