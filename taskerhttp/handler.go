package taskerhttp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerdashboard"
	"github.com/tasker-go/tasker/taskergraphql"
	"github.com/tasker-go/tasker/taskerlog"
)

// Options configure the handler; the zero value (or nil) means the defaults.
type Options struct {
	// Logger receives one record per request (method, path, status,
	// duration_ms, request_id), wrapped with taskerlog.NewHandler: records
	// logged with a request's context carry its request_id (and trace_id and
	// span_id when a span is active). Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger bodies are refused with 413.
	// Default 1 MiB.
	MaxBodyBytes int64
	// MaxResponseBytes bounds the JSON of the items of one list answer: a
	// page stops early (pagination.truncated) when the next item would pass
	// it, and a single item over it is refused with 422
	// response_too_large. Default 16 MiB.
	MaxResponseBytes int64
	// MaxHeaderBytes bounds the size of a request's line and headers: a
	// larger request is answered 431 header_too_large (JSON). Default
	// 64 KiB. Set http.Server.MaxHeaderBytes above it (Go's default 1 MiB
	// is), or the server answers first, in plain text.
	MaxHeaderBytes int
	// ReadinessTimeout bounds the database check of /tasker/health/ready.
	// Default 2s.
	ReadinessTimeout time.Duration
	// WorkerToken is the shared secret remote workers send as
	// "Authorization: Bearer <token>" on the /tasker/workers routes. Empty
	// disables those routes (403).
	WorkerToken string
	// Stopping, when closed, makes waiting remote claims return at once (a
	// server shutting down closes it; see http.Server.RegisterOnShutdown).
	Stopping <-chan struct{}
	// Authorize, when set, is called before the handler of every route
	// but the open ones (health live and ready), with the request (its
	// path values set: r.PathValue("task_id")) and the operation the route
	// needs (see Routes). A non-nil error refuses the request: 401 when it
	// wraps ErrUnauthenticated, else 403 (see ErrForbidden). The
	// remote-worker routes need the worker token as well. Nil (the
	// default) allows every request, the worker routes still needing the
	// worker token.
	Authorize func(r *http.Request, op Operation) error
	// Authenticator, when set, establishes who sent every request but those
	// of the open routes (the original engine's authenticator_class): no
	// credential or an invalid one is 401. NewAuthenticator builds the
	// default (JWT and API tokens); a program may plug its own (a trusted
	// proxy header, mTLS). Nil keeps the API open, but for the worker
	// routes (see WorkerToken).
	Authenticator taskerauth.Authenticator
	// Authorizer decides whether the authenticated principal may use a
	// route's operation (the original's authorization coordinator); a
	// refusal is 403 naming the permission. Default
	// taskerauth.PermissionAuthorizer (the principal's permissions, with
	// wildcards). Used only with an Authenticator.
	Authorizer taskerauth.Authorizer
	// PublicOperations lists operations whose routes need no credential,
	// as health live and ready (for example OpMetricsIndex, so that a
	// scraper inside the cluster needs no token). Only the read-only
	// operations of PublicOperationsAllowed may be listed: NewHandler
	// panics on any other (ValidPublicOperation checks one first).
	PublicOperations []Operation
	// AllowedHosts lists the Host header values the server answers besides
	// the ones it always accepts: loopback names and addresses (localhost,
	// *.localhost, 127.0.0.0/8, ::1) and the address the request came in
	// on. An entry is a name or address ("tasker.example.com",
	// "10.0.0.5"), the same with a port to accept only that port, or
	// "*.example.com" for every name under example.com; "*" accepts any
	// Host (behind a proxy that checks it). Any other Host is refused with
	// 421 host_not_allowed, so that a web page cannot reach the API
	// through a name of its own that resolves here (DNS rebinding).
	AllowedHosts []string
	// CORSOrigins lists the origins ("https://console.example.com", exact
	// scheme, host and port) of browser front ends that may call the API:
	// their requests get the CORS headers, their preflights a 204, and
	// their state-changing requests pass the cross-origin check. Empty (the
	// default): no cross-origin browser request may change anything, and
	// preflights are refused (403).
	CORSOrigins []string
	// RequestTimeout bounds every request: when it passes, the request's
	// context is cancelled and the answer is 503 unavailable with
	// Retry-After (a remote claim may wait its wait_seconds on top).
	// Default 30s.
	RequestTimeout time.Duration
	// GraphQL configures the GraphQL API served at /tasker/graphql
	// (taskergraphql; see docs/graphql.md). Nil: its defaults. Its
	// Authenticator, Authorizer, Logger and OriginPatterns default to this
	// handler's Authenticator, Authorizer, Logger and CORSOrigins' hosts,
	// and Authorize is called for each field's permission.
	GraphQL *taskergraphql.Config
	// DisableGraphQL leaves /tasker/graphql out (404).
	DisableGraphQL bool
	// Dashboard configures the web dashboard served at / (taskerdashboard;
	// see docs/dashboard.md). Nil: its defaults. Its Authenticator,
	// Authorizer and Logger default to this handler's.
	Dashboard *taskerdashboard.Config
	// DisableDashboard leaves the dashboard out (its pages answer 404).
	DisableDashboard bool
	// Metrics, when set, is served at GET /tasker/metrics (permission
	// tasker.metrics:index) and records every request by method, route
	// pattern and status code (taskermetrics.Metrics implements it). Nil
	// (the default): that route answers 404.
	Metrics Metrics
}

