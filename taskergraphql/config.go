package taskergraphql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskerauth"
)

// Config configures the GraphQL API. The zero value serves it with no
// authentication (as the REST API without an Authenticator), the default
// limits and introspection on.
type Config struct {
	// Authenticator establishes who sent each request (an HTTP request, or
	// a WebSocket's upgrade request and its connection_init payload's
	// "authorization"). Nil: no authentication, every operation allowed.
	Authenticator taskerauth.Authenticator
	// Authorizer decides whether the principal may use a field's
	// permission; default taskerauth.PermissionAuthorizer. Used only with
	// an Authenticator.
	Authorizer taskerauth.Authorizer
	// Authorize, when set, is called after the Authorizer for every
	// field's permission, with the field's context (RequestFrom gives its
	// request; taskerauth.PrincipalFrom its principal): a non-nil error
	// refuses the field (FORBIDDEN, or UNAUTHENTICATED when it wraps
	// taskerauth.ErrNoCredential or taskerauth.ErrInvalidCredential).
	// taskerhttp sets it to its Options.Authorize. Called even without an
	// Authenticator.
	Authorize func(ctx context.Context, permission string) error
	// MaxDepth bounds the nesting of a document's selections; default 15.
	MaxDepth int
	// MaxFields bounds a document's fields, its fragments expanded (each
	// __schema or __type counting 500); default 2,000. It is checked
	// before the document is validated, as validation compares the
	// fields of a selection set pairwise.
	MaxFields int
	// MaxComplexity bounds a document's complexity: each field 1, a list's
	// fields times the items it may return (its limit, 10 steps a task, 5
	// parents or children a step), and each field that reads or writes
	// the database on its own (a root field, a mutation, each id of
	// nodes) 100; default 25,000.
	MaxComplexity int
	// MaxResponseBytes bounds one response (each message of a
	// subscription): an answer that would be larger is refused as a
	// whole with RESPONSE_TOO_LARGE; default 16 MiB. taskerhttp sets its
	// own MaxResponseBytes.
	MaxResponseBytes int64
	// MaxBodyBytes bounds a POST body (413 above it); default 1 MiB.
	// taskerhttp sets its own MaxBodyBytes.
	MaxBodyBytes int64
	// MaxSubscriptions bounds the subscriptions running at once on one
	// WebSocket; default 100.
	MaxSubscriptions int
	// DisableIntrospection refuses __schema and __type queries.
	DisableIntrospection bool
	// OriginPatterns lists the hosts of browser pages ("console.example.com",
	// "*.example.com") that may open a WebSocket besides the server's own;
	// an upgrade with any other Origin is refused (403). Requests without
	// an Origin (programs) pass.
	OriginPatterns []string
	// PollInterval is how often a taskUpdated subscription re-reads its
	// task to see changes made by other processes (workers on other
	// machines); changes made through this process are sent at once.
	// Default 2s.
	PollInterval time.Duration
	// KeepAlive is the interval of WebSocket pings; default 15s.
	KeepAlive time.Duration
	// Logger receives the errors answered as INTERNAL_SERVER_ERROR (their
	// detail is never answered). Default: discard.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxDepth         = 15
	DefaultMaxFields        = 2_000
	DefaultMaxComplexity    = 25_000
	DefaultMaxResponseBytes = 16 << 20
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxSubscriptions = 100
	DefaultPollInterval     = 2 * time.Second
	DefaultKeepAlive        = 15 * time.Second
)

