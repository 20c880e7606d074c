package httpstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/tasker-go/tasker/internal/retrypolicy"
)

// Input is what a call knows of its step.
type Input struct {
	// Step is the step's name, for error messages.
	Step string
	// Attempt is the attempt's number (from 1), for the retry_delay backoff.
	Attempt int
	// Context is the task context (JSON).
	Context json.RawMessage
	// Dependencies are the results of the parent steps by name.
	Dependencies map[string]json.RawMessage
	// IdempotencyKey is sent as the Idempotency-Key header when not empty.
	IdempotencyKey string
	// Now is the clock (Retry-After dates, rate limit). Defaults to time.Now.
	Now func() time.Time
	// LookupEnv reads credentials. Defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Response is a 2xx answer (or, inside a *StatusError, any other one).
type Response struct {
	Status int
	Header http.Header
	// Body is the answer's body, at most max_response_bytes.
	Body []byte
	// Truncated tells that the body was longer than max_response_bytes.
	Truncated bool
}

// Run calls the API and returns the step result of Result.
func Run(ctx context.Context, c *Config, in *Input) (json.RawMessage, error) {
	resp, err := Do(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return Result(resp, c.MaxResponse)
}

// Result is the default step result of an answer: {"status",
// "response_headers" (lower-case names), "body" (the JSON value when the
// body is JSON, else the text)}, plus "body_truncated_at" when the body was
// cut at maxBytes.
func Result(resp *Response, maxBytes int64) (json.RawMessage, error) {
	headers := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		headers[strings.ToLower(k)] = resp.Header.Get(k)
	}
	out := map[string]any{"status": resp.Status, "response_headers": headers}
	if !resp.Truncated && len(bytes.TrimSpace(resp.Body)) > 0 && json.Valid(resp.Body) {
		out["body"] = json.RawMessage(resp.Body)
	} else {
		out["body"] = string(resp.Body)
	}
	if resp.Truncated {
		out["body_truncated_at"] = strconv.FormatInt(maxBytes, 10)
	}
	return json.Marshal(out)
}

// Do sends the request of c and returns the 2xx answer. Other outcomes are
// errors that Decide classifies: *StatusError, *NetworkError,
// *RateLimitError, *ConfigError and *MissingValueError, or the error of ctx
// when it ends.
func Do(ctx context.Context, c *Config, in *Input) (*Response, error) {
	if err := c.Compile(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	now := in.Now
	if now == nil {
		now = time.Now
	}
	lookup := in.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	req, err := c.build(ctx, in, lookup)
	if err != nil {
		return nil, err
	}
	tr, err := transportFor(c.TLS)
	if err != nil {
		return nil, err
	}
	if c.RateLimit != nil {
		if err := waitToken(ctx, c.hostKey, c.RateLimit, now); err != nil {
			return nil, err
		}
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req = req.WithContext(reqCtx)
	client := &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	if !c.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return nil, ce // a refused redirect: permanent
		}
		return nil, c.networkError(ctx, reqCtx, req, in, err)
	}
	defer func() { _ = resp.Body.Close() }()
	limit := min(c.MaxResponse, maxResponseCap) // no overflow of limit+1
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.networkError(ctx, reqCtx, req, in, fmt.Errorf("reading the answer: %w", err))
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	if int64(len(raw)) > limit {
		out.Body, out.Truncated = raw[:limit], true
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return out, nil
	}
	return nil, c.statusError(out, in, now(), credentials(req.Header))
}

// build makes the request (without its timeout): placeholders, body,
// headers and credentials.
func (c *Config) build(ctx context.Context, in *Input, lookup func(string) (string, bool)) (*http.Request, error) {
	vals := &values{step: in.Step, context: in.Context, deps: in.Dependencies}
	// marked is the URL with each path placeholder as a NUL byte, to find
	// the path segments that placeholders make.
	var sb, marked strings.Builder
	for i, p := range c.url.parts {
		if p.ph == nil {
			sb.WriteString(p.lit)
			marked.WriteString(p.lit)
			continue
		}
		v, err := vals.lookup(p.ph)
		if err != nil {
			return nil, err
		}
		s := formatText(v)
		if c.sections[i] == sectionQuery {
			sb.WriteString(url.QueryEscape(s))
			marked.WriteString(url.QueryEscape(s))
		} else {
			sb.WriteString(url.PathEscape(s))
			marked.WriteByte(0)
		}
	}
	if err := checkPathSegments(sb.String(), marked.String(), in.Step); err != nil {
		return nil, err
	}
	u, err := url.Parse(sb.String())
	if err != nil {
		return nil, configErrorf("handler_config.url of step %q is not a valid URL once its placeholders are replaced: %v", in.Step, redactURLError(err))
	}
	if len(c.params) > 0 {
		// params replace the URL's parameters of the same name. A query
		// that Go cannot parse without loss (";" separators, a stray "%")
		// is kept as written, and params are appended to it.
		q, qerr := url.ParseQuery(u.RawQuery)
		extra := url.Values{}
		for _, p := range c.params {
			v, err := p.val.render(vals, nil)
			if err != nil {
				return nil, err
			}
			q.Set(p.name, v)
			extra.Set(p.name, v)
		}
		switch {
		case qerr == nil:
			u.RawQuery = q.Encode()
		case u.RawQuery == "":
			u.RawQuery = extra.Encode()
		default:
			u.RawQuery += "&" + extra.Encode()
		}
	}
	var body io.Reader
	switch {
	case c.Body != nil:
		v, err := renderBody(c.body, vals)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, configErrorf("handler_config.body is not JSON-encodable: %w", err)
		}
		body = bytes.NewReader(b)
	case c.Method == http.MethodPost || c.Method == http.MethodPut || c.Method == http.MethodPatch:
		ctxJSON := in.Context
		if len(bytes.TrimSpace(ctxJSON)) == 0 {
			ctxJSON = json.RawMessage(`{}`)
		}
		body = bytes.NewReader(ctxJSON)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, u.String(), body)
	if err != nil {
		return nil, configErrorf("build the request of step %q: %v", in.Step, redactURLError(err))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if in.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.IdempotencyKey)
	}
	// The task's trace continues in the service called (traceparent and
	// tracestate of the step's span, or of the task's stored context); a
	// configured header of the same name wins.
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	for _, h := range c.headers {
		v, err := h.val.render(vals, nil)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(v) {
			return nil, configErrorf("handler_config.headers.%s of step %q holds a control character (such as a line break) once its placeholders are replaced: clean the value in the task context or results", h.name, in.Step)
		}
		req.Header.Set(h.name, v)
	}
	if err := c.Auth.apply(req, lookup); err != nil {
		return nil, err
	}
	return req, nil
}

