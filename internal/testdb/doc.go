// Package testdb gives tests a fresh database of each driver, so that every
// engine test runs on SQLite and on PostgreSQL, with a settable clock
// (Clock) and a task maker (CreateTask) for tests below the public API. It is
// imported only by tests.
//
// Imports: the standard library, the driver seam, both drivers,
// internal/pgtest and goleak; never the root package.
package testdb
