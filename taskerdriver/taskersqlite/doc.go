// Package taskersqlite is the embedded SQLite driver of Tasker for Go, built on
// modernc.org/sqlite (pure Go, no cgo). It runs the database in WAL mode with
// one writer connection (SQLite allows one writer at a time, so writes queue in
// Go instead of spinning on SQLITE_BUSY) and a small pool of readers.
//
// Notifications are delivered in-process: workers in other processes that
// share the file find new work by their fallback poll.
//
// The package holds SQLite's SQL and its mechanics only (the writer and
// reader pools, prepared statements, JSON arrays for lists, result codes);
// the procedures around the SQL are internal/driverkit's, shared with the
// PostgreSQL driver.
//
// Imports: the standard library, modernc.org/sqlite, taskerdriver,
// taskertype and internal/driverkit. It is the only package that imports
// modernc.org/sqlite.
package taskersqlite
