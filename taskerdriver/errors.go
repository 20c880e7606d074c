package taskerdriver

import (
	"errors"

	"github.com/tasker-go/tasker/taskertype"
)

// Sentinel errors returned by drivers.
var (
	// ErrNotFound is taskertype.ErrNotFound, re-exported for drivers.
	ErrNotFound = taskertype.ErrNotFound
	// ErrLeaseLost is returned when a step result is written by a worker that no
	// longer owns the step (its lease expired and the step was rescued, the task
	// was cancelled, or a newer attempt started).
	ErrLeaseLost = errors.New("step lease lost")
	// ErrStateConflict is returned when a state change expected the entity in
	// another state than the one it is in.
	ErrStateConflict = errors.New("state conflict")
	// ErrAlreadyExists is returned when a unique value (an API token's
	// name among the tokens not revoked) is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrUnsupportedTx is returned by UnwrapTx for a transaction type the
	// driver does not know.
	ErrUnsupportedTx = errors.New("unsupported transaction type")
	// ErrValueRejected is matched (errors.Is) by the *ValueRejectedError a
	// driver returns when the database refuses a value it was given.
	ErrValueRejected = errors.New("value rejected by the database")
	// ErrUnavailable is taskertype.ErrUnavailable, re-exported for drivers:
	// matched by the *UnavailableError of every driver method whose database
	// cannot be reached or does not answer in time.
	ErrUnavailable = taskertype.ErrUnavailable
)

// UnavailableError is the error a driver returns when its database cannot
// be reached or does not answer in time (PostgreSQL: a connection refused,
// lost or timed out, SQL state class 08, 57P01-57P03, 53300; SQLite: the
// database locked beyond its busy timeout or not openable; both: a context
// deadline passed). It matches ErrUnavailable; Unwrap returns the driver's
// error, which may name hosts, users and SQL: log it, never show it to an
// API client.
type UnavailableError struct {
	// Err is the driver's error.
	Err error
}

func (e *UnavailableError) Error() string { return "database unavailable: " + e.Err.Error() }

// Unwrap returns the driver's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes the error match ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// ValueRejectedError is the error a driver returns when the database refuses
// a value it was given: a number out of the range it stores, a document or
// string over its size limit, a character it cannot store (PostgreSQL: SQL
// state class 22, data exception, or 54, program limit exceeded; SQLite:
// SQLITE_TOOBIG). Retrying the same write cannot succeed. It matches
// ErrValueRejected; its message is the driver's error's.
type ValueRejectedError struct {
	// Reason is the database's own message, such as "value overflows
	// numeric format".
	Reason string
	// Code is the database's code for it: a SQLSTATE on PostgreSQL, an
	// extended result code on SQLite.
	Code string
	// Err is the driver's error.
	Err error
}

func (e *ValueRejectedError) Error() string { return e.Err.Error() }

// Unwrap returns the driver's error.
func (e *ValueRejectedError) Unwrap() error { return e.Err }

// Is makes the error match ErrValueRejected.
func (e *ValueRejectedError) Is(target error) bool { return target == ErrValueRejected }
