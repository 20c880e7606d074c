//go:build unix

package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// runAs makes cmd run as u (the caller is root).
func runAs(cmd *exec.Cmd, u *osUser) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{},
	}}
}

// processAlive reports whether a process with this PID exists and is not a
// zombie (a killed test process whose parent has not reaped it).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// On Linux, /proc/PID/stat is "PID (COMM) STATE ...".
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			return false
		}
	}
	return true
}

// signalKind is a signal Cluster sends to a server's processes.
type signalKind = syscall.Signal

const (
	sigStop signalKind = syscall.SIGSTOP
	sigCont signalKind = syscall.SIGCONT
)

// signalTree sends sig to the children of pid (found in /proc, on Linux),
// then to pid.
func signalTree(pid int, sig signalKind) error {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "PID (COMM) STATE PPID ..."
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			_ = syscall.Kill(child, sig)
		}
	}
	return syscall.Kill(pid, sig)
}