// Metrics is what the handler needs of a metrics registry: its scrape
// handler, and a record of each answered request. route is the matched
// route's pattern ("/tasker/tasks/{task_id}"), or "unmatched" for a request
// no route matched: never the raw path, whose ids would be labels.
type Metrics interface {
	Handler() http.Handler
	ObserveHTTP(method, route string, code int, elapsed time.Duration)
}

// defaults.
const (
	defaultMaxBodyBytes     = 1 << 20
	defaultMaxHeaderBytes   = 64 << 10
	defaultMaxResponseBytes = 16 << 20
	defaultReadinessTimeout = 2 * time.Second
	defaultRequestTimeout   = 30 * time.Second
	// retryAfterSeconds is the Retry-After of a 503 unavailable.
	retryAfterSeconds = "5"
)

type server struct {
	c       *tasker.Client
	opts    Options
	mux     *http.ServeMux
	guard   *browserGuard
	metrics http.Handler       // opts.Metrics.Handler(), nil without metrics
	public  map[Operation]bool // opts.PublicOperations
}

// NewHandler returns the REST API of c: every route under /tasker.
func NewHandler(c *tasker.Client, opts *Options) http.Handler {
	s := &server{c: c, mux: http.NewServeMux()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	s.opts.Logger = taskerlog.Wrap(s.opts.Logger)
	if s.opts.MaxBodyBytes <= 0 {
		s.opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	if s.opts.MaxResponseBytes <= 0 {
		s.opts.MaxResponseBytes = defaultMaxResponseBytes
	}
	if s.opts.MaxHeaderBytes <= 0 {
		s.opts.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if s.opts.ReadinessTimeout <= 0 {
		s.opts.ReadinessTimeout = defaultReadinessTimeout
	}
	if s.opts.RequestTimeout <= 0 {
		s.opts.RequestTimeout = defaultRequestTimeout
	}
	s.public = make(map[Operation]bool, len(s.opts.PublicOperations))
	for _, op := range s.opts.PublicOperations {
		if err := ValidPublicOperation(op); err != nil {
			panic("taskerhttp: Options.PublicOperations: " + err.Error())
		}
		s.public[op] = true
	}
	s.guard = newBrowserGuard(&s.opts)
	if s.opts.Metrics != nil {
		s.metrics = s.opts.Metrics.Handler()
	}
	s.routes()
	s.graphQL(c)
	s.dashboard(c)
	return traced(s, c.TracerProvider())
}

// traced adds the server's spans with the client's TracerProvider: one per
// request (otelhttp), named by its route pattern ("POST /tasker/tasks"), the
// child of the request's W3C traceparent. Without a provider it makes none
// but still reads the request's traceparent and tracestate into the
// request's context, so a task created by the request stores them.
func traced(next http.Handler, tp trace.TracerProvider) http.Handler {
	prop := propagation.TraceContext{}
	if tp == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Traceparent") != "" {
				r = r.WithContext(prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}
			next.ServeHTTP(w, r)
		})
	}
	return otelhttp.NewHandler(next, "tasker", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			switch {
			case r.Pattern == "":
				return r.Method
			case strings.Contains(r.Pattern, " "):
				return r.Pattern
			}
			return r.Method + " " + r.Pattern
		}))
}

