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
)

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
