package pgtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

// Environment of the helper processes started by the tests below.
const (
	envHelper        = "PGTEST_HELPER"         // set: this process is a helper
	envHelperVersion = "PGTEST_HELPER_VERSION" // passed to SetMigrateVersion
)

func TestMain(m *testing.M) {
	if v := os.Getenv(envHelperVersion); v != "" {
		pgtest.SetMigrateVersion(v)
	}
	pgtest.SetMigrate(migrate)
	pgtest.Main(m)
}

// migrate is a stand-in for a driver's migrations: it creates a table. It
// also leaves a connection open, as a careless migration might, which must
// not keep test databases from being cloned from the template.
func migrate(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE migrated (id int PRIMARY KEY, note text)`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `INSERT INTO migrated VALUES (0, 'from the template')`); err != nil {
		return err
	}
	if os.Getenv(envHelper) != "" {
		fmt.Fprintln(os.Stderr, "pgtest helper: migrating")
		time.Sleep(300 * time.Millisecond) // widen the race between helper processes
	}
	leaked, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	_ = leaked // deliberately never closed
	return nil
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM migrated`).Scan(&n))
	return n
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	admin := connect(t, pgtest.Server(t))
	var exists bool
	require.NoError(t, admin.QueryRow(t.Context(), `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	return exists
}

func TestURLGivesMigratedDatabase(t *testing.T) {
	conn := connect(t, pgtest.URL(t))
	require.Equal(t, 1, count(t, conn))
	_, err := conn.Exec(t.Context(), `INSERT INTO migrated VALUES (1, 'test')`)
	require.NoError(t, err)
	require.Equal(t, 2, count(t, conn))
	require.True(t, pgtest.Available())
}

func TestDatabasesAreIsolated(t *testing.T) {
	a, b := pgtest.URL(t), pgtest.URL(t)
	require.NotEqual(t, a, b)
	ca, cb := connect(t, a), connect(t, b)
	_, err := ca.Exec(t.Context(), `INSERT INTO migrated VALUES (1, 'only in a')`)
	require.NoError(t, err)
	require.Equal(t, 2, count(t, ca))
	require.Equal(t, 1, count(t, cb))
}

func TestParallelDatabases(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, pgtest.URL(t))
			var name string
			require.NoError(t, conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name))
			require.Equal(t, 1, count(t, conn))
			mu.Lock()
			defer mu.Unlock()
			require.False(t, names[name], "database %s handed out twice", name)
			names[name] = true
		})
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, pgtest.URL(t))
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name))
		// The connection is still open when the database is dropped:
		// registered after URL, its cleanup runs first, but even a leaked
		// connection would not stop DROP DATABASE ... WITH (FORCE).
		leaked, err := pgx.Connect(t.Context(), pgtest.URL(t))
		require.NoError(t, err)
		_ = leaked
	})
	require.NotEmpty(t, name)
	require.False(t, databaseExists(t, name), "database %s still exists", name)
}

func TestRestart(t *testing.T) {
	conn := connect(t, pgtest.URL(t))
	_, err := conn.Exec(t.Context(), `INSERT INTO migrated VALUES (1, 'survives')`)
	require.NoError(t, err)
	url := conn.Config().ConnString()

	pgtest.Restart(t) // skips unless this process owns a throwaway cluster

	_, err = conn.Exec(t.Context(), `SELECT 1`)
	require.Error(t, err, "the connection should not survive a restart")
	require.Equal(t, 2, count(t, connect(t, url)))
	require.Equal(t, 1, count(t, connect(t, pgtest.URL(t))))
}

// TestConcurrentProcessesShareTemplate starts test processes at the same
// time on a TASKER_TEST_DATABASE_URL server, with a schema version no
// template exists for yet: one creates the template under the advisory lock,
// the others wait for it, and all get migrated databases.
func TestConcurrentProcessesShareTemplate(t *testing.T) {
	if os.Getenv(pgtest.EnvDatabaseURL) == "" {
		t.Skip("each process would start its own cluster: this test is about a shared server")
	}
	version := fmt.Sprintf("concurrency-test-%d", time.Now().UnixNano())
	var wg sync.WaitGroup
	outs := make([]string, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Go(func() {
			out, err := helper(t, "TestHelperURL", envHelperVersion+"="+version)
			outs[i], errs[i] = out, err
		})
	}
	wg.Wait()
	for i := range outs {
		require.NoError(t, errs[i], outs[i])
		require.Contains(t, outs[i], "--- PASS: TestHelperURL")
	}

	migrations := 0
	for _, out := range outs {
		migrations += strings.Count(out, "pgtest helper: migrating")
	}
	require.Equal(t, 1, migrations, "the template should be migrated once:\n%s", strings.Join(outs, "\n"))

	name := pgtest.TemplateName(version)
	admin := connect(t, pgtest.Server(t))
	var isTemplate, allowConn bool
	require.NoError(t, admin.QueryRow(t.Context(), `SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1`, name).Scan(&isTemplate, &allowConn))
	require.True(t, isTemplate)
	require.False(t, allowConn)
	for _, sql := range []string{"ALTER DATABASE %s IS_TEMPLATE false", "DROP DATABASE %s"} {
		_, err := admin.Exec(t.Context(), fmt.Sprintf(sql, pgx.Identifier{name}.Sanitize()))
		require.NoError(t, err)
	}
}

// TestWithoutPostgres checks that, with no server and no installation, URL
// skips the test, or fails it when TASKER_TEST_REQUIRE_POSTGRES=1.
func TestWithoutPostgres(t *testing.T) {
	none := []string{pgtest.EnvDatabaseURL + "=", pgtest.EnvBinDir + "=" + t.TempDir()}

	out, err := helper(t, "TestHelperURL", append(none, pgtest.EnvRequire+"=")...)
	require.NoError(t, err, out)
	require.Contains(t, out, "--- SKIP: TestHelperURL")
	require.Contains(t, out, "no PostgreSQL available")
	require.Contains(t, out, pgtest.EnvDatabaseURL)

	out, err = helper(t, "TestHelperURL", append(none, pgtest.EnvRequire+"=1")...)
	require.Error(t, err, out)
	require.Contains(t, out, "--- FAIL: TestHelperURL")
	require.Contains(t, out, "failing instead of skipping because "+pgtest.EnvRequire+"=1")
}

// helper runs one test of this binary in a new process with extra
// environment variables, and returns its output.
func helper(t *testing.T, test string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envHelper+"=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestHelperURL is run by helper; it does nothing in a normal run.
func TestHelperURL(t *testing.T) {
	if os.Getenv(envHelper) == "" {
		return
	}
	conn := connect(t, pgtest.URL(t))
	require.Equal(t, 1, count(t, conn))
}
