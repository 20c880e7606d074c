//go:build unix

package exechandler

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The supervisor is this same executable started again with argv[0]
// supervisorArg0 and supervisorEnv=1 in its environment; the init function
// below turns such a process into the supervisor before main runs. It sits
// between the worker and the command:
//
//	worker ── supervisor (leader of a new process group) ── command ── its children
//
// It starts the command in the process group it leads, reports on fd 4
// whether the command started and how it ended, and kills the whole group
// (itself included) when
//   - the command exits (what it left running in the background dies with it),
//   - fd 3 reads end of file: the worker holds the only write end of that
//     pipe, so this happens when the worker exits for whatever reason,
//     SIGKILL included,
//   - it receives SIGTERM, SIGINT or SIGHUP (unless the worker ignores it).
//
// The worker kills the same group on timeout and cancellation.
const (
	supervisorArg0 = "tasker-exec-supervisor"
	supervisorEnv  = "TASKER_EXEC_SUPERVISOR"
	lifeFD         = 3 // read end of the pipe whose write end only the worker holds
	statusFD       = 4 // where the supervisor reports how the command ended
)

func init() {
	if len(os.Args) < 3 || os.Args[0] != supervisorArg0 || os.Getenv(supervisorEnv) != "1" {
		return
	}
	os.Exit(supervise(os.Args[1], os.Args[2:]))
}

// supervise runs the program at path with argv and never returns normally
// once the program has started: it kills its own process group.
func supervise(path string, argv []string) int {
	var st syscall.Stat_t
	if syscall.Fstat(lifeFD, &st) != nil || syscall.Fstat(statusFD, &st) != nil || syscall.Getpgrp() != os.Getpid() {
		// Not started by Run: never kill a process group it does not lead.
		fmt.Fprintln(os.Stderr, "tasker: the exec supervisor must be started by the exec handler")
		return 125
	}
	syscall.CloseOnExec(lifeFD)
	syscall.CloseOnExec(statusFD)
	life := os.NewFile(lifeFD, "tasker-exec-life")
	status := os.NewFile(statusFD, "tasker-exec-status")
	killGroup := func() { _ = syscall.Kill(0, syscall.SIGKILL) }

	sigs := make(chan os.Signal, 1)
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		// A signal the worker ignores (SIGHUP under nohup) stays ignored,
		// for the command too.
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	go func() {
		<-sigs
		killGroup()
	}()
	go func() {
		_, _ = io.Copy(io.Discard, life) // returns when the worker is gone
		killGroup()
	}()

	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, supervisorEnv+"=") {
			env = append(env, kv)
		}
	}
	p, err := os.StartProcess(path, argv, &os.ProcAttr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			errno = syscall.EINVAL
		}
		fmt.Fprintf(status, "start %d\n", int(errno))
		return 127
	}
	fmt.Fprintf(status, "started %d\n", p.Pid)
	_ = os.Stdin.Close()
	ps, err := p.Wait()
	if err != nil {
		killGroup()
		return 125
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	fmt.Fprintf(status, "exit %d\n", uint32(ws))
	killGroup() // kills this process too
	return 0
}

var (
	supervisorOnce sync.Once
	supervisorPath string
)

// supervisorExecutable returns the path that starts this executable again,
// or "" when there is none (the command is then started directly: it is
// killed with its group on timeout and cancellation, not on worker death).
func supervisorExecutable() string {
	supervisorOnce.Do(func() {
		if runtime.GOOS == "linux" {
			// The running binary itself, even if its file was replaced.
			if _, err := os.Stat("/proc/self/exe"); err == nil {
				supervisorPath = "/proc/self/exe"
			}
			return
		}
		if p, err := os.Executable(); err == nil {
			supervisorPath = p
		}
	})
	return supervisorPath
}

// brokenSupervisors holds the supervisor executables that exited before
// starting their command (an init function of the program that exits or
// fails first): commands then start directly.
var brokenSupervisors sync.Map