// apply sets the Authorization header from the environment. Errors name the
// variable, never its value.
func (a *Auth) apply(req *http.Request, lookup func(string) (string, bool)) error {
	if a == nil {
		return nil
	}
	get := func(key, name, what string) (string, error) {
		v, _ := lookup(name)
		if v == "" {
			return "", configErrorf("handler_config.auth.%s: environment variable %s is not set or empty: set it to %s in the environment of every worker that runs this step", key, name, what)
		}
		return v, nil
	}
	switch a.Type {
	case "bearer":
		tok, err := get("token_env", a.TokenEnv, "the bearer token")
		if err != nil {
			return err
		}
		if !validHeaderValue(tok) {
			return configErrorf("handler_config.auth.token_env: environment variable %s holds a control character (such as a line break): remove it", a.TokenEnv)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case "basic":
		user, err := get("username_env", a.UsernameEnv, "the user name")
		if err != nil {
			return err
		}
		pass, err := get("password_env", a.PasswordEnv, "the password")
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pass)
	}
	return nil
}

// statusError classifies a non-2xx answer. The credentials the request
// sent (creds) are redacted from the body kept in the error, which is
// stored on the step: an answer may echo the request's headers.
func (c *Config) statusError(resp *Response, in *Input, now time.Time, creds []string) error {
	e := &StatusError{Status: resp.Status, Body: redact(string(resp.Body), creds), Header: resp.Header, Response: resp}
	switch s := resp.Status; {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		if d, err := retrypolicy.ParseRetryAfter(resp.Header.Get("Retry-After"), now); err == nil && d > 0 {
			if c.MaxRetryAfter > 0 {
				d = min(d, c.MaxRetryAfter)
			}
			e.RetryAfter = d
		}
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s >= 500:
	default:
		e.Permanent = true
	}
	if !e.Permanent && e.RetryAfter == 0 {
		e.RetryAfter = c.ownBackoff(in.Attempt)
	}
	return e
}

