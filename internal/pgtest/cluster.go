package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

const (
	// ownerFile, in a cluster directory, holds the PID of the test process
	// that owns the cluster, so that a later process can remove the cluster
	// of one that was killed before Main could stop it.
	ownerFile = "tasker-pgtest.pid"
	// socketName is the unix socket the server listens on, in the cluster
	// directory (the default port, 5432, is free there).
	socketName = ".s.PGSQL.5432"
	// maxSocketPath keeps the socket path within sun_path (108 bytes on
	// Linux, 104 on macOS).
	maxSocketPath = 100
)

// cluster is a throwaway PostgreSQL cluster owned by this test process.
type cluster struct {
	bin string  // directory of initdb and pg_ctl
	dir string  // socket directory; data/ and log inside
	as  *osUser // the postgres OS user when running as root, else nil

	mu sync.Mutex // serializes restart and stop
}

// findBinaries returns the directory holding initdb and pg_ctl, or "" and
// what was searched.
func findBinaries() (dir, searched string) {
	if d := os.Getenv(EnvBinDir); d != "" {
		if hasBinaries(d) {
			return d, ""
		}
		return "", fmt.Sprintf("%s=%s has no initdb and pg_ctl", EnvBinDir, d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[j], dirs[i]) }) // newest first
	for _, d := range dirs {
		if hasBinaries(d) {
			return d, ""
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && hasBinaries(filepath.Dir(p)) {
		return filepath.Dir(p), ""
	}
	return "", "no initdb and pg_ctl in /usr/lib/postgresql/*/bin or PATH, and " + EnvDatabaseURL + " is not set"
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLess orders /usr/lib/postgresql/<version>/bin paths by version
// (9.6 < 10 < 16).
func versionLess(a, b string) bool {
	va := strings.Split(filepath.Base(filepath.Dir(a)), ".")
	vb := strings.Split(filepath.Base(filepath.Dir(b)), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		na, errA := strconv.Atoi(va[i])
		nb, errB := strconv.Atoi(vb[i])
		if errA != nil || errB != nil {
			if va[i] != vb[i] {
				return va[i] < vb[i]
			}
			continue
		}
		if na != nb {
			return na < nb
		}
	}
	return len(va) < len(vb)
}

// startCluster initializes and starts a cluster in a new temporary
// directory.
func startCluster(bin string) (*cluster, error) {
	reapStale(bin)
	dir, err := os.MkdirTemp("", "tpg")
	if err != nil {
		return nil, err
	}
	if len(filepath.Join(dir, socketName)) > maxSocketPath {
		_ = os.Remove(dir)
		if dir, err = os.MkdirTemp("/tmp", "tpg"); err != nil {
			return nil, err
		}
	}
	c := &cluster{bin: bin, dir: dir}
	if err := c.init(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if out, err := c.pgCtl("start"); err != nil {
		err = fmt.Errorf("pg_ctl start: %w\n%s%s", err, out, c.logTail())
		_, _ = c.pgCtl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// init records the owner, hands the directory to the postgres OS user when
// running as root, and runs initdb.
func (c *cluster) init() error {
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := postgresUser()
		if err != nil {
			return err
		}
		if err := os.Chown(c.dir, u.uid, u.gid); err != nil {
			return err
		}
		c.as = u
	}
	out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// osUser is an OS user that PostgreSQL programs run as.
type osUser struct{ uid, gid int }

// postgresUser returns the postgres OS user, which the cluster runs as when
// the tests run as root.
func postgresUser() (*osUser, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which PostgreSQL refuses, and no postgres OS user to run it as: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	return &osUser{uid: uid, gid: gid}, nil
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// connString returns the connection string of database db.
func (c *cluster) connString(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", c.dir, db)
}

// pgCtl runs pg_ctl action (start, stop, restart) on the cluster, waiting
// for it to complete.
func (c *cluster) pgCtl(action string, args ...string) ([]byte, error) {
	args = append([]string{action, "-w", "-t", "60", "-D", c.data()}, args...)
	if action != "stop" {
		opts := fmt.Sprintf("-k '%s' -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.dir)
		args = append(args, "-l", filepath.Join(c.dir, "log"), "-o", opts)
	}
	return c.run("pg_ctl", args...)
}

// run runs a PostgreSQL program of the cluster's installation, as the
// postgres OS user when running as root.
func (c *cluster) run(program string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, program), args...)
	cmd.Dir = c.dir // the postgres user may not be able to enter ours
	if c.as != nil {
		runAs(cmd, c.as)
	}
	return cmd.CombinedOutput()
}

// restart restarts the server, waiting until it accepts connections again.
func (c *cluster) restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if out, err := c.pgCtl("restart", "-m", "fast"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s%s", err, out, c.logTail())
	}
	return nil
}

// stop stops the server at once and deletes the cluster.
func (c *cluster) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.pgCtl("stop", "-m", "immediate")
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// logTail returns the end of the server log, for error messages.
func (c *cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "log"))
	if err != nil {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "server log:\n" + string(b)
}

// reapStale stops and deletes the clusters left in the temporary
// directories by test processes that no longer exist (killed by a timeout
// or a signal before Main could stop their cluster).
func reapStale(bin string) {
	var dirs []string
	for _, tmp := range []string{os.TempDir(), "/tmp"} {
		m, _ := filepath.Glob(filepath.Join(tmp, "tpg*", ownerFile))
		dirs = append(dirs, m...)
	}
	seen := map[string]bool{}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		stale := &cluster{bin: bin, dir: dir}
		if os.Geteuid() == 0 {
			stale.as, _ = postgresUser()
		}
		if _, err := os.Stat(filepath.Join(stale.data(), "postmaster.pid")); err == nil {
			_, _ = stale.pgCtl("stop", "-m", "immediate")
		}
		_ = os.RemoveAll(dir)
	}
}
