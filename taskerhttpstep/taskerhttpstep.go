package taskerhttpstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/httpstep"
)

// Options customise an Handler.
type Options struct {
	// ProcessResults turns a 2xx answer into the step's results, like the
	// original engine's process_results. It is not called for other answers
	// (they are errors, see Call). An error it returns fails the attempt
	// as any handler error does (wrap it with tasker.PermanentError to stop
	// retrying). Nil means the built-in handler's results,
	// Response.Results.
	ProcessResults func(step *tasker.StepContext, resp *Response) (any, error)
}

// Handler is the built-in "http" handler with options: register it under
// a name of your own and use that name as the handler of steps whose
// handler_config has the same keys as the http handler's.
//
//	reg.MustRegisterHandler("order_api", taskerhttpstep.NewHandler(taskerhttpstep.Options{
//		ProcessResults: func(s *tasker.StepContext, resp *taskerhttpstep.Response) (any, error) {
//			var order struct{ ID string `json:"id"` }
//			if err := resp.DecodeJSON(&order); err != nil {
//				return nil, tasker.PermanentError(err)
//			}
//			return map[string]any{"order_id": order.ID}, nil
//		},
//	}))
//
// Its handler_config is checked when templates load (it is a
// tasker.ConfigValidator and tasker.ConfigDependencies) and read with exact
// numbers (tasker.ExactConfigUser).
type Handler struct {
	opts Options
}

// NewHandler returns an http handler with opts.
func NewHandler(opts Options) *Handler {
	return &Handler{opts: opts}
}

// ValidateConfig implements tasker.ConfigValidator.
func (h *Handler) ValidateConfig(config map[string]any) error {
	_, err := httpstep.ParseConfig(config)
	return err
}

// UsesExactConfig implements tasker.ExactConfigUser: handler_config numbers
// are sent digit for digit.
func (h *Handler) UsesExactConfig() bool { return true }

// ConfigDependencies implements tasker.ConfigDependencies: the parent steps
// whose results the config's {{dependencies.<step>}} placeholders read.
func (h *Handler) ConfigDependencies(config map[string]any) ([]string, error) {
	cfg, err := httpstep.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	return cfg.Dependencies(), nil
}

// Handle implements tasker.StepHandler: it calls the API described by the step's
// handler_config and returns the results of ProcessResults.
func (h *Handler) Handle(ctx context.Context, s *tasker.StepContext) (any, error) {
	cfg, err := httpstep.ParseConfig(s.Config)
	if err != nil {
		return nil, tasker.PermanentError(err)
	}
	resp, err := callHTTP(ctx, s, cfg)
	if err != nil {
		return nil, err
	}
	if h.opts.ProcessResults != nil {
		return h.opts.ProcessResults(s, resp)
	}
	return resp.Results()
}

// Config describes a call of Call. Its fields are the keys of the
// http handler's handler_config (docs/handlers.md); zero values mean the
// same defaults.
type Config struct {
	// Method defaults to GET.
	Method string
	// URL is required, http or https. Placeholders ({{context.<path>}},
	// {{dependencies.<step>.<path>}}) may be in its path (path-escaped) and
	// query (query-escaped), not in its scheme or host.
	URL string
	// Params are query parameters; values may hold placeholders.
	Params map[string]string
	// Headers are added to the request; values may hold placeholders.
	Headers map[string]string
	// Body is sent as JSON; nil sends the task context for POST, PUT and
	// PATCH and nothing otherwise. Placeholders are replaced in the strings
	// of map[string]any and []any values: a string that is exactly one
	// placeholder becomes the value with its JSON type.
	Body any
	// Auth sets the Authorization header from environment variables.
	Auth *Auth
	// TLS configures HTTPS.
	TLS *TLS
	// RateLimit is a token bucket per host, shared by the process.
	RateLimit *RateLimit
	// Timeout bounds the request and the reading of the answer. Defaults
	// to 30s.
	Timeout time.Duration
	// MaxResponseBytes caps the body kept. Defaults to 1 MiB.
	MaxResponseBytes int64
	// DisableRedirects makes a 3xx answer an error instead of following it.
	DisableRedirects bool
	// MaxRetryAfter caps a server's Retry-After (the step's
	// backoff.max_requested applies too). Zero means no cap of its own.
	MaxRetryAfter time.Duration
	// RetryDelay, when positive, is the base of a backoff requested for
	// retryable failures without Retry-After: RetryDelay·2^(attempt-1),
	// capped at 30s (or RetryDelay when larger). Zero means the step's
	// backoff.
	RetryDelay time.Duration
	// ConstantRetryDelay makes that backoff RetryDelay every time.
	ConstantRetryDelay bool
}

