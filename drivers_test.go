package tasker_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

func TestMain(m *testing.M) {
	pgtest.SetMigrate(func(ctx context.Context, url string) error {
		d, err := taskerpgx.Open(ctx, url)
		if err != nil {
			return err
		}
		defer func() { _ = d.Close() }()
		return d.Migrate(ctx)
	})
	pgtest.Main(m)
}

// drivers are the databases every engine test runs on.
var drivers = []string{"sqlite", "postgres"}

// eachDriver runs fn as a parallel subtest per driver; openTestDriver (and
// so newEnv) inside fn opens the subtest's driver. Without PostgreSQL the
// postgres subtests skip (or fail, with TASKER_TEST_REQUIRE_POSTGRES=1).
func eachDriver(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, name := range drivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

// driverOf tells which driver a test runs on, from the eachDriver subtest
// in its name.
func driverOf(t testing.TB) string {
	for _, part := range strings.Split(t.Name(), "/") {
		for _, d := range drivers {
			if part == d {
				return d
			}
		}
	}
	return "sqlite"
}

// openTestDriver opens a fresh, empty database of the test's driver.
func openTestDriver(t testing.TB) taskerdriver.Driver {
	t.Helper()
	var (
		d   taskerdriver.Driver
		err error
	)
	switch driverOf(t) {
	case "postgres":
		d, err = taskerpgx.Open(context.Background(), pgtest.URL(t))
	default:
		d, err = taskersqlite.Open(filepath.Join(t.TempDir(), "tasker.db"))
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}
