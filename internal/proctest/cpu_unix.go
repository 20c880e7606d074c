//go:build unix

package proctest

import (
	"syscall"
	"time"
)

// CPU is the user and system CPU time this process used so far (0 when
// getrusage fails), for benchmarks that report CPU per operation.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
