package taskerhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerdashboard"
	"github.com/tasker-go/tasker/taskergraphql"
)

// graphQLPath is where the GraphQL API is served (POST and GET; a
// WebSocket upgrade of GET for subscriptions).
const graphQLPath = "/tasker/graphql"

// graphQL mounts the GraphQL API (taskergraphql) at graphQLPath, unless
// Options.GraphQL disables it. It authenticates with the REST API's
// Authenticator and authorizes each root field with its Authorizer and
// Authorize, using the REST permission names; a request that is not a
// WebSocket is bounded by RequestTimeout.
func (s *server) graphQL(c *tasker.Client) {
	var cfg taskergraphql.Config
	if s.opts.GraphQL != nil {
		cfg = *s.opts.GraphQL
	}
	if s.opts.DisableGraphQL {
		return
	}
	s.inherit(&cfg.Authenticator, &cfg.Authorizer, &cfg.Logger)
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = s.opts.MaxResponseBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = s.opts.MaxBodyBytes
	}
	if cfg.OriginPatterns == nil {
		for _, o := range s.opts.CORSOrigins {
			if u, err := url.Parse(o); err == nil && u.Host != "" {
				cfg.OriginPatterns = append(cfg.OriginPatterns, u.Host)
			}
		}
	}
	if authorize := s.opts.Authorize; authorize != nil && cfg.Authorize == nil {
		// The hook sees the request as REST's would: authenticated (its
		// context holds the principal) and, for a WebSocket, with the
		// credential of connection_init.
		cfg.Authorize = func(ctx context.Context, perm string) error {
			r := taskergraphql.RequestFrom(ctx)
			if r == nil {
				return ErrForbidden
			}
			err := authorize(r.WithContext(ctx), Operation(perm))
			if errors.Is(err, ErrUnauthenticated) {
				return noCredential{err} // UNAUTHENTICATED
			}
			return err
		}
	}
	h := taskergraphql.NewHandler(c, &cfg)
	serve := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.opts.RequestTimeout)
			defer cancel()
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	}
	s.mux.HandleFunc("POST "+graphQLPath, serve)
	s.mux.HandleFunc("GET "+graphQLPath, serve)
}

// inherit gives a mounted handler's configuration this handler's
// Authenticator, Authorizer and Logger where it sets none of its own.
func (s *server) inherit(authn *taskerauth.Authenticator, authz *taskerauth.Authorizer, logger **slog.Logger) {
	if *authn == nil {
		*authn = s.opts.Authenticator
	}
	if *authz == nil {
		*authz = s.opts.Authorizer
	}
	if *logger == nil {
		*logger = s.opts.Logger
	}
}

// noCredential is an Authorize error wrapping ErrUnauthenticated, told to
// taskergraphql as taskerauth.ErrNoCredential with its own message.
type noCredential struct{ err error }

func (e noCredential) Error() string   { return e.err.Error() }
func (e noCredential) Unwrap() []error { return []error{e.err, taskerauth.ErrNoCredential} }

// dashboard mounts the web dashboard (taskerdashboard) at its pages,
// unless Options.DisableDashboard: its sign-in, session and live feed use
// this handler's Authenticator and Authorizer, and its pages act through
// this API.
func (s *server) dashboard(c *tasker.Client) {
	if s.opts.DisableDashboard {
		return
	}
	var cfg taskerdashboard.Config
	if s.opts.Dashboard != nil {
		cfg = *s.opts.Dashboard
	}
	s.inherit(&cfg.Authenticator, &cfg.Authorizer, &cfg.Logger)
	h := taskerdashboard.NewHandler(c, &cfg)
	for _, p := range taskerdashboard.Patterns() {
		s.mux.Handle(p, h)
	}
}