func (c Config) withDefaults() *Config {
	orDefault(&c.MaxDepth, DefaultMaxDepth)
	orDefault(&c.MaxFields, DefaultMaxFields)
	orDefault(&c.MaxComplexity, DefaultMaxComplexity)
	orDefault(&c.MaxResponseBytes, DefaultMaxResponseBytes)
	orDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	orDefault(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	orDefault(&c.PollInterval, DefaultPollInterval)
	orDefault(&c.KeepAlive, DefaultKeepAlive)
	if c.Authorizer == nil {
		c.Authorizer = taskerauth.PermissionAuthorizer{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &c
}

// orDefault sets a limit that is zero or negative (unset) to its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// The permission each root field needs: the REST API's names (see
// docs/graphql.md for the table).
const (
	PermTaskIndex   = taskerauth.PermTaskIndex
	PermTaskShow    = taskerauth.PermTaskShow
	PermTaskCreate  = taskerauth.PermTaskCreate
	PermTaskUpdate  = taskerauth.PermTaskUpdate
	PermTaskDestroy = taskerauth.PermTaskDestroy
	PermTaskRetry   = taskerauth.PermTaskRetry
	PermStepIndex   = taskerauth.PermStepIndex
	PermStepShow    = taskerauth.PermStepShow
	PermStepUpdate  = taskerauth.PermStepUpdate
	PermStepDestroy = taskerauth.PermStepDestroy
	PermStepResolve = taskerauth.PermStepResolve
	PermEventIndex  = taskerauth.PermEventIndex
)

// Error codes of extensions.code, beside gqlgen's own
// (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeUnavailable     = "UNAVAILABLE"
	// CodeResponseTooLarge: the answer would be over MaxResponseBytes.
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE"
	CodeInternal         = "INTERNAL_SERVER_ERROR"
)

// allow checks that the request's principal holds perm (always, without an
// Authenticator).
func (c *Config) allow(ctx context.Context, perm string) error {
	if err := c.authorizeWith(ctx, perm); err != nil {
		return err
	}
	if c.Authorize == nil {
		return nil
	}
	if err := c.Authorize(ctx, perm); err != nil {
		if errors.Is(err, taskerauth.ErrNoCredential) || errors.Is(err, taskerauth.ErrInvalidCredential) {
			return codeError(CodeUnauthenticated, err.Error(), nil)
		}
		return codeError(CodeForbidden, err.Error(), map[string]any{"permission": perm})
	}
	return nil
}

// allowAny checks that the request's principal holds one of perms; a
// refusal names them all.
func (c *Config) allowAny(ctx context.Context, perms ...string) error {
	var first error
	for _, p := range perms {
		err := c.allow(ctx, p)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	var ge *gqlerror.Error
	if errors.As(first, &ge) && ge.Extensions["code"] == CodeForbidden && len(perms) > 1 {
		return codeError(CodeForbidden, "this field needs the permission "+strings.Join(perms, " or "),
			map[string]any{"permission": perms[0], "permissions": perms})
	}
	return first
}

// authorizeWith checks perm with the Authenticator's principal and the
// Authorizer.
func (c *Config) authorizeWith(ctx context.Context, perm string) error {
	if c.Authenticator == nil {
		return nil
	}
	p, ok := taskerauth.PrincipalFrom(ctx)
	if !ok || p == nil {
		return codeError(CodeUnauthenticated, "this operation needs a credential: send \"Authorization: Bearer <token>\"", nil)
	}
	if err := c.Authorizer.Authorize(ctx, p, perm); err != nil {
		if errors.Is(err, taskerauth.ErrForbidden) {
			return codeError(CodeForbidden, err.Error(), map[string]any{"permission": perm})
		}
		return err
	}
	return nil
}

// codeError is an error answered with extensions.code and the extra
// extensions.
func codeError(code, msg string, ext map[string]any) *gqlerror.Error {
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	for k, v := range ext {
		e.Extensions[k] = v
	}
	return e
}

// inputError is BAD_USER_INPUT naming the argument at fault.
func inputError(field, problem string) error {
	return codeError(CodeBadUserInput, field+": "+problem, map[string]any{"field": field})
}

func notFound(format string, args ...any) error {
	return codeError(CodeNotFound, fmt.Sprintf(format, args...), nil)
}

func isNotFound(err error) bool {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		return ge.Extensions["code"] == CodeNotFound
	}
	return errors.Is(err, tasker.ErrNotFound)
}

// classify turns a resolver's error into its GraphQL error (run around
// every field, so that gqlgen's own errors stay apart): the Go API's errors
// by their REST code (validation → BAD_USER_INPUT with the fields, not
// found → NOT_FOUND, conflict → CONFLICT, unavailable → UNAVAILABLE), an
// error already coded as is, and anything else INTERNAL_SERVER_ERROR
// without detail (logged).
func (c *Config) classify(ctx context.Context, err error) error {
	var own *gqlerror.Error
	if errors.As(err, &own) && own.Extensions["code"] != nil {
		return own
	}
	ae := apiview.ErrorOf(err)
	if ae == nil {
		c.Logger.ErrorContext(ctx, "graphql: internal error", "path", graphql.GetPath(ctx).String(), "error", err)
		return codeError(CodeInternal, "internal error; see the server log", nil)
	}
	code := CodeInternal
	switch ae.Code {
	case apiview.CodeValidationFailed, apiview.CodeIdempotencyKeyReused:
		code = CodeBadUserInput
	case apiview.CodeNotFound:
		code = CodeNotFound
	case apiview.CodeConflict:
		code = CodeConflict
	case apiview.CodeUnavailable:
		code = CodeUnavailable
	}
	ge := codeError(code, ae.Message, nil)
	if len(ae.Fields) > 0 {
		ge.Extensions["fields"] = ae.Fields
	}
	return ge
}

// aroundFields classifies the error of every field's resolver, and
// charges its answer to the response's budget (MaxResponseBytes): once
// the budget is spent, no field runs (a nullable one answers null, a
// non-null one the error; the response becomes the error alone).
func (c *Config) aroundFields(ctx context.Context, next graphql.Resolver) (any, error) {
	if overBudget(ctx) {
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Definition != nil && !fc.Field.Definition.Type.NonNull {
			return nil, nil
		}
		return nil, c.tooLarge()
	}
	res, err := next(ctx)
	if err != nil {
		return res, c.classify(ctx, err)
	}
	if !spend(ctx, res) {
		return nil, c.tooLarge()
	}
	return res, nil
}

// presentError answers an error: a coded one as is; an uncoded one is
// gqlgen's error of an argument it could not coerce (a bad variable, a
// JSON string that is not JSON), so the input is at fault.
func (c *Config) presentError(ctx context.Context, err error) *gqlerror.Error {
	ge := graphql.DefaultErrorPresenter(ctx, err)
	if ge.Extensions == nil || ge.Extensions["code"] == nil {
		if ge.Extensions == nil {
			ge.Extensions = map[string]any{}
		}
		ge.Extensions["code"] = CodeBadUserInput
	}
	return ge
}

// recoverPanic answers a resolver's panic as an internal error (logged).
func (c *Config) recoverPanic(ctx context.Context, v any) error {
	c.Logger.ErrorContext(ctx, "graphql: panic in resolver", "panic", fmt.Sprint(v))
	return codeError(CodeInternal, "internal error; see the server log", nil)
}