// ServeHTTP adds the request id, the request log and panic recovery,
// screens the request (Host, CORS, cross-origin writes: browser.go), and
// turns the mux's own 404 and 405 answers into JSON errors.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get("X-Request-Id"))
	w.Header().Set("X-Request-Id", id)
	orig := r // the request otelhttp holds (traced names its span from its Pattern)
	// Every record logged with the request's context (here, by the Go API
	// and by the handlers) carries the request id.
	r = r.WithContext(taskerlog.WithAttrs(r.Context(), slog.String(taskerlog.KeyRequestID, id)))
	rec := &statusWriter{ResponseWriter: w}
	_, pattern := s.mux.Handler(r)
	if s.opts.Metrics != nil {
		defer func() {
			s.opts.Metrics.ObserveHTTP(routeLabels(r.Method, pattern, rec.statusCode(), time.Since(start)))
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			s.opts.Logger.ErrorContext(r.Context(), "panic in handler", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal", "internal error: the server failed to handle the request; see the server log for request "+id, nil)
			}
		}
		s.opts.Logger.InfoContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path, "status", rec.statusCode(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	}()
	if n := headerBytes(r); n > s.opts.MaxHeaderBytes {
		writeError(rec, http.StatusRequestHeaderFieldsTooLarge, "header_too_large", fmt.Sprintf(
			"the request line and headers hold %d bytes, more than the %d this server accepts: send fewer or shorter headers (a credential is at most 8 KiB)",
			n, s.opts.MaxHeaderBytes), nil)
		return
	}
	if s.guard.screen(rec, r) {
		return
	}
	if pattern == "" {
		s.noRoute(rec, r)
		return
	}
	orig.Pattern = pattern // for the request's span name (traced)
	s.mux.ServeHTTP(rec, r)
}

// headerBytes is about what r's request line and headers took on the
// wire.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// routeLabels are the labels of a request's metrics: the method and path of
// the route pattern that matched it, or its method (one of the standard
// ones, else OTHER) and "unmatched".
func routeLabels(method, pattern string, code int, elapsed time.Duration) (string, string, int, time.Duration) {
	if m, path, ok := strings.Cut(pattern, " "); ok {
		return m, path, code, elapsed
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER"
	}
	return method, "unmatched", code, elapsed
}

// noRoute answers a request that no route matches: 405 (with Allow) when the
// path exists for other methods, else 404.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	probe := &probeWriter{header: http.Header{}}
	h, _ := s.mux.Handler(r)
	h.ServeHTTP(probe, r)
	switch probe.code {
	case http.StatusMethodNotAllowed:
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow), nil)
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.Header().Set("Location", probe.header.Get("Location"))
		w.WriteHeader(probe.code)
	default:
		writeError(w, http.StatusNotFound, "not_found",
			fmt.Sprintf("no route %s %s; see GET /tasker/openapi.json for the routes", r.Method, r.URL.Path), nil)
	}
}

