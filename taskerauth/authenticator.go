package taskerauth

import (
	"context"
	"errors"
	"net/http"
)

// Authenticator establishes who made a request (the original engine's
// authenticator_class).
//
// Authenticate returns the principal, or an error that is (errors.Is)
//   - ErrNoCredential when the request carries no credential this
//     authenticator handles (no Authorization header, another scheme, a
//     bearer value of another shape), so that Chain asks the next one;
//   - ErrInvalidCredential when it carries one of its kind that is not
//     valid; the error's message is shown to the caller, so it never
//     contains the credential.
//
// Any other error is the authenticator's failure (a database down) and
// should become a 5xx-class answer. Authenticate must be safe for
// concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function to an Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Chain returns an Authenticator that asks each of authenticators in order:
// the first answer that is not ErrNoCredential (a principal, an invalid
// credential or a failure) is the chain's answer. When every one answers
// ErrNoCredential, or there are none, so does the chain. Nil entries are
// skipped.
func Chain(authenticators ...Authenticator) Authenticator {
	list := make([]Authenticator, 0, len(authenticators))
	for _, a := range authenticators {
		if a != nil {
			list = append(list, a)
		}
	}
	return chain(list)
}

type chain []Authenticator

func (c chain) Authenticate(r *http.Request) (*Principal, error) {
	for _, a := range c {
		p, err := a.Authenticate(r)
		if errors.Is(err, ErrNoCredential) {
			continue
		}
		if err == nil && p == nil {
			// A nil principal without an error is a broken authenticator;
			// never let it pass as authenticated.
			return nil, errors.New("taskerauth: authenticator returned neither a principal nor an error")
		}
		return p, err
	}
	return nil, ErrNoCredential
}

// Authorizer decides whether a principal may do what a permission names
// (the original engine's authorization coordinator). Authorize returns nil
// when allowed, an error wrapping ErrForbidden when not, and any other
// error for its own failure. It must be safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, p *Principal, permission string) error
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(ctx context.Context, p *Principal, permission string) error

// Authorize calls f(ctx, p, permission).
func (f AuthorizerFunc) Authorize(ctx context.Context, p *Principal, permission string) error {
	return f(ctx, p, permission)
}

// PermissionAuthorizer is the default Authorizer: a principal may do what
// its Permissions cover (see Allows). Its refusal is a *ForbiddenError.
type PermissionAuthorizer struct{}

// Authorize implements Authorizer.
func (PermissionAuthorizer) Authorize(_ context.Context, p *Principal, permission string) error {
	if p.Can(permission) {
		return nil
	}
	fe := &ForbiddenError{Permission: permission}
	if p != nil {
		fe.Subject = p.Subject
	}
	return fe
}
