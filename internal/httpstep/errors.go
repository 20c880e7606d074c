package httpstep

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBodyExcerpt bounds the body excerpt kept in an error's details.
const MaxBodyExcerpt = 1024

// maxHeaderValue bounds each header value kept in an error's details.
const maxHeaderValue = 256

// ErrorClass is the class of the step errors of the http handler: the name
// its public error type had in the root package, kept for compatibility
// (stored step errors, tests and dashboards match on it).
const ErrorClass = "*tasker.HTTPError"

// StatusError is a non-2xx answer.
type StatusError struct {
	Status int
	// RetryAfter is the delay to request before the next attempt: the
	// server's Retry-After (429 and 503; capped by MaxRetryAfter) or, when
	// there is none and the config has a RetryDelay, the handler's own
	// backoff. Zero means the step's backoff.
	RetryAfter time.Duration
	// Permanent: retrying will not help (4xx other than 408, 425 and 429;
	// an unfollowed 3xx).
	Permanent bool
	// Body is the answer's body (at most max_response_bytes), as text,
	// with the values of the request's credential headers (see
	// CredentialHeader) replaced by Redacted.
	Body string
	// Header is the answer's header.
	Header http.Header
	// Response is the whole answer, as received (not redacted; never
	// stored).
	Response *Response
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + cut(strings.ToValidUTF8(b, "\uFFFD"), 300, "…")
	}
	return msg
}

// ErrorClass is the class stored on the step's error (tasker.ClassifiedError).
func (e *StatusError) ErrorClass() string { return ErrorClass }

// Details is the JSON stored on the step's error: {"status", "body_excerpt"
// (at most 1 KiB), "headers" (only the headers of interest, lower-case)}.
func (e *StatusError) Details() json.RawMessage {
	d := struct {
		Status      int               `json:"status"`
		BodyExcerpt string            `json:"body_excerpt"`
		Headers     map[string]string `json:"headers,omitempty"`
	}{Status: e.Status, BodyExcerpt: cut(strings.ToValidUTF8(e.Body, "\uFFFD"), MaxBodyExcerpt, ""), Headers: headersOfInterest(e.Header)}
	return mustJSON(d)
}

// HeaderOfInterest reports whether an answer's header is kept in error
// details: Retry-After, Content-Type, X-Request-Id, Location, and the rate
// limit headers (X-RateLimit-*, RateLimit, RateLimit-*).
func HeaderOfInterest(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "retry-after", "content-type", "x-request-id", "location", "ratelimit":
		return true
	}
	return strings.HasPrefix(n, "x-ratelimit-") || strings.HasPrefix(n, "ratelimit-")
}

func headersOfInterest(h http.Header) map[string]string {
	var out map[string]string
	for name, vals := range h {
		if !HeaderOfInterest(name) || len(vals) == 0 {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.ToLower(name)] = cut(strings.ToValidUTF8(strings.Join(vals, ", "), "\uFFFD"), maxHeaderValue, "")
	}
	return out
}

// Error kinds of a NetworkError.
const (
	KindTimeout    = "timeout"
	KindConnection = "connection"
)

// NetworkError is a request that got no answer: a timeout or a connection
// error (refused, reset, DNS, TLS). It is retryable.
type NetworkError struct {
	Kind   string // KindTimeout or KindConnection
	Method string
	// URL is the request's URL without its query, fragment and user info.
	URL     string
	Timeout time.Duration // the handler's timeout, for the message
	// RetryAfter is the handler's own backoff (retry_delay), zero for the
	// step's backoff.
	RetryAfter time.Duration
	Err        error
}

func (e *NetworkError) Error() string {
	if e.Kind == KindTimeout && e.Timeout > 0 {
		return fmt.Sprintf("%s %s: no answer within %s", e.Method, e.URL, e.Timeout)
	}
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// ErrorClass is the class stored on the step's error.
func (e *NetworkError) ErrorClass() string { return ErrorClass }

// Details is {"error_kind": "timeout"|"connection", "url": ...}.
func (e *NetworkError) Details() json.RawMessage {
	return mustJSON(map[string]string{"error_kind": e.Kind, "url": e.URL})
}

// RateLimitError is a request not sent because the host's rate limit
// (handler_config.rate_limit) would make it wait past the step's deadline.
// It is retryable after Wait.
type RateLimitError struct {
	Host string // scheme://host:port
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limit of %s (handler_config.rate_limit): the next request is allowed in %s, after the step's deadline; retrying then", e.Host, e.Wait)
}

// ErrorClass is the class stored on the step's error.
func (e *RateLimitError) ErrorClass() string { return ErrorClass }

// Details is {"error_kind": "rate_limit", "url": "<scheme://host:port>"}.
func (e *RateLimitError) Details() json.RawMessage {
	return mustJSON(map[string]string{"error_kind": "rate_limit", "url": e.Host})
}

// ConfigError is a problem retrying cannot fix: an invalid configuration, a
// credential missing from the environment, unreadable TLS files, a request
// that cannot be built. It is permanent.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// Decide tells how the engine should treat an error of Do: permanent (no
// retry), or retryable after retryAfter (zero: the step's backoff).
func Decide(err error) (permanent bool, retryAfter time.Duration) {
	var (
		ce *ConfigError
		me *MissingValueError
		se *StatusError
		ne *NetworkError
		re *RateLimitError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &me):
		return true, 0
	case errors.As(err, &se):
		return se.Permanent, se.RetryAfter
	case errors.As(err, &re):
		return false, re.Wait
	case errors.As(err, &ne):
		return false, ne.RetryAfter
	}
	return false, 0
}

// cut shortens s to at most n bytes at a rune boundary, adding mark (which
// counts toward n only when it is empty).
func cut(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
