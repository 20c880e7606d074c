package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the package.
const (
	// EnvDatabaseURL names an existing server to use instead of a throwaway
	// cluster: a postgres:// URL or key=value DSN of an administrative
	// connection (a role allowed to create databases).
	EnvDatabaseURL = "TASKER_TEST_DATABASE_URL"
	// EnvRequire, set to 1, turns "no PostgreSQL available" from a skip into
	// a test failure; CI sets it.
	EnvRequire = "TASKER_TEST_REQUIRE_POSTGRES"
	// EnvBinDir optionally names the directory holding initdb and pg_ctl for
	// the throwaway cluster.
	EnvBinDir = "TASKER_TEST_PG_BINDIR"
)

// mode is how a test process reaches PostgreSQL.
type mode int

const (
	modeNone     mode = iota // no PostgreSQL: tests skip (or fail)
	modeExternal             // EnvDatabaseURL
	modeCluster              // a throwaway cluster owned by this process
)

// server is the PostgreSQL server of this test process.
type server struct {
	mode    mode
	admin   string   // administrative connection string
	reason  string   // modeNone: why, and how to enable PostgreSQL tests
	cluster *cluster // modeCluster

	tplMu    sync.Mutex
	template string // name of the ready template database, "" until created
}

var (
	mainCalled atomic.Bool

	setupMu  sync.Mutex
	setupRan bool
	current  *server
	errSetup error

	migrateMu      sync.Mutex
	migrateFn      func(ctx context.Context, url string) error
	migrateVersion string
	migrateUsed    bool
)

// Main runs the tests of a package (call it from TestMain) and stops the
// throwaway cluster if one was started. It does not return.
func Main(m *testing.M) { MainChecked(m, nil) }

// MainChecked is Main with a check that runs after a passing run (such as
// goleak's leak check): when it returns an error, the run fails with it.
func MainChecked(m *testing.M, check func() error) { MainCleanup(m, check, nil) }

