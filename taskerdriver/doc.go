// Package taskerdriver is the storage seam of Tasker for Go: a small set of
// interfaces, with one *Params struct per operation, that each database driver
// (PostgreSQL in taskerdriver/taskerpgx, SQLite in taskerdriver/taskersqlite)
// implements with its own SQL and migrations. Nothing above this seam knows
// which database it talks to: errors cross it as the sentinels and types of
// errors.go (ErrNotFound, ErrLeaseLost, ErrStateConflict, ErrValueRejected),
// never as a database's codes.
//
// The Executor is batch-only: operations that the engine runs for many rows
// at once (recording attempts, moving and counting tasks) have one plural
// method, which a caller with one row calls with a batch of one.
//
// Every driver must pass the shared conformance suite in
// taskerdriver/taskerdrivertest; a new method lands with a case there (the
// suite fails for an Executor method no case calls).
//
// Imports: the standard library and taskertype only.
//
// API is not stable. DO NOT IMPLEMENT outside this module.
package taskerdriver