// probeWriter records the status and headers of the mux's fallback answer.
type probeWriter struct {
	header http.Header
	code   int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.code == 0 {
		p.code = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

// maxRequestIDLen bounds a client's X-Request-Id.
const maxRequestIDLen = 128

// requestID keeps a client's X-Request-Id when it is at most 128 bytes of
// letters, digits and - _ . : / + = @ (UUIDs, hex and base64 ids, trace
// ids), so that it cannot inject quotes, spaces, newlines or control
// characters into a log line or a header; else it makes a new one (32 hex
// digits).
func requestID(in string) string {
	if in != "" && len(in) <= maxRequestIDLen && !strings.ContainsFunc(in, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && !strings.ContainsRune("-_.:/+=@", c)
	}) {
		return in
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) statusCode() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.status
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection over (a WebSocket of the GraphQL API); the
// answer then counts as 101 and nothing more is written through w. The
// server's read and write deadlines (http.Server ReadTimeout and
// WriteTimeout) are cleared: a subscription lives longer than a request.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status, w.wrote = http.StatusSwitchingProtocols, true
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		_ = conn.SetDeadline(time.Time{})
	}
	return conn, rw, err
}

// apiError is an error answer: the shared error shape of the APIs.
type apiError = apiview.Error

func badParam(name, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_parameter",
		Message: fmt.Sprintf("invalid parameter %s: %s", name, msg), Fields: map[string]string{name: msg}}
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	writeJSON(w, status, map[string]any{"error": &apiError{Code: code, Message: msg, Fields: fields}})
}

// fail writes err as a JSON error: an *apiError as is, a too large body as
// 413, the Go API's errors as apiview.ErrorOf maps them (400, 404, 409,
// 503), a passed deadline as 503 and anything else as 500. A 503 carries
// Retry-After; a 5xx never carries the error's text (which may name the
// database's host and user, SQL or a Go value): it is logged with the
// request id.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	id := w.Header().Get("X-Request-Id")
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.Status, ae.Code, ae.Message, ae.Fields)
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), nil)
	case apiview.ErrorOf(err) != nil:
		ae = apiview.ErrorOf(err)
		if ae.Status == http.StatusServiceUnavailable {
			s.unavailable(w, r, err, ae.Message)
			return
		}
		writeError(w, ae.Status, ae.Code, ae.Message, ae.Fields)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
		s.unavailable(w, r, err, fmt.Sprintf("the request did not finish within %s; retry later", s.opts.RequestTimeout))
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.opts.Logger.InfoContext(r.Context(), "request cancelled", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "request cancelled", nil)
	default:
		s.opts.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error: see the server log for request "+id, nil)
	}
}

// unavailable answers 503 unavailable with Retry-After and msg, and logs
// err (the database's own error) with the request id.
func (s *server) unavailable(w http.ResponseWriter, r *http.Request, err error, msg string) {
	s.opts.Logger.WarnContext(r.Context(), "request failed: database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeError(w, http.StatusServiceUnavailable, apiview.CodeUnavailable, msg, nil)
}

// readBody reads the request body (bounded by MaxBodyBytes). When required
// is false an empty body is allowed; the Content-Type must say JSON either
// way (serveRoute checks it before the handler runs, for every POST, PUT
// and PATCH).
func (s *server) readBody(w http.ResponseWriter, r *http.Request, required bool) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_body", Message: "cannot read the request body: " + err.Error()}
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		drainBody(w, r)
		return nil, &http.MaxBytesError{Limit: s.opts.MaxBodyBytes}
	}
	if len(strings.TrimSpace(string(body))) == 0 && !required {
		return nil, nil
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, unsupportedMediaType(r)
	}
	return body, nil
}

// drainBodyBytes bounds how much of a too large body is read and discarded
// so that its sender, still writing, reads the 413 answer instead of a
// connection reset.
const drainBodyBytes = 64 << 20

// drainBody discards the rest of a too large request body (at most
// drainBodyBytes); a body larger than that closes the connection after the
// answer.
func drainBody(w http.ResponseWriter, r *http.Request) {
	if n, _ := io.CopyN(io.Discard, r.Body, drainBodyBytes); n == drainBodyBytes {
		w.Header().Set("Connection", "close")
	}
}

func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
