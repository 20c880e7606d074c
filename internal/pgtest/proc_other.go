//go:build !unix

package pgtest

import (
	"errors"
	"os/exec"
)

// runAs is never needed: os.Geteuid reports -1, not root, on these systems.
func runAs(*exec.Cmd, *osUser) {}

// processAlive cannot tell on these systems, so stale clusters are kept.
func processAlive(int) bool { return true }

// signalKind is a signal Cluster sends to a server's processes.
type signalKind int

const (
	sigStop signalKind = iota
	sigCont
)

// signalTree cannot stop processes on these systems.
func signalTree(int, signalKind) error { return errors.ErrUnsupported }
