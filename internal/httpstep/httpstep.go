// Package httpstep is the mechanics of the built-in "http" step handler: it
// calls an HTTP API and classifies the answer the way the original engine's
// API step handler did, with its defects fixed: 2xx is a result; 429 and 503
// are retryable after the server's Retry-After (delta-seconds or HTTP-date);
// 408 and other 5xx are retryable; any other status is permanent.
package httpstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/retrypolicy"
)

// Config is the handler_config of an http step.
type Config struct {
	Method  string            // default GET
	URL     string            // required, http or https
	Headers map[string]string // added to the request
	Params  map[string]string // query parameters
	// Body is sent as JSON: nil sends the task context for POST, PUT and
	// PATCH and nothing otherwise.
	Body            any
	Timeout         time.Duration // default 30s
	MaxResponse     int64         // response bytes kept, default 1 MiB
	FollowRedirects bool          // default true
}

var validKeys = []string{"method", "url", "headers", "params", "body", "timeout", "max_response_bytes", "follow_redirects"}

// ParseConfig reads a handler_config; errors name the field and the fix.
func ParseConfig(m map[string]any) (*Config, error) {
	c := &Config{Method: http.MethodGet, Timeout: 30 * time.Second, MaxResponse: 1 << 20, FollowRedirects: true}
	for k, v := range m {
		switch k {
		case "method":
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, errors.New("handler_config.method must be an HTTP method such as \"POST\"")
			}
			c.Method = strings.ToUpper(s)
		case "url":
			s, _ := v.(string)
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("handler_config.url %q must be an absolute http(s) URL such as \"https://api.example.com/orders\"", s)
			}
			c.URL = s
		case "headers", "params":
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("handler_config.%s must be a map of strings", k)
			}
			out := make(map[string]string, len(mm))
			for kk, vv := range mm {
				out[kk] = fmt.Sprint(vv)
			}
			if k == "headers" {
				c.Headers = out
			} else {
				c.Params = out
			}
		case "body":
			c.Body = v
		case "timeout":
			d, err := duration(v)
			if err != nil {
				return nil, fmt.Errorf("handler_config.timeout: %w", err)
			}
			c.Timeout = d
		case "max_response_bytes":
			n, ok := v.(int)
			if !ok || n <= 0 {
				return nil, errors.New("handler_config.max_response_bytes must be a positive whole number")
			}
			c.MaxResponse = int64(n)
		case "follow_redirects":
			b, ok := v.(bool)
			if !ok {
				return nil, errors.New("handler_config.follow_redirects must be true or false")
			}
			c.FollowRedirects = b
		default:
			return nil, fmt.Errorf("handler_config.%s is unknown: use %s", k, strings.Join(validKeys, ", "))
		}
	}
	if c.URL == "" {
		return nil, errors.New("handler_config.url is required: give the API's URL, such as \"https://api.example.com/orders\"")
	}
	return c, nil
}

func duration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%q is not a positive duration: use a value such as \"30s\"", x)
		}
		return d, nil
	case int:
		if x > 0 {
			return time.Duration(x) * time.Second, nil
		}
	case float64:
		if x > 0 {
			return time.Duration(x * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("%v is not a positive duration: use a value such as \"30s\"", v)
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Status int
	// RetryAfter is the server's requested delay (429 and 503), zero when
	// absent or malformed.
	RetryAfter time.Duration
	// Permanent: retrying will not help (4xx other than 408 and 429).
	Permanent bool
	Body      string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if b := strings.TrimSpace(e.Body); b != "" {
		if len(b) > 300 {
			b = b[:300] + "…"
		}
		msg += ": " + b
	}
	return msg
}

// Classify turns a status and its Retry-After header into nil (2xx) or a
// *StatusError.
func Classify(status int, retryAfter string, body string, now time.Time) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	e := &StatusError{Status: status, Body: body}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		if d, err := retrypolicy.ParseRetryAfter(retryAfter, now); err == nil {
			e.RetryAfter = d
		}
	case status == http.StatusRequestTimeout || status >= 500:
	default:
		e.Permanent = true
	}
	return e
}

// Run calls the API with the task context and returns the step result:
// {"status": 200, "response_headers": {...}, "body": <JSON or text>}.
func Run(ctx context.Context, c *Config, taskContext json.RawMessage, idempotencyKey string, now func() time.Time) (json.RawMessage, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	if len(c.Params) > 0 {
		q := u.Query()
		for k, v := range c.Params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	switch {
	case c.Body != nil:
		b, err := json.Marshal(c.Body)
		if err != nil {
			return nil, fmt.Errorf("handler_config.body is not JSON-encodable: %w", err)
		}
		body = bytes.NewReader(b)
	case c.Method == http.MethodPost || c.Method == http.MethodPut || c.Method == http.MethodPatch:
		if len(taskContext) == 0 {
			taskContext = json.RawMessage(`{}`)
		}
		body = bytes.NewReader(taskContext)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{}
	if !c.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s %s: no answer within %s", c.Method, c.URL, c.Timeout)
		}
		return nil, fmt.Errorf("%s %s: %w", c.Method, c.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", c.Method, c.URL, err)
	}
	truncated := int64(len(raw)) > c.MaxResponse
	if truncated {
		raw = raw[:c.MaxResponse]
	}
	if err := Classify(resp.StatusCode, resp.Header.Get("Retry-After"), string(raw), now()); err != nil {
		return nil, err
	}
	headers := map[string]string{}
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		headers[strings.ToLower(k)] = resp.Header.Get(k)
	}
	out := map[string]any{"status": resp.StatusCode, "response_headers": headers}
	if !truncated && json.Valid(raw) && len(bytes.TrimSpace(raw)) > 0 {
		out["body"] = json.RawMessage(raw)
	} else {
		out["body"] = string(raw)
	}
	if truncated {
		out["body_truncated_at"] = strconv.FormatInt(c.MaxResponse, 10)
	}
	return json.Marshal(out)
}
