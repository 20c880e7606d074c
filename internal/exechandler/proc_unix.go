//go:build unix

package exechandler

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// configureProcess starts the command in a process group of its own and
// makes cancellation kill that whole group, so that children and
// grandchildren of the command (such as `sleep 30 &` in a script) die with
// it instead of keeping its pipes open.
func configureProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}

// exitStatus returns the exit code of a finished command; for a command
// killed by a signal, 128 plus the signal number and the signal's name.
func exitStatus(ps *os.ProcessState) (code int, signal string) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return waitStatus(ws)
	}
	return ps.ExitCode(), ""
}

// isExecFormatError reports whether err says the file is not an executable
// the system can run, such as a script without a #! line.
func isExecFormatError(err error) bool { return errors.Is(err, syscall.ENOEXEC) }

// isTransientStartError reports whether starting failed for lack of
// resources, which a later retry may not lack.
func isTransientStartError(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ETXTBSY)
}
