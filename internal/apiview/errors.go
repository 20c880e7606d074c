package apiview

import (
	"errors"
	"net/http"

	"github.com/tasker-go/tasker"
)

// Error is an error answer of the APIs: an HTTP status, a stable code
// (validation_failed, not_found, conflict, ...), a message a person can act
// on, and the fields at fault (a body field, a parameter or a JSON pointer
// into the task context). REST answers {"error": <Error>}; a GraphQL API
// maps Code to its extensions.code and Fields to the argument at fault.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// The codes ErrorOf gives to the Go API's errors.
const (
	CodeValidationFailed = "validation_failed"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeUnavailable      = "unavailable"
	// CodeIdempotencyKeyReused is tasker.ErrIdempotencyKeyReused (422).
	CodeIdempotencyKeyReused = "idempotency_key_reused"
)

// MessageUnavailable is the message of every 503 unavailable: the
// database's own error (hosts, users, SQL) is logged, never shown.
const MessageUnavailable = "the database is unavailable or did not answer in time; retry later"

// ErrorOf maps an error of the Go API to its answer: an *Error as is, a
// *tasker.ValidationError to 400 validation_failed (with its fields),
// tasker.ErrNotFound to 404 not_found, tasker.ErrInvalidState and
// tasker.ErrTokenExists (an API token name taken) to 409 conflict, and
// tasker.ErrUnavailable to 503 unavailable (without the database's error:
// MessageUnavailable). It returns nil for any other error: the API decides
// (REST answers 500 internal and logs it).
func ErrorOf(err error) *Error {
	var ae *Error
	var ve *tasker.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: CodeValidationFailed, Message: ve.Error(), Fields: ve.Fields}
	case errors.Is(err, tasker.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, tasker.ErrIdempotencyKeyReused):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyKeyReused, Message: err.Error(), Fields: map[string]string{"Idempotency-Key": "was given before with a different request: use a new key for a new request"}}
	case errors.Is(err, tasker.ErrInvalidState), errors.Is(err, tasker.ErrTokenExists), errors.Is(err, tasker.ErrScheduleExists):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, tasker.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: MessageUnavailable}
	}
	return nil
}
