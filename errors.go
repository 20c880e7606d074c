package tasker

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// ErrNotFound is returned when a task, step, template or handler does not
// exist. Test with errors.Is.
var ErrNotFound = taskertype.ErrNotFound

// ErrUnavailable is returned (wrapped: test with errors.Is) when the
// database cannot be reached or does not answer in time. Retrying later may
// succeed; the REST API answers 503 with Retry-After.
var ErrUnavailable = taskertype.ErrUnavailable

// ErrInvalidState is returned when an operation does not apply to the
// current state (cancelling a finished task, resolving a complete step).
var ErrInvalidState = errors.New("invalid state for this operation")

// ErrLeaseLost is returned when a step result arrives from a worker that no
// longer owns the step.
var ErrLeaseLost = taskerdriver.ErrLeaseLost

// PermanentError marks err as permanent: the step fails at once and is not
// retried, whatever its retry limit.
func PermanentError(err error) error {
	if err == nil {
		err = errors.New("permanent failure")
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable after d, the delay a server or the
// handler asked for (for example an HTTP Retry-After header). The delay is
// capped by the step's max_requested backoff (default 5 minutes).
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryAfterError{err: err, after: d}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// IsPermanent reports whether err was marked with PermanentError.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterDelay returns the delay requested with RetryAfter, if any.
func RetryAfterDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// ValidationError reports invalid input, field by field. Fields maps a field
// name (or a JSON pointer inside the task context, such as
// "context/order/id") to what is wrong with it and how to fix it.
type ValidationError struct {
	Message string
	Fields  map[string]string
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := sortedKeys(e.Fields)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

func invalidState(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidState, fmt.Sprintf(format, args...))
}
