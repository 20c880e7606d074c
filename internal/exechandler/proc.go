package exechandler

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
)

// process is a started command.
type process struct {
	cmd     *exec.Cmd
	program string   // the resolved path of the command, for start errors
	life    *os.File // the worker's end of the life pipe (nil: not supervised)
	// status reads the worker's end of the status pipe, statusFile (nil:
	// not supervised); first is the line read when the command started.
	status     *bufio.Reader
	statusFile *os.File
	first      string
}

// ended is how a command ended.
type ended struct {
	// known is false when nothing says how the command ended (the
	// supervisor was killed before it could report).
	known  bool
	code   int
	signal string
}

func (e ended) success() bool { return e.known && e.code == 0 && e.signal == "" }

// endedOf says how a process ended from its state, when it ended.
func endedOf(ps *os.ProcessState, waitErr error) ended {
	if ps == nil {
		return ended{}
	}
	var e ended
	e.known = true
	e.code, e.signal = exitStatus(ps)
	if e.code == 0 && waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		e.known = false
	}
	return e
}
