package taskergraphql

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskergraphql/internal/generated"
)

// NewHandler returns the GraphQL API of c as an http.Handler: queries and
// mutations by POST (application/json: {query, variables, operationName}),
// queries by GET (query parameters), and subscriptions over a WebSocket
// (graphql-transport-ws, and the older graphql-ws) on the same path. Mount
// it at /tasker/graphql; taskerhttp.NewHandler does, behind its Host,
// cross-origin and body-size checks.
func NewHandler(c *tasker.Client, cfg *Config) http.Handler {
	if cfg == nil {
		cfg = &Config{}
	}
	conf := cfg.withDefaults()
	r := &resolver{c: c, cfg: conf}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()}))
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: conf.KeepAlive,
		// A browser page's upgrade is refused unless its Origin is the
		// request's host or one of OriginPatterns (cross-site WebSocket
		// hijacking); programs send no Origin.
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{OriginPatterns: conf.OriginPatterns}},
		InitFunc:       conf.initWebSocket,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !conf.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(conf.MaxComplexity))
	srv.Use(depthLimit{max: conf.MaxDepth})
	srv.AroundFields(conf.aroundFields)
	srv.SetErrorPresenter(conf.presentError)
	srv.SetRecoverFunc(conf.recoverPanic)
	return &server{cfg: conf, gql: srv}
}

type server struct {
	cfg *Config
	gql http.Handler
}

type upgradeKey struct{}

// ServeHTTP authenticates an HTTP request (a WebSocket authenticates when
// it starts, see initWebSocket) and serves it.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.gql.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), upgradeKey{}, r)))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeErrors(w, http.StatusMethodNotAllowed, codeError("METHOD_NOT_ALLOWED", "use POST (application/json), or GET for queries", nil))
		return
	}
	if r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")) {
		writeErrors(w, http.StatusUnsupportedMediaType, codeError(CodeBadUserInput,
			"send the request as Content-Type: application/json ({\"query\": ..., \"variables\": ...})", nil))
		return
	}
	ctx, err := s.cfg.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	s.gql.ServeHTTP(w, r.WithContext(ctx))
}

// authenticate returns r's context with its principal (and actor), or the
// error that refuses it.
func (c *Config) authenticate(r *http.Request) (context.Context, error) {
	if c.Authenticator == nil {
		return r.Context(), nil
	}
	p, err := c.Authenticator.Authenticate(r)
	if err == nil && p == nil {
		err = errors.New("the authenticator returned no principal")
	}
	if err != nil {
		return nil, err
	}
	ctx := taskerauth.WithPrincipal(r.Context(), p)
	if p.Method != taskerauth.MethodAnonymous {
		ctx = tasker.WithActor(ctx, p.Subject) // recorded in the transitions the request causes
	}
	return ctx, nil
}

// refuse answers a request whose authentication failed.
func (s *server) refuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, taskerauth.ErrNoCredential):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeErrors(w, http.StatusUnauthorized, codeError(CodeUnauthenticated,
			"this request needs a credential: send \"Authorization: Bearer <token>\" with an API token or a JWT", nil))
	case errors.Is(err, taskerauth.ErrInvalidCredential):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeErrors(w, http.StatusUnauthorized, codeError(CodeUnauthenticated, err.Error(), nil))
	case errors.Is(err, tasker.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "5")
		writeErrors(w, http.StatusServiceUnavailable, codeError(CodeUnavailable, "the database is unavailable or did not answer in time; retry later", nil))
	default:
		s.cfg.Logger.Error("graphql: authentication failed", "error", err)
		writeErrors(w, http.StatusInternalServerError, codeError(CodeInternal, "internal error: the server could not check the credential; see the server log", nil))
	}
}

func writeErrors(w http.ResponseWriter, status int, errs ...*gqlerror.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || mt == "application/graphql-response+json"
}

// initWebSocket authenticates a WebSocket when its connection_init
// arrives: the credential of the payload's "authorization" ("Bearer …"),
// else the upgrade request's Authorization header.
func (c *Config) initWebSocket(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if c.Authenticator == nil {
		return ctx, nil, nil
	}
	up, _ := ctx.Value(upgradeKey{}).(*http.Request)
	if up == nil {
		return transport.WithWebsocketCloseCode(ctx, 4500), nil, errors.New("internal error: no upgrade request")
	}
	req := up.Clone(ctx)
	if auth := payload.Authorization(); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	actx, err := c.authenticate(req)
	if err != nil {
		// graphql-transport-ws: close with 4403 Forbidden.
		refused := transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "unauthenticated"), 4403)
		switch {
		case errors.Is(err, taskerauth.ErrNoCredential):
			return refused, nil, errors.New("unauthenticated: send {\"authorization\": \"Bearer <token>\"} in connection_init's payload or the upgrade's Authorization header")
		case errors.Is(err, taskerauth.ErrInvalidCredential):
			return refused, nil, errors.New("unauthenticated: " + err.Error())
		}
		c.Logger.Error("graphql: websocket authentication failed", "error", err)
		return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "internal error"), 4500), nil,
			errors.New("the server could not check the credential")
	}
	return actx, nil, nil
}

// complexity makes a list's fields count once per item it may return.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	page := func(child int, limit *int) int {
		n := defaultLimit
		if limit != nil && *limit > 0 {
			n = min(*limit, maxLimit)
		}
		return 1 + n*child
	}
	c.Query.Tasks = func(child int, limit, _ *int, _, _ *string) int { return page(child, limit) }
	c.Query.TasksByStatus = func(child int, _ string, limit, _ *int, _, _ *string) int { return page(child, limit) }
	c.Query.TasksByAnnotation = func(child int, _, _, _ string, limit, _ *int, _, _ *string) int {
		return page(child, limit)
	}
	c.Query.Nodes = func(child int, ids []string) int { return 1 + len(ids)*child }
	// A task's steps: count them as 10 a task.
	c.Task.WorkflowSteps = func(child int) int { return 1 + 10*child }
	return c
}

// depthLimit refuses documents whose selections nest deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, map[string]bool{}); depth > d.max {
		return codeError(CodeBadUserInput, "the document nests "+itoa(depth)+" levels deep; at most "+itoa(d.max)+" are allowed", nil)
	}
	return nil
}

// selectionDepth is the deepest nesting of fields in set (fragments
// followed once per path).
func selectionDepth(set ast.SelectionSet, depth int, seen map[string]bool) int {
	deepest := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = depth + 1
			if len(s.SelectionSet) > 0 {
				d = selectionDepth(s.SelectionSet, depth+1, seen)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] || s.Definition == nil {
				continue
			}
			seen[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, depth, seen)
			delete(seen, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func itoa(n int) string { return strconv.Itoa(n) }