// startProcess starts the command newCmd makes (with exec.CommandContext,
// its I/O set) under a supervisor when this executable can be started again
// (supervisor, when not empty, overrides which executable), directly
// otherwise. Either way the command leads, or is in, a process group of its
// own that cancellation of its context kills as a whole.
func startProcess(newCmd func() *exec.Cmd, supervisor string) (*process, error) {
	cmd := newCmd()
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	exe := cmp.Or(supervisor, supervisorExecutable())
	if _, broken := brokenSupervisors.Load(exe); exe == "" || broken {
		configureProcess(cmd)
		return &process{cmd: cmd, program: cmd.Path}, cmd.Start()
	}
	p, err := startSupervised(cmd, exe)
	if errors.Is(err, errSupervisorFailed) {
		brokenSupervisors.Store(exe, true)
		cmd = newCmd()
		configureProcess(cmd)
		return &process{cmd: cmd, program: cmd.Path}, cmd.Start()
	}
	return p, err
}

var errSupervisorFailed = errors.New("the exec supervisor exited before starting the command")

var errSupervisorKilled = errors.New("the exec supervisor was killed before starting the command")

func startSupervised(cmd *exec.Cmd, exe string) (*process, error) {
	configureProcess(cmd)
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		_ = lifeR.Close()
		_ = lifeW.Close()
		return nil, err
	}
	p := &process{cmd: cmd, program: cmd.Path, life: lifeW, status: bufio.NewReader(io.LimitReader(statusR, 256)), statusFile: statusR}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], supervisorEnv+"=1")
	cmd.Args = append([]string{supervisorArg0, cmd.Path}, cmd.Args...)
	cmd.Path = exe
	cmd.ExtraFiles = []*os.File{lifeR, statusW}
	err = cmd.Start()
	_ = lifeR.Close()
	_ = statusW.Close()
	if err != nil {
		_ = lifeW.Close()
		_ = statusR.Close()
		return nil, err
	}
	// The supervisor's first line says whether the command started.
	if line, _ := p.status.ReadString('\n'); strings.HasPrefix(line, "started") || strings.HasPrefix(line, "start ") {
		p.first = line
		return p, nil
	}
	_ = cmd.Wait()
	_ = lifeW.Close()
	_ = statusR.Close()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// Killed before it could report (the step's timeout or
		// cancellation kills the group): the supervisor is not broken.
		return nil, errSupervisorKilled
	}
	return nil, errSupervisorFailed
}

// wait waits for the command. It returns how the command ended, as far as
// known, an error that says it could not be started (*fs.PathError), and
// the error of exec.Cmd.Wait.
func (p *process) wait() (ended, error, error) {
	waitErr := p.cmd.Wait()
	// Whatever is left of the group dies with the command: normally the
	// supervisor has killed it already, but it may have been killed itself
	// before it could (or there is no supervisor).
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if p.status == nil {
		return endedOf(p.cmd.ProcessState, waitErr), nil, waitErr
	}
	_ = p.life.Close()
	line := p.first
	if !strings.HasPrefix(line, "start ") { // "started": then "exit <wait status>"
		line, _ = p.status.ReadString('\n')
	}
	_ = p.statusFile.Close()
	kind, num, _ := strings.Cut(strings.TrimSpace(line), " ")
	n, convErr := strconv.ParseUint(num, 10, 32)
	switch {
	case convErr == nil && kind == "start":
		return ended{}, &fs.PathError{Op: "fork/exec", Path: p.program, Err: syscall.Errno(n)}, waitErr
	case convErr == nil && kind == "exit":
		code, signal := waitStatus(syscall.WaitStatus(n))
		return ended{known: true, code: code, signal: signal}, nil, waitErr
	default:
		// The supervisor died before reporting: killed on timeout or
		// cancellation, or from outside. Its own end stands for the command's.
		return endedOf(p.cmd.ProcessState, waitErr), nil, waitErr
	}
}

// waitStatus returns the exit code of a finished command; for a command
// killed by a signal, 128 plus the signal number and the signal's name.
func waitStatus(ws syscall.WaitStatus) (code int, signal string) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal().String()
	}
	return ws.ExitStatus(), ""
}