// ownBackoff is the retry_delay backoff after attempt n, or zero.
func (c *Config) ownBackoff(n int) time.Duration {
	if c.RetryDelay <= 0 {
		return 0
	}
	if c.ConstantRetryDelay {
		return c.RetryDelay
	}
	limit := max(MaxExponentialRetryDelay, c.RetryDelay)
	d := c.RetryDelay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// networkError classifies a request that got no answer. When the caller's
// ctx ended (the step's timeout, a cancelled task, a stopping worker), the
// error wraps ctx's error.
func (c *Config) networkError(ctx, reqCtx context.Context, req *http.Request, in *Input, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text holds the whole URL, query included
	}
	where := redactURL(req.URL)
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", req.Method, where, ctx.Err())
	}
	e := &NetworkError{Kind: KindConnection, Method: req.Method, URL: where, Err: err, RetryAfter: c.ownBackoff(in.Attempt)}
	var ne net.Error
	switch {
	case reqCtx.Err() != nil:
		e.Kind, e.Timeout = KindTimeout, c.Timeout
	case errors.As(err, &ne) && ne.Timeout():
		e.Kind = KindTimeout
	}
	return e
}

// redactURL drops the user info, query and fragment of u, which may hold
// credentials (api_key=...).
// checkPathSegments refuses a URL whose placeholders make a path segment
// empty, "." or "..": task data must not move the request to another path
// of the host (DELETE /v1/users/ instead of /v1/users/7; /v1/users/../x).
// built is the URL with the values, marked the same URL with each path
// placeholder as a NUL byte; values cannot add segments ("/" is escaped).
func checkPathSegments(built, marked, step string) error {
	if !strings.Contains(marked, "\x00") {
		return nil
	}
	path := func(s string) []string {
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[i:]
		} else {
			return nil
		}
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return strings.Split(s, "/")
	}
	bs, ms := path(built), path(marked)
	if len(bs) != len(ms) {
		return nil // cannot happen: values are path-escaped
	}
	for i, seg := range bs {
		if strings.Contains(ms[i], "\x00") && (seg == "" || seg == "." || seg == "..") {
			return configErrorf("handler_config.url of step %q: its placeholders make the path segment %q, which would change the request's path: give values that make a segment other than \"\", \".\" or \"..\"",
				step, seg)
		}
	}
	return nil
}

// maxResponseCap bounds the response bytes kept, whatever MaxResponse says.
const maxResponseCap = 1 << 30

// maxRedirects is how many redirects a request follows.
const maxRedirects = 10

// checkRedirect follows a redirect unless it leaves https for http (the
// credentials and the data would travel in clear: a permanent error), and
// drops the credentials (Authorization and the configured headers, which
// may hold API keys) when it leaves the original host. Go itself drops
// Authorization only on a change of domain, and keeps other headers.
func (c *Config) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	orig := via[0]
	if orig.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return configErrorf("refused a redirect from https to %s: the request's credentials and data would travel unencrypted; point handler_config.url at the final https address", redactURL(req.URL))
	}
	if req.URL.Host != orig.URL.Host {
		req.Header.Del("Authorization")
		for name := range c.Headers {
			req.Header.Del(name)
		}
	}
	return nil
}

func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}

// redactURLError keeps the cause of a URL parse error, not the URL.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