// MainCleanup is MainChecked with a cleanup (such as removing a binary the
// tests built) that runs after the tests whatever their outcome, before the
// process exits.
func MainCleanup(m *testing.M, check func() error, cleanup func()) {
	mainCalled.Store(true)
	code := m.Run()
	if code == 0 && check != nil {
		if err := check(); err != nil {
			fmt.Fprintf(os.Stderr, "%v\n", err)
			code = 1
		}
	}
	if cleanup != nil {
		cleanup()
	}
	setupMu.Lock()
	s := current
	setupMu.Unlock()
	if s != nil && s.cluster != nil {
		if err := s.cluster.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the throwaway PostgreSQL cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// SetMigrate registers how to migrate the template database that every test
// database is cloned from: fn connects to url and applies the schema. Call it
// once per process, before [URL] is used (from TestMain or an init
// function); fn must close every connection it opens. Without it, test
// databases are empty.
func SetMigrate(fn func(ctx context.Context, url string) error) {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if migrateUsed {
		panic("pgtest: SetMigrate called after a test database was created")
	}
	migrateFn = fn
}

// SetMigrateVersion optionally names the schema the function registered with
// [SetMigrate] produces (for example a hash of the migrations). On a server
// given by TASKER_TEST_DATABASE_URL, test processes with the same version
// share one template database, even across builds and runs. Without it, a
// template is shared only by processes running the same test binary, which
// is always safe but migrates again after every rebuild. Call it before
// [URL] is used.
func SetMigrateVersion(version string) {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if migrateUsed {
		panic("pgtest: SetMigrateVersion called after a test database was created")
	}
	migrateVersion = version
}

// URL returns the connection string (a postgres:// URL or a key=value DSN,
// both accepted by pgx) of a fresh, migrated, empty database for this test;
// the database is dropped when the test and its subtests end. It skips the
// test with a message saying how to enable PostgreSQL tests when no
// PostgreSQL is available, and fails it instead when
// TASKER_TEST_REQUIRE_POSTGRES=1.
func URL(t testing.TB) string {
	t.Helper()
	s := need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name, err := randomDatabaseName()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := s.createDatabase(ctx, name); err != nil {
		t.Fatalf("pgtest: creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: dropping test database %s: %v", name, err)
		}
	})
	u, err := withDatabase(s.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// Available reports whether PostgreSQL tests can run (rather than skip), for
// code that chooses which drivers to test. It may start the throwaway
// cluster.
func Available() bool {
	s, err := setup()
	return err == nil && s.mode != modeNone
}

// Server returns the administrative connection string of the server in use,
// for tests that create their own databases or connect to the server itself.
// It skips or fails like [URL] when no PostgreSQL is available.
func Server(t testing.TB) string {
	t.Helper()
	return need(t).admin
}

// Restart restarts the server (pg_ctl restart -m fast), closing every
// connection of this process. Only the throwaway cluster can be restarted:
// with TASKER_TEST_DATABASE_URL, which names a server the tests do not own,
// the test is skipped. The cluster is shared by the tests of the process, so
// a test that restarts it must not run in parallel with other PostgreSQL
// tests.
func Restart(t testing.TB) {
	t.Helper()
	s := need(t)
	if s.cluster == nil {
		t.Skipf("pgtest: cannot restart the server named by %s: this process does not own it (unset %s to use a throwaway cluster)", EnvDatabaseURL, EnvDatabaseURL)
	}
	if err := s.cluster.restart(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// need returns the server, or ends the test when there is none.
func need(t testing.TB) *server {
	t.Helper()
	s, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	if s.mode == modeNone {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s (failing instead of skipping because %s=1)", s.reason, EnvRequire)
		}
		t.Skip(s.reason)
	}
	return s
}

// setup chooses the server of this process on first use.
func setup() (*server, error) {
	setupMu.Lock()
	defer setupMu.Unlock()
	if !setupRan {
		setupRan = true
		current, errSetup = detect()
	}
	return current, errSetup
}

func detect() (*server, error) {
	if !mainCalled.Load() {
		return nil, errors.New("pgtest: call pgtest.Main(m) from the package's TestMain (it stops the throwaway PostgreSQL cluster)")
	}
	if admin := os.Getenv(EnvDatabaseURL); admin != "" {
		if err := checkServer(admin); err != nil {
			return nil, fmt.Errorf("pgtest: %s=%s: %w", EnvDatabaseURL, redact(admin), err)
		}
		return &server{mode: modeExternal, admin: admin}, nil
	}
	bin, why := findBinaries()
	if bin == "" {
		return &server{mode: modeNone, reason: fmt.Sprintf(
			"pgtest: no PostgreSQL available (%s): install PostgreSQL (initdb and pg_ctl) so that tests start a throwaway cluster, or set %s=postgres://USER@HOST:5432/postgres?sslmode=disable to use a running server",
			why, EnvDatabaseURL)}, nil
	}
	c, err := startCluster(bin)
	if err != nil {
		return nil, fmt.Errorf("pgtest: starting a throwaway PostgreSQL cluster with %s: %w", bin, err)
	}
	return &server{mode: modeCluster, admin: c.connString("postgres"), cluster: c}, nil
}

// checkServer connects to admin and checks the server version.
func checkServer(admin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return err
	}
	if version < 130000 {
		return fmt.Errorf("PostgreSQL %d.%d is too old: the tests need 13 or later", version/10000, version%10000)
	}
	return nil
}

// withDatabase returns the connection string conn with its database replaced
// by db (a plain identifier).
func withDatabase(conn, db string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("parsing %s: %w", EnvDatabaseURL, err)
		}
		u.Path, u.RawPath = "/"+db, ""
		if q := u.Query(); q.Has("dbname") {
			q.Del("dbname")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// key=value: the last setting of a keyword wins.
	return strings.TrimSpace(conn) + " dbname=" + db, nil
}

// redact hides the password of a postgres:// URL for messages.
func redact(conn string) string {
	if u, err := url.Parse(conn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	if strings.Contains(conn, "password") {
		return "(a DSN with a password)"
	}
	return conn
}
