// Package taskerpgx is the PostgreSQL driver of Tasker for Go, built on pgx v5
// (pgxpool). Many worker processes on many machines share the work through
// one database: ready steps are claimed with FOR UPDATE SKIP LOCKED, workers
// wake on LISTEN/NOTIFY, and migrations run under an advisory lock so that
// many processes may start at once.
//
// The package holds PostgreSQL's SQL and its mechanics only (batches,
// arrays, row locks, notifications, SQL states); the procedures around the
// SQL (what a finish, a state change or a claim writes, and in what order)
// are internal/driverkit's, shared with the SQLite driver.
//
// Imports: the standard library, pgx, taskerdriver, taskertype and
// internal/driverkit. Above the seam, only the code that opens a database by
// its URL (internal/dburl, test and benchmark harnesses) imports it.
package taskerpgx
