// Package dburl opens a taskerdriver.Driver from a database URL:
// sqlite://relative/path.db, sqlite:///absolute/path.db (or a bare file path)
// and postgres://user@host:port/db (or postgresql://).
//
// It is the one package outside the tests that chooses a driver, for
// cmd/tasker. Imports: the standard library, the driver seam (taskerdriver)
// and both drivers (taskerpgx, taskersqlite); never the root package.
package dburl
