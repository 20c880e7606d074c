//go:build !unix

package exechandler

import (
	"os"
	"os/exec"
)

// startProcess starts cmd directly, keeping the default cancellation, which
// kills the command itself; process groups and the supervisor are only used
// on Unix.
func startProcess(newCmd func() *exec.Cmd, _ string) (*process, error) {
	cmd := newCmd()
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	return &process{cmd: cmd, program: cmd.Path}, cmd.Start()
}

// wait waits for the command; see the Unix version.
func (p *process) wait() (ended, error, error) {
	waitErr := p.cmd.Wait()
	return endedOf(p.cmd.ProcessState, waitErr), nil, waitErr
}

// exitStatus returns the exit code of a finished command.
func exitStatus(ps *os.ProcessState) (code int, signal string) { return ps.ExitCode(), "" }

// isExecFormatError reports whether err says the file is not an executable
// the system can run; not detected outside Unix.
func isExecFormatError(error) bool { return false }

// isTransientStartError reports whether starting failed for lack of
// resources; not detected outside Unix.
func isTransientStartError(error) bool { return false }
