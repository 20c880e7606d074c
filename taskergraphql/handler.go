package taskergraphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

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
		InitTimeout:           wsInitTimeout,
		// A browser page's upgrade is refused unless its Origin is the
		// request's host or one of OriginPatterns (cross-site WebSocket
		// hijacking); programs send no Origin.
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{OriginPatterns: conf.OriginPatterns}},
		InitFunc:       conf.initWebSocket,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(maxTokens)
	if !conf.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(documentLimits{cfg: conf}) // before the complexity, which expands every fragment
	srv.Use(extension.FixedComplexityLimit(conf.MaxComplexity))
	srv.AroundOperations(conf.aroundOperations)
	srv.AroundResponses(conf.aroundResponses)
	srv.AroundFields(conf.aroundFields)
	srv.SetErrorPresenter(conf.presentError)
	srv.SetRecoverFunc(conf.recoverPanic)
	return &server{cfg: conf, gql: srv}
}

type server struct {
	cfg *Config
	gql http.Handler
}

type (
	upgradeKey struct{}
	requestKey struct{}
)

// wsInitTimeout is how long a WebSocket may take to send connection_init.
const wsInitTimeout = 10 * time.Second

// RequestFrom returns the HTTP request that carries the operation of ctx
// (a resolver's, or an Authorize hook's context): the request itself, or
// for a WebSocket its upgrade request with the Authorization of its
// connection_init payload. Nil outside an operation.
func RequestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

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
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if !isJSON(r.Header.Get("Content-Type")) {
			writeErrors(w, http.StatusUnsupportedMediaType, codeError(CodeBadUserInput,
				"send the request as Content-Type: application/json ({\"query\": ..., \"variables\": ...})", nil))
			return
		}
		body, status, err := readParams(r.Body)
		if err != nil {
			writeErrors(w, status, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	ctx, err := s.cfg.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	r = r.WithContext(ctx)
	s.gql.ServeHTTP(w, r.WithContext(context.WithValue(ctx, requestKey{}, r)))
}

// readParams reads a POST body and checks that it is a request
// ({"query": string, "operationName": string, "variables": object,
// "extensions": object}), so that a bad one is answered with what is wrong
// in terms of the request (not of the server's Go types), and one over the
// body limit with 413.
func readParams(body io.Reader) ([]byte, int, *gqlerror.Error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, codeError(CodeBadUserInput,
				"the request body is over "+strconv.FormatInt(mbe.Limit, 10)+" bytes: send a smaller document or fewer variables", nil)
		}
		return nil, http.StatusBadRequest, codeError(CodeBadUserInput, "the request body could not be read", nil)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, http.StatusBadRequest, codeError(CodeBadUserInput,
			`the body must be a JSON object: {"query": "...", "variables": {...}, "operationName": "..."}`, nil)
	}
	for name, want := range map[string]byte{"query": '"', "operationName": '"', "variables": '{', "extensions": '{'} {
		v := bytes.TrimSpace(fields[name])
		if len(v) == 0 || string(v) == "null" || v[0] == want {
			continue
		}
		kind := "a string"
		if want == '{' {
			kind = "an object"
		}
		return nil, http.StatusBadRequest, codeError(CodeBadUserInput, name+" must be "+kind+" (or left out)", map[string]any{"field": name})
	}
	return raw, 0, nil
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
	up, _ := ctx.Value(upgradeKey{}).(*http.Request)
	if up == nil {
		return transport.WithWebsocketCloseCode(ctx, 4500), nil, errors.New("internal error: no upgrade request")
	}
	req := up.Clone(ctx)
	if auth := payload.Authorization(); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	ctx = context.WithValue(context.WithValue(ctx, requestKey{}, req), wsConnKey{}, &wsConn{})
	if c.Authenticator == nil {
		return ctx, nil, nil
	}
	actx, err := c.authenticate(req.WithContext(ctx))
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