// Auth is the credentials of a call, read from the environment when the
// call is made: Type "bearer" with TokenEnv, or "basic" with UsernameEnv and
// PasswordEnv. A variable that is missing or empty is a permanent error.
type Auth struct {
	Type        string
	TokenEnv    string
	UsernameEnv string
	PasswordEnv string
}

// TLS configures HTTPS. The files are PEM, read at the first call that
// uses them; calls with the same TLS share one transport (and its
// connections) for the life of the process.
type TLS struct {
	// CAFile holds the CA certificates trusted instead of the system's.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key; give both
	// or neither.
	CertFile string
	KeyFile  string
	// ServerName is the name verified in the server's certificate and sent
	// as SNI; default: the URL's host.
	ServerName string
	// InsecureSkipVerify disables verification of the server's
	// certificate. For tests only.
	InsecureSkipVerify bool
}

// RateLimit is a token bucket per host (scheme, host and port) shared by
// every step and call of the process: at most RequestsPerSecond on average,
// Burst at once (default 1). When calls give one host different limits, the
// strictest seen so far applies.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int
}

// Response is a 2xx answer (or, in an Error, another one).
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the answer's body, at most MaxResponseBytes.
	Body []byte
	// Truncated tells that the body was longer and was cut.
	Truncated bool

	maxBytes int64
}

// DecodeJSON decodes the body into v.
func (r *Response) DecodeJSON(v any) error {
	if r.Truncated {
		return fmt.Errorf("decode HTTP %d answer: the body is longer than %d bytes (max_response_bytes)", r.Status, r.maxBytes)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode HTTP %d answer: %w", r.Status, err)
	}
	return nil
}

// Results returns the built-in http handler's step results for the answer:
// {"status", "response_headers" (lower-case names), "body" (JSON when the
// body is JSON, else text)}, plus "body_truncated_at" when it was cut.
func (r *Response) Results() (json.RawMessage, error) {
	return httpstep.Result(&httpstep.Response{Status: r.Status, Header: r.Header, Body: r.Body, Truncated: r.Truncated}, r.maxBytes)
}

// Error is a call that got no 2xx answer. Call returns it wrapped by
// tasker.PermanentError or tasker.RetryAfter as the http handler classifies it; find it
// with errors.As. Its Details are stored on the step's error.
type Error struct {
	// Status is the answer's status; 0 when no answer came.
	Status int
	// Kind is "status" (a non-2xx answer), "timeout", "connection" or
	// "rate_limit" (the request was not sent: the host's rate limit would
	// have made it wait past the step's deadline).
	Kind string
	// Response is the non-2xx answer, nil when none came.
	Response *Response

	err     error
	details json.RawMessage
}

func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.err }

// ErrorClass implements tasker.ClassifiedError: "*tasker.HTTPError", the
// class stored on step errors since this type was tasker.HTTPError.
func (e *Error) ErrorClass() string { return httpstep.ErrorClass }

