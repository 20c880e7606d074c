package taskerhttp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskerauth"
)

// Errors an Options.Authorize function returns (wrapped or not) to choose
// the answer: ErrUnauthenticated gives 401 (with "WWW-Authenticate:
// Bearer") and code "unauthorized"; any other error, ErrForbidden among
// them, gives 403 and code "forbidden". The message is the error's text:
// name the permission that is missing.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// authorize is the one authorization check of every route, run before its
// handler (see serveRoute). It returns the request to serve, with the
// principal in its context (taskerauth.PrincipalFrom) when one was
// established:
//   - an open route (health live and ready) is allowed, and so is a route
//     whose operation Options.PublicOperations lists;
//   - with Options.Authenticator, the request's credential must be valid
//     (401 otherwise) and the principal must hold the route's permission
//     (Options.Authorizer, default taskerauth.PermissionAuthorizer; 403
//     naming the permission otherwise). On the remote-worker routes the
//     legacy worker token (Options.WorkerToken) is a credential too;
//   - Options.Authorize, when set, then decides from the request and the
//     route's operation;
//   - without an Authenticator, the remote-worker routes need the worker
//     token, as they always have.
func (s *server) authorize(r *http.Request, rt Route) (*http.Request, error) {
	if rt.Open || s.public[rt.Operation] {
		return r, nil
	}
	if s.opts.Authenticator != nil {
		p, err := s.authenticate(r, rt)
		if err != nil {
			return r, err
		}
		authz := s.opts.Authorizer
		if authz == nil {
			authz = taskerauth.PermissionAuthorizer{}
		}
		if err := authz.Authorize(r.Context(), p, string(rt.Operation)); err != nil {
			return r, s.authError(r, err)
		}
		ctx := taskerauth.WithPrincipal(r.Context(), p)
		if p.Method != taskerauth.MethodAnonymous {
			ctx = tasker.WithActor(ctx, p.Subject) // recorded in the transitions the request causes
		}
		r = r.WithContext(ctx)
	}
	if s.opts.Authorize != nil {
		if err := s.opts.Authorize(r, rt.Operation); err != nil {
			return r, authAnswer(err)
		}
	}
	if rt.Operation == OpWorkerWork && s.opts.Authenticator == nil {
		return r, s.workerToken(r)
	}
	return r, nil
}

// authenticate establishes who sent r: the legacy worker token on a
// remote-worker route, else Options.Authenticator.
func (s *server) authenticate(r *http.Request, rt Route) (*taskerauth.Principal, error) {
	if rt.Operation == OpWorkerWork && s.opts.WorkerToken != "" {
		if tok, err := taskerauth.BearerToken(r); err == nil && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.WorkerToken)) == 1 {
			return &taskerauth.Principal{Subject: "worker-token", Method: taskerauth.MethodWorkerToken, Permissions: []string{string(OpWorkerWork)}}, nil
		}
	}
	p, err := s.opts.Authenticator.Authenticate(r)
	if err != nil {
		return nil, s.authError(r, err)
	}
	if p == nil {
		return nil, s.authError(r, errors.New("the authenticator returned no principal"))
	}
	return p, nil
}

// authError maps an error of authentication or authorization to its answer:
// no credential or an invalid one is 401 (its message, which never repeats
// the credential), a missing permission 403, a database that is down or
// slow 503 (with Retry-After), anything else 500; a 5xx without detail,
// logged.
func (s *server) authError(r *http.Request, err error) error {
	switch {
	case errors.Is(err, taskerauth.ErrNoCredential):
		return &authFailure{err: &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "this request needs a credential: send \"Authorization: Bearer <token>\" with an API token (tasker token create) or a JWT"}, challenge: "Bearer"}
	case errors.Is(err, taskerauth.ErrInvalidCredential):
		return &authFailure{err: &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()},
			challenge: `Bearer error="invalid_token"`}
	case errors.Is(err, taskerauth.ErrForbidden):
		return &authFailure{err: &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: err.Error()}}
	}
	if errors.Is(err, tasker.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		s.opts.Logger.Warn("authentication failed: database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		return &authFailure{err: &apiError{Status: http.StatusServiceUnavailable, Code: apiview.CodeUnavailable, Message: apiview.MessageUnavailable}}
	}
	s.opts.Logger.Error("authentication failed", "method", r.Method, "path", r.URL.Path, "error", err)
	return &authFailure{err: &apiError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "internal error: the server could not check the credential; see the server log"}}
}

// authFailure is a refused request: its JSON error and the
// WWW-Authenticate challenge of a 401.
type authFailure struct {
	err       *apiError
	challenge string
}

func (f *authFailure) Error() string { return f.err.Message }

// authAnswer maps an error of Options.Authorize to its answer.
func authAnswer(err error) *authFailure {
	if errors.Is(err, ErrUnauthenticated) {
		return &authFailure{err: &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()}, challenge: "Bearer"}
	}
	return &authFailure{err: &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: err.Error()}}
}

// workerToken checks the shared worker token of the remote-worker routes.
func (s *server) workerToken(r *http.Request) error {
	if s.opts.WorkerToken == "" {
		return &authFailure{err: &apiError{Status: http.StatusForbidden, Code: "workers_disabled",
			Message: "remote workers are disabled on this server: start it with --worker-token (or $TASKER_WORKER_TOKEN) and give workers the same token"}}
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.opts.WorkerToken)) != 1 {
		return &authFailure{err: &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "a remote worker request needs the header \"Authorization: Bearer <worker token>\" with the server's worker token"},
			challenge: `Bearer realm="tasker workers"`}
	}
	return nil
}

// denied answers a request that authorize refused.
func (s *server) denied(w http.ResponseWriter, r *http.Request, err error) {
	var f *authFailure
	if !errors.As(err, &f) {
		f = authAnswer(err)
	}
	if f.challenge != "" {
		w.Header().Set("WWW-Authenticate", f.challenge)
	}
	if f.err.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	s.opts.Logger.Debug("request refused", "method", r.Method, "path", r.URL.Path,
		"request_id", w.Header().Get("X-Request-Id"), "status", f.err.Status, "error", f.err.Message)
	writeError(w, f.err.Status, f.err.Code, f.err.Message, nil)
}

// PublicOperationsAllowed are the operations Options.PublicOperations may
// open: reads of the server's own state that hold no task data (health
// status, metrics, analytics, the OpenAPI document).
var PublicOperationsAllowed = []Operation{OpHealthStatusIndex, OpMetricsIndex, OpAnalyticsIndex, OpOpenAPIShow}

// ValidPublicOperation reports whether op may be listed in
// Options.PublicOperations, with an error naming the ones that may.
func ValidPublicOperation(op Operation) error {
	if slices.Contains(PublicOperationsAllowed, op) {
		return nil
	}
	names := make([]string, len(PublicOperationsAllowed))
	for i, o := range PublicOperationsAllowed {
		names[i] = string(o)
	}
	return fmt.Errorf("%q cannot be public: only %s can (the other operations read task data or change something)", op, strings.Join(names, ", "))
}
