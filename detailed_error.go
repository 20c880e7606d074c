package tasker

import "encoding/json"

// The optional interfaces of handler errors: the engine stores what they
// report on the step's error.

// DetailedError is an error that carries structured detail: when a handler
// returns an error that is or wraps one (errors.As), its Details are stored
// on the step's error (taskertype.StepError.Details, "details" in last_error)
// next to the message. Details must be valid JSON (anything else is
// dropped). The errors of the http handler (taskerhttpstep.Error)
// implement it.
type DetailedError interface {
	error
	Details() json.RawMessage
}

// ClassifiedError is an error that names its own class: when a handler
// returns an error that is or wraps one (errors.As), ErrorClass is stored as
// the class of the step's error (taskertype.StepError.Class) instead of the
// Go type of the innermost error. The errors of the http handler report
// "*tasker.HTTPError".
type ClassifiedError interface {
	error
	ErrorClass() string
}

// DetailTextError is an error that carries free detail text: when a handler
// returns an error that is or wraps one (errors.As), DetailText is stored
// with the step's error (taskertype.StepError.Stack, "stack" in last_error).
// A failed command of the exec handler reports its stderr tail.
type DetailTextError interface {
	error
	DetailText() string
}
