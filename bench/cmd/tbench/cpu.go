package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// cpuMeter measures the CPU time spent during a measurement by this
// process (the engine or the peer, and its driver) and by the PostgreSQL
// server's processes (its backends, the background processes, and the
// backends that exited meanwhile, which their postmaster accounts for), so
// that a latency can be told apart from the work behind it. The server's
// share is read from /proc and is known only when the server runs on this
// machine and its processes are readable; everything else on the server
// (another client's work) counts too, so run it on an otherwise idle server.
type cpuMeter struct {
	self, server time.Duration
	serverOK     bool
}

// startCPU returns a meter started now.
func startCPU() *cpuMeter {
	m := &cpuMeter{self: selfCPU()}
	m.server, m.serverOK = serverCPU()
	return m
}

// report adds, to res, this process's and the server's CPU per unit
// (n units since the start) under name, and prints them.
func (m *cpuMeter) report(rep int, res *results, name, unit string, n int) {
	self := (selfCPU() - m.self) / time.Duration(n)
	line := fmt.Sprintf("rep %d  %-34s client CPU %7.3f ms/%s", rep, name, ms(self), unit)
	res.add(name+": client CPU per "+unit, "ms", ms(self))
	if server, ok := serverCPU(); ok && m.serverOK {
		per := (server - m.server) / time.Duration(n)
		line += fmt.Sprintf("  PostgreSQL CPU %7.3f ms/%s", ms(per), unit)
		res.add(name+": PostgreSQL CPU per "+unit, "ms", ms(per))
	}
	fmt.Println(line)
}

// selfCPU is this process's CPU time (user and system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// serverCPU sums the CPU time of the processes named postgres: their own
// (utime, stime) and that of their children they waited for (cutime,
// cstime). ok is false when none is readable.
func serverCPU() (total time.Duration, ok bool) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || closing < open || string(b[open+1:closing]) != "postgres" {
			continue
		}
		fields := bytes.Fields(b[closing+1:])
		if len(fields) < 15 {
			continue
		}
		// After the name: state (0), ..., utime (11), stime (12),
		// cutime (13), cstime (14).
		for _, f := range fields[11:15] {
			v, err := strconv.ParseInt(string(f), 10, 64)
			if err != nil {
				continue
			}
			total += time.Duration(v) * clockTick
		}
		ok = true
	}
	return total, ok
}
