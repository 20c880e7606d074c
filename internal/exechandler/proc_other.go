//go:build !unix

package exechandler

import (
	"os"
	"os/exec"
)

// configureProcess keeps the default cancellation, which kills the command
// itself; process groups are only managed on Unix.
func configureProcess(*exec.Cmd) {}

// exitStatus returns the exit code of a finished command.
func exitStatus(ps *os.ProcessState) (code int, signal string) { return ps.ExitCode(), "" }

// isExecFormatError reports whether err says the file is not an executable
// the system can run; not detected outside Unix.
func isExecFormatError(error) bool { return false }

// isTransientStartError reports whether starting failed for lack of
// resources; not detected outside Unix.
func isTransientStartError(error) bool { return false }
