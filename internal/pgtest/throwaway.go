package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Cluster is a throwaway PostgreSQL server that one test owns alone, so
// that it may stop, start, freeze and thaw it (outage tests) whatever
// server the other tests use. It listens on a unix socket only.
type Cluster struct {
	c *cluster
}

// NewCluster starts a throwaway cluster for t (initdb and pg_ctl as for
// the process's own cluster, even when TASKER_TEST_DATABASE_URL names a
// server), thawed, stopped and deleted when t ends. It skips t when
// PostgreSQL is not installed, and fails it instead when
// TASKER_TEST_REQUIRE_POSTGRES=1.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, why := findBinaries()
	if bin == "" {
		msg := "pgtest: a throwaway PostgreSQL cluster needs initdb and pg_ctl: " + why
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s (failing instead of skipping because %s=1)", msg, EnvRequire)
		}
		t.Skip(msg)
	}
	c, err := startCluster(bin)
	if err != nil {
		t.Fatalf("pgtest: starting a throwaway PostgreSQL cluster with %s: %v", bin, err)
	}
	cl := &Cluster{c: c}
	t.Cleanup(func() {
		_ = cl.signal(sigCont)
		if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
			_ = os.RemoveAll(c.dir) // stopped by the test
			return
		}
		if err := c.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return cl
}

// URL returns the connection string (key=value) of database db.
func (cl *Cluster) URL(db string) string { return cl.c.connString(db) }

// Dir returns the cluster's directory, which its connection strings name
// (the unix socket's).
func (cl *Cluster) Dir() string { return cl.c.dir }

// Stop stops the server (pg_ctl stop -m fast), keeping its data: new
// connections are refused until Start.
func (cl *Cluster) Stop(t testing.TB) {
	t.Helper()
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if out, err := cl.c.pgCtl("stop", "-m", "fast"); err != nil {
		t.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
}

// Start starts a stopped server again.
func (cl *Cluster) Start(t testing.TB) {
	t.Helper()
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if out, err := cl.c.pgCtl("start"); err != nil {
		t.Fatalf("pgtest: pg_ctl start: %v\n%s%s", err, out, cl.c.logTail())
	}
}

// Freeze stops every process of the server (SIGSTOP): connections are
// accepted by the kernel but nothing answers, as when a host hangs. Thaw
// (or the end of the test) resumes them.
func (cl *Cluster) Freeze(t testing.TB) {
	t.Helper()
	if err := cl.signal(sigStop); err != nil {
		t.Fatalf("pgtest: freeze: %v", err)
	}
}

// Thaw resumes the processes Freeze stopped (SIGCONT).
func (cl *Cluster) Thaw(t testing.TB) {
	t.Helper()
	if err := cl.signal(sigCont); err != nil {
		t.Fatalf("pgtest: thaw: %v", err)
	}
}

// signal sends sig to the postmaster and all its children.
func (cl *Cluster) signal(sig signalKind) error {
	b, err := os.ReadFile(filepath.Join(cl.c.data(), "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("the server is not running: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	return signalTree(pid, sig)
}
