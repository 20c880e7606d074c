package taskerhttp

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
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
// handler (see serveRoute):
//   - an open route (health live and ready) is allowed;
//   - Options.Authorize, when set, decides for every other route from the
//     request and the route's operation;
//   - the remote-worker routes (OpWorkerWork) then need the worker token,
//     as they always have.
func (s *server) authorize(r *http.Request, rt Route) error {
	if rt.Open {
		return nil
	}
	if s.opts.Authorize != nil {
		if err := s.opts.Authorize(r, rt.Operation); err != nil {
			return authAnswer(err)
		}
	}
	if rt.Operation == OpWorkerWork {
		return s.workerToken(r)
	}
	return nil
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
	s.opts.Logger.Debug("request refused", "method", r.Method, "path", r.URL.Path,
		"request_id", w.Header().Get("X-Request-Id"), "status", f.err.Status, "error", f.err.Message)
	writeError(w, f.err.Status, f.err.Code, f.err.Message, nil)
}
