package taskerhttp

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskergraphql"
)

// graphQLPath is where the GraphQL API is served (POST and GET; a
// WebSocket upgrade of GET for subscriptions).
const graphQLPath = "/tasker/graphql"

type graphQLRequestKey struct{}

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
	if cfg.Authenticator == nil {
		cfg.Authenticator = s.opts.Authenticator
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = s.opts.Authorizer
	}
	if cfg.Logger == nil {
		cfg.Logger = s.opts.Logger
	}
	if cfg.OriginPatterns == nil {
		for _, o := range s.opts.CORSOrigins {
			if u, err := url.Parse(o); err == nil && u.Host != "" {
				cfg.OriginPatterns = append(cfg.OriginPatterns, u.Host)
			}
		}
	}
	if authorize := s.opts.Authorize; authorize != nil && cfg.Authorize == nil {
		cfg.Authorize = func(ctx context.Context, perm string) error {
			r, _ := ctx.Value(graphQLRequestKey{}).(*http.Request)
			if r == nil {
				return ErrForbidden
			}
			return authorize(r, Operation(perm))
		}
	}
	h := taskergraphql.NewHandler(c, &cfg)
	serve := func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		ctx := context.WithValue(r.Context(), graphQLRequestKey{}, r)
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