// Details implements tasker.DetailedError: {"status", "body_excerpt" (at most 1
// KiB), "headers" (Retry-After, Content-Type, X-Request-Id, Location and
// rate limit headers)} for an answer, {"error_kind", "url" (without query
// or user info)} otherwise.
func (e *Error) Details() json.RawMessage { return e.details }

// Call calls an HTTP API as the built-in http handler does, for Go
// handlers: cfg's placeholders are filled from step (its task context and
// dependency results), credentials come from the environment, the host's
// rate limit is waited for, and the request carries step's idempotency key.
// A 2xx answer is returned; anything else is an error marked as the handler
// marks it: tasker.PermanentError for a bad configuration, a missing placeholder
// value or environment variable, or a 4xx answer other than 408, 425 and
// 429; tasker.RetryAfter with the server's delay (429, 503) or the RetryDelay
// backoff; otherwise a plain, retryable error. Answers and network errors
// are *Error (errors.As).
//
// step may be nil: there are then no placeholder values and no idempotency
// key.
func Call(ctx context.Context, step *tasker.StepContext, cfg Config) (*Response, error) {
	c := &httpstep.Config{
		Method: cfg.Method, URL: cfg.URL, Headers: cfg.Headers, Params: cfg.Params, Body: cfg.Body,
		Timeout: cfg.Timeout, MaxResponse: cfg.MaxResponseBytes, FollowRedirects: !cfg.DisableRedirects,
		MaxRetryAfter: cfg.MaxRetryAfter, RetryDelay: cfg.RetryDelay, ConstantRetryDelay: cfg.ConstantRetryDelay,
	}
	if a := cfg.Auth; a != nil {
		c.Auth = &httpstep.Auth{Type: a.Type, TokenEnv: a.TokenEnv, UsernameEnv: a.UsernameEnv, PasswordEnv: a.PasswordEnv}
	}
	if t := cfg.TLS; t != nil {
		c.TLS = &httpstep.TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	if r := cfg.RateLimit; r != nil {
		c.RateLimit = &httpstep.RateLimit{RequestsPerSecond: r.RequestsPerSecond, Burst: r.Burst}
	}
	return callHTTP(ctx, step, c)
}

func callHTTP(ctx context.Context, s *tasker.StepContext, c *httpstep.Config) (*Response, error) {
	in := &httpstep.Input{}
	if s != nil {
		in.Attempt, in.Dependencies, in.Now = s.Attempt, s.DependencyResults(), s.Now
		if s.Task != nil {
			in.Context = s.Task.Context
		}
		if s.Step != nil {
			in.Step = s.Step.Name
		}
		if s.Task != nil && s.Step != nil {
			in.IdempotencyKey = s.IdempotencyKey()
		}
	}
	resp, err := httpstep.Do(ctx, c, in)
	if err != nil {
		return nil, classifyError(err, c.MaxResponse)
	}
	return &Response{Status: resp.Status, Header: resp.Header, Body: resp.Body, Truncated: resp.Truncated, maxBytes: c.MaxResponse}, nil
}

// classifyError marks an error of httpstep.Do for the engine.
func classifyError(err error, maxBytes int64) error {
	permanent, after := httpstep.Decide(err)
	var (
		se  *httpstep.StatusError
		ne  *httpstep.NetworkError
		re  *httpstep.RateLimitError
		out = err
	)
	switch {
	case errors.As(err, &se):
		r := se.Response
		out = &Error{Status: se.Status, Kind: "status", err: err, details: se.Details(),
			Response: &Response{Status: r.Status, Header: r.Header, Body: r.Body, Truncated: r.Truncated, maxBytes: maxBytes}}
	case errors.As(err, &ne):
		out = &Error{Kind: ne.Kind, err: err, details: ne.Details()}
	case errors.As(err, &re):
		out = &Error{Kind: "rate_limit", err: err, details: re.Details()}
	}
	switch {
	case permanent:
		return tasker.PermanentError(out)
	case after > 0:
		return tasker.RetryAfter(out, after)
	}
	return out
}
