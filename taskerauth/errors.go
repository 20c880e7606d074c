package taskerauth

import (
	"errors"
	"fmt"
)

// The answers of an Authenticator and an Authorizer. An API maps them to its
// status codes: ErrNoCredential and ErrInvalidCredential to 401,
// ErrForbidden to 403.
var (
	// ErrNoCredential: the request carries no credential the authenticator
	// handles. Chain then asks the next authenticator.
	ErrNoCredential = errors.New("no credential")
	// ErrInvalidCredential: the request carries a credential of the
	// authenticator's kind that is not valid (malformed, expired, badly
	// signed, revoked, ...). The message of an error wrapping it is safe to
	// show to the caller: it never contains the credential.
	ErrInvalidCredential = errors.New("invalid credential")
	// ErrForbidden: the principal lacks the permission. Errors wrapping it
	// are *ForbiddenError values, which name the permission.
	ErrForbidden = errors.New("forbidden")
)

// InvalidCredential returns an error wrapping ErrInvalidCredential whose
// message is msg. Custom authenticators use it for a credential they handle
// but refuse; msg is shown to the caller, so it must not contain the
// credential nor internal detail.
func InvalidCredential(msg string) error {
	return &credentialError{msg: msg}
}

// invalid is InvalidCredential with a cause kept for errors.Is/As (and for
// logs) but not shown in the message.
func invalid(msg string, cause error) error {
	return &credentialError{msg: msg, cause: cause}
}

type credentialError struct {
	msg   string
	cause error
}

func (e *credentialError) Error() string { return e.msg }

func (e *credentialError) Is(target error) bool { return target == ErrInvalidCredential }

func (e *credentialError) Unwrap() error { return e.cause }

// ForbiddenError is the error of PermissionAuthorizer: the principal is
// authenticated but lacks Permission. It wraps ErrForbidden.
type ForbiddenError struct {
	// Subject is the principal's subject ("" for no principal).
	Subject string
	// Permission is the permission needed and not granted.
	Permission string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("forbidden: the permission %q is required", e.Permission)
}

// Is reports whether target is ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }
