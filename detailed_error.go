package tasker

import "encoding/json"

// DetailedError is an error that carries structured detail: when a handler
// returns an error that is or wraps one (errors.As), its Details are stored
// on the step's error (taskertype.StepError.Details, "details" in last_error)
// next to the message. Details must be valid JSON (anything else is
// dropped). HTTPError, the error of the http handler and of CallHTTP,
// implements it.
type DetailedError interface {
	error
	Details() json.RawMessage
}
