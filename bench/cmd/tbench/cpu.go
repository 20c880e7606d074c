package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
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
// It also counts the write-ahead log the server wrote meanwhile (records
// and bytes, from pg_stat_wal: the whole server's, like its CPU), the
// measure of how much a workload writes.
type cpuMeter struct {
	db           *benchDB
	self, server time.Duration
	serverOK     bool
	wal          walStat
	walOK        bool
}

// walStat is the server's write-ahead log counters.
type walStat struct{ records, bytes int64 }

func readWAL(ctx context.Context, db *benchDB) (walStat, bool) {
	var w walStat
	err := db.pool.QueryRow(ctx, "SELECT wal_records, wal_bytes::bigint FROM pg_stat_wal").Scan(&w.records, &w.bytes)
	return w, err == nil
}

// startCPU returns a meter started now.
func startCPU(ctx context.Context, db *benchDB) *cpuMeter {
	m := &cpuMeter{db: db, self: selfCPU()}
	m.server, m.serverOK = serverCPU()
	m.wal, m.walOK = readWAL(ctx, db)
	return m
}

// report adds, to res, this process's and the server's CPU per unit
// (n units since the start) under name, and prints them.
func (m *cpuMeter) report(ctx context.Context, rep int, res *results, name, unit string, n int) {
	self := (selfCPU() - m.self) / time.Duration(n)
	line := fmt.Sprintf("rep %d  %-34s client CPU %7.3f ms/%s", rep, name, ms(self), unit)
	res.add(name+": client CPU per "+unit, "ms", ms(self))
	if server, ok := serverCPU(); ok && m.serverOK {
		per := (server - m.server) / time.Duration(n)
		line += fmt.Sprintf("  PostgreSQL CPU %7.3f ms/%s", ms(per), unit)
		res.add(name+": PostgreSQL CPU per "+unit, "ms", ms(per))
	}
	if w, ok := readWAL(ctx, m.db); ok && m.walOK {
		records := float64(w.records-m.wal.records) / float64(n)
		kb := float64(w.bytes-m.wal.bytes) / 1024 / float64(n)
		line += fmt.Sprintf("  WAL %5.1f records %5.1f KB/%s", records, kb, unit)
		res.add(name+": WAL records per "+unit, "records", records)
		res.add(name+": WAL KB per "+unit, "KB", kb)
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

// startCPUProfile writes a Go CPU profile of this process to path, suffixed
// with the process id (several worker subprocesses may run at once), until
// the returned function is called. Worker subprocesses start it when
// TBENCH_WORKER_CPUPROFILE names a path: where the engine's own CPU goes
// during a throughput run (go tool pprof tbench PATH.PID).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("TBENCH_WORKER_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("TBENCH_WORKER_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
