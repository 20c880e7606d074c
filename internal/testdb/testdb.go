package testdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

// Drivers are the databases every engine test runs on.
var Drivers = []string{"sqlite", "postgres"}

// Main runs a package's tests (call it from TestMain) and, after a passing
// run, fails it if goroutines were leaked (goleak). PostgreSQL test
// databases are cloned from a template migrated by the PostgreSQL driver,
// named by the migrations' hash, so that every test binary built from the
// same migrations shares it (on a server given by TASKER_TEST_DATABASE_URL).
func Main(m *testing.M) {
	if v, err := taskerpgx.SchemaVersion(); err == nil {
		pgtest.SetMigrateVersion(v)
	}
	pgtest.SetMigrate(func(ctx context.Context, url string) error {
		d, err := taskerpgx.Open(ctx, url)
		if err != nil {
			return err
		}
		defer func() { _ = d.Close() }()
		return d.Migrate(ctx)
	})
	before := goleak.IgnoreCurrent() // goroutines that exist before any test
	pgtest.MainChecked(m, func() error { return goleak.Find(before) })
}

// EachDriver runs fn as a parallel subtest per driver; Open inside fn opens
// that subtest's driver. Without PostgreSQL the postgres subtests skip (or
// fail, with TASKER_TEST_REQUIRE_POSTGRES=1).
func EachDriver(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, name := range Drivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

// EachDriverInTurn runs fn as a subtest per driver, one after the other:
// for tests that measure the whole process (its live heap), which another
// subtest running beside them would disturb.
func EachDriverInTurn(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, name := range Drivers {
		t.Run(name, fn)
	}
}

// DriverOf tells which driver a test runs on, from the EachDriver subtest in
// its name ("sqlite" outside EachDriver).
func DriverOf(t testing.TB) string {
	for _, part := range strings.Split(t.Name(), "/") {
		for _, d := range Drivers {
			if part == d {
				return d
			}
		}
	}
	return "sqlite"
}

// Open opens a fresh, migrated, empty database of the test's driver, closed
// when the test ends.
func Open(t testing.TB) taskerdriver.Driver {
	t.Helper()
	var (
		d   taskerdriver.Driver
		err error
	)
	switch DriverOf(t) {
	case "postgres":
		d, err = taskerpgx.Open(context.Background(), pgtest.URL(t))
	default:
		d, err = taskersqlite.Open(filepath.Join(t.TempDir(), "tasker.db"))
	}
	if err != nil {
		t.Fatalf("testdb: open %s: %v", DriverOf(t), err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// OpenEach opens a fresh database (as Open does) of each driver that can
// run here, closed when tb ends: SQLite always, and PostgreSQL when a
// server is available (TASKER_TEST_DATABASE_URL, or a throwaway cluster;
// required with TASKER_TEST_REQUIRE_POSTGRES=1). It is for the fuzz
// targets, whose iterations share one database of each.
func OpenEach(tb testing.TB) []taskerdriver.Driver {
	tb.Helper()
	d, err := taskersqlite.Open(filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatalf("testdb: open sqlite: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	drivers := []taskerdriver.Driver{d}
	if pgtest.Available() || os.Getenv(pgtest.EnvRequire) == "1" {
		pd, err := taskerpgx.Open(tb.Context(), pgtest.URL(tb))
		if err != nil {
			tb.Fatalf("testdb: open postgres: %v", err)
		}
		tb.Cleanup(func() { _ = pd.Close() })
		drivers = append(drivers, pd)
	}
	return drivers
}
