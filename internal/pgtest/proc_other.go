//go:build !unix

package pgtest

import "os/exec"

// runAs is never needed: os.Geteuid reports -1, not root, on these systems.
func runAs(*exec.Cmd, *osUser) {}

// processAlive cannot tell on these systems, so stale clusters are kept.
func processAlive(int) bool { return true }
