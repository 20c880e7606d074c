// Package pgtest gives tests a fresh, migrated, empty PostgreSQL database.
//
// It is a test helper: import it from _test.go files only. A package whose
// tests use it calls [Main] from its TestMain, registers how to migrate a
// database with [SetMigrate], and asks for a database with [URL]:
//
//	func TestMain(m *testing.M) {
//		pgtest.SetMigrate(func(ctx context.Context, url string) error {
//			drv, err := taskerpgx.Open(ctx, url)
//			if err != nil {
//				return err
//			}
//			defer func() { _ = drv.Close() }()
//			return drv.Migrate(ctx)
//		})
//		pgtest.Main(m)
//	}
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.URL(t) // skips the test when no PostgreSQL is available
//		...
//	}
//
// The server is chosen once per test process:
//
//   - When TASKER_TEST_DATABASE_URL is set (for example
//     postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), that
//     server is used; the URL must connect as a role that may create
//     databases. A template database, tasker_tpl_<hash>, is created and
//     migrated once and shared by the test processes that run the same
//     schema (an advisory lock serializes its creation across processes);
//     stale templates and leaked test databases of earlier runs are dropped.
//   - Otherwise, when PostgreSQL is installed (initdb and pg_ctl in
//     TASKER_TEST_PG_BINDIR, the newest /usr/lib/postgresql/*/bin, or PATH),
//     the process starts a throwaway cluster in a temporary directory,
//     listening on a unix socket only, and [Main] stops and deletes it. As
//     root, the cluster runs as the postgres OS user (PostgreSQL refuses to
//     run as root).
//   - Otherwise the tests that need PostgreSQL skip with a message saying how
//     to enable them, or fail when TASKER_TEST_REQUIRE_POSTGRES=1.
//
// Every call to [URL] clones the template into a new database, dropped (WITH
// (FORCE), so PostgreSQL 13 or later) when the test ends.
//
// Imports: the standard library and pgx; never the root package nor a
// driver (callers pass the migration with [SetMigrate]).
package pgtest
