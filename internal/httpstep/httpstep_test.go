package httpstep

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func mustParse(t *testing.T, cfg map[string]any) *Config {
	t.Helper()
	c, err := ParseConfig(cfg)
	require.NoError(t, err)
	return c
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		retryAfter string
		cfg        map[string]any
		attempt    int
		retry      time.Duration
		permanent  bool
	}{
		{status: 429, retryAfter: "30", retry: 30 * time.Second},                                              // scenario 25
		{status: 429, retryAfter: now.Add(45 * time.Second).Format(http.TimeFormat), retry: 45 * time.Second}, // HTTP-date
		{status: 429, retryAfter: "soon"},                                                                     // malformed: the step's backoff
		{status: 429},
		{status: 429, retryAfter: "0"},
		{status: 503, retryAfter: "1", retry: time.Second},
		{status: 500, retryAfter: "9"}, // only 429 and 503 honour Retry-After
		{status: 502},
		{status: 504},
		{status: 408},
		{status: 425}, // Too Early: retryable with normal backoff
		{status: 400, permanent: true},
		{status: 401, permanent: true},
		{status: 403, permanent: true},
		{status: 404, permanent: true},
		{status: 409, permanent: true},
		{status: 422, permanent: true},
		{status: 301, permanent: true},
		// max_retry_after caps the server's delay.
		{status: 429, retryAfter: "3600", cfg: map[string]any{"max_retry_after": "2m"}, retry: 2 * time.Minute},
		{status: 503, retryAfter: now.Add(time.Hour).Format(http.TimeFormat), cfg: map[string]any{"max_retry_after": 90}, retry: 90 * time.Second},
		{status: 429, retryAfter: "10", cfg: map[string]any{"max_retry_after": "2m"}, retry: 10 * time.Second},
		// retry_delay: the handler's own backoff when the server gave none.
		{status: 500, cfg: map[string]any{"retry_delay": 1.5}, attempt: 1, retry: 1500 * time.Millisecond},
		{status: 500, cfg: map[string]any{"retry_delay": 1.5}, attempt: 3, retry: 6 * time.Second},
		{status: 500, cfg: map[string]any{"retry_delay": 1.5}, attempt: 10, retry: 30 * time.Second},
		{status: 500, cfg: map[string]any{"retry_delay": 45}, attempt: 4, retry: 45 * time.Second},
		{status: 429, cfg: map[string]any{"retry_delay": 2, "enable_exponential_backoff": false}, attempt: 4, retry: 2 * time.Second},
		{status: 429, retryAfter: "7", cfg: map[string]any{"retry_delay": 2}, attempt: 4, retry: 7 * time.Second},
		{status: 503, cfg: map[string]any{"enable_exponential_backoff": true}, attempt: 2, retry: 2 * time.Second},
		{status: 404, cfg: map[string]any{"retry_delay": 2}, attempt: 1, permanent: true},
	} {
		cfg := map[string]any{"url": "https://api.example.com/x"}
		for k, v := range tc.cfg {
			cfg[k] = v
		}
		c := mustParse(t, cfg)
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		err := c.statusError(&Response{Status: tc.status, Header: h}, &Input{Attempt: tc.attempt}, now, nil)
		var se *StatusError
		require.ErrorAs(t, err, &se, tc.status)
		require.Equal(t, tc.retry, se.RetryAfter, "%d %q %v", tc.status, tc.retryAfter, tc.cfg)
		require.Equal(t, tc.permanent, se.Permanent, tc.status)
		permanent, after := Decide(err)
		require.Equal(t, tc.permanent, permanent)
		require.Equal(t, tc.retry, after)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{
		`{}`:                                                                 `handler_config.url is required: give the API's URL, such as "https://api.example.com/orders"`,
		`{"url": 3}`:                                                         `handler_config.url must be a string such as "https://api.example.com/orders"`,
		`{"url": "ftp://x"}`:                                                 `handler_config.url "ftp://x" must be an absolute http(s) URL such as "https://api.example.com/orders"`,
		`{"url": "http://x", "timeout": "abc"}`:                              `handler_config.timeout: "abc" is not a positive duration: use a value such as "30s"`,
		`{"url": "http://x", "timeout": -1}`:                                 `handler_config.timeout: -1 is not a positive duration: use a value such as "30s"`,
		`{"url": "http://x", "verb": "GET"}`:                                 `handler_config.verb is unknown: use method, url, params, headers, body, auth, tls, rate_limit, timeout, max_response_bytes, follow_redirects, max_retry_after, retry_delay, enable_exponential_backoff, type`,
		`{"url": "http://x", "ssl": {}}`:                                     `handler_config.ssl is not supported: use tls with ca_file, cert_file, key_file, server_name or insecure_skip_verify`,
		`{"url": "http://x", "headers": "a"}`:                                `handler_config.headers must be a mapping of names to strings, such as {X-Team: ops}`,
		`{"url": "http://x", "params": [1]}`:                                 `handler_config.params must be a mapping of names to strings, such as {X-Team: ops}`,
		`{"url": "http://x", "params": {"a": null}}`:                         `handler_config.params.a must be a string, a number or true/false`,
		`{"url": "http://x", "headers": {"a b": "1"}}`:                       `handler_config.headers: "a b" is not a valid header name: use letters, digits and "-", such as "X-Request-Source"`,
		`{"url": "http://x", "headers": {"X-A": "a\nb"}}`:                    `handler_config.headers.X-A holds a control character (such as a line break): remove it`,
		`{"url": "http://x", "method": 3}`:                                   `handler_config.method must be an HTTP method such as "POST"`,
		`{"url": "http://x", "method": "GET IT"}`:                            `handler_config.method "GET IT" must be an HTTP method such as "POST"`,
		`{"url": "http://x", "max_response_bytes": 1.5}`:                     `handler_config.max_response_bytes must be a positive whole number such as 1048576`,
		`{"url": "http://x", "follow_redirects": "yes"}`:                     `handler_config.follow_redirects must be true or false`,
		`{"url": "http://x", "max_retry_after": "0s"}`:                       `handler_config.max_retry_after: "0s" is not a positive duration: use a value such as "30s"`,
		`{"url": "http://x", "retry_delay": "1s"}`:                           `handler_config.retry_delay "1s" must be a number of seconds from 0.001 to 86400, such as 1.0`,
		`{"url": "http://x", "retry_delay": 0}`:                              `handler_config.retry_delay 0 must be a number of seconds from 0.001 to 86400, such as 1.0`,
		`{"url": "http://x", "retry_delay": 1e-10}`:                          `handler_config.retry_delay 1e-10 must be a number of seconds from 0.001 to 86400, such as 1.0`,
		`{"url": "http://x", "timeout": 1e-10}`:                              `handler_config.timeout: 1e-10 seconds is below 1ms: use a value such as "30s"`,
		`{"url": "http://x", "timeout": "1ns"}`:                              `handler_config.timeout: "1ns" is below 1ms: use a value such as "30s"`,
		`{"url": "http://x", "rate_limit": {"requests_per_second": 1e-300}}`: `handler_config.rate_limit.requests_per_second must be a number of at least 0.001 (one request in about 17 minutes), such as 5 or 0.5`,
		`{"url": "http://x", "enable_exponential_backoff": 1}`:               `handler_config.enable_exponential_backoff must be true or false`,
		`{"url": "http://x", "type": "rest"}`:                                `handler_config.type "rest" is unknown: the only type is "api" (the original engine's API step handler form); or leave type out`,
		// Placeholders.
		`{"url": "http://x/{{context.id"}`:                            `handler_config.url: "{{context.id" has no closing "}}": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x/{{contxt.id}}"}`:                           `handler_config.url: placeholder "{{contxt.id}}" starts with "contxt": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x/{{context..id}}"}`:                         `handler_config.url: placeholder "{{context..id}}" is malformed: write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x/{{}}"}`:                                    `handler_config.url: placeholder "{{}}" is malformed: write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x/{{dependencies}}"}`:                        `handler_config.url: placeholder "{{dependencies}}" names no step: write {{dependencies.<step>}} or {{dependencies.<step>.<path>}}`,
		`{"url": "http://{{context.host}}/a"}`:                        `handler_config.url: placeholder {{context.host}} is in the scheme or host; put placeholders in the path or query only (a host from the environment can be written ${VAR})`,
		`{"url": "http://api.{{context.host}}:80/a"}`:                 `handler_config.url: placeholder {{context.host}} is in the scheme or host; put placeholders in the path or query only (a host from the environment can be written ${VAR})`,
		`{"url": "{{context.u}}"}`:                                    `handler_config.url "{{context.u}}" must be an absolute http(s) URL such as "https://api.example.com/orders"`,
		`{"url": "http://x", "params": {"q": "{{context.a b}}"}}`:     `handler_config.params.q: placeholder "{{context.a b}}" is malformed: write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x", "headers": {"X-Id": "{{ctx.id}}"}}`:      `handler_config.headers.X-Id: placeholder "{{ctx.id}}" starts with "ctx": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		`{"url": "http://x", "body": {"a": [1, {"b": "{{context"}]}}`: `handler_config.body.a[1].b: "{{context" has no closing "}}": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`,
		// Auth.
		`{"url": "http://x", "auth": "token"}`:                                                                       `handler_config.auth must be a mapping such as {type: bearer, token_env: API_TOKEN}`,
		`{"url": "http://x", "auth": {"token_env": "T"}}`:                                                            `handler_config.auth.type is required: use "bearer" (with token_env) or "basic" (with username_env and password_env)`,
		`{"url": "http://x", "auth": {"type": "digest"}}`:                                                            `handler_config.auth.type "digest" is unknown: use "bearer" (with token_env) or "basic" (with username_env and password_env)`,
		`{"url": "http://x", "auth": {"type": "bearer"}}`:                                                            `handler_config.auth.token_env is required for type bearer: name the environment variable that holds it, such as API_TOKEN`,
		`{"url": "http://x", "auth": {"type": "bearer", "token_env": "A-B"}}`:                                        `handler_config.auth.token_env "A-B" is not an environment variable name: use letters, digits and "_", such as API_TOKEN`,
		`{"url": "http://x", "auth": {"type": "bearer", "token": "secret"}}`:                                         `handler_config.auth.token is unknown: use type, token_env, username_env, password_env`,
		`{"url": "http://x", "auth": {"type": "bearer", "token_env": ""}}`:                                           `handler_config.auth.token_env must be a non-empty string`,
		`{"url": "http://x", "auth": {"type": "basic", "username_env": "U"}}`:                                        `handler_config.auth.password_env is required for type basic: name the environment variable that holds it, such as API_PASSWORD`,
		`{"url": "http://x", "auth": {"type": "basic", "password_env": "P"}}`:                                        `handler_config.auth.username_env is required for type basic: name the environment variable that holds it, such as API_USER`,
		`{"url": "http://x", "auth": {"type": "bearer", "token_env": "T", "username_env": "U"}}`:                     `handler_config.auth.username_env does not apply to type bearer: remove it`,
		`{"url": "http://x", "auth": {"type": "basic", "username_env": "U", "password_env": "P", "token_env": "T"}}`: `handler_config.auth.token_env does not apply to type basic: remove it`,
		`{"url": "http://x", "headers": {"authorization": "x"}, "auth": {"type": "bearer", "token_env": "T"}}`:       `handler_config.headers.Authorization and handler_config.auth both set the Authorization header: keep one of them`,
		// TLS.
		`{"url": "https://x", "tls": true}`:                        `handler_config.tls must be a mapping such as {ca_file: /etc/ssl/internal-ca.pem}`,
		`{"url": "https://x", "tls": {"cert_file": "c.pem"}}`:      `handler_config.tls.cert_file and handler_config.tls.key_file go together: give both (the client certificate and its private key, PEM files) or neither`,
		`{"url": "https://x", "tls": {"key_file": "k.pem"}}`:       `handler_config.tls.cert_file and handler_config.tls.key_file go together: give both (the client certificate and its private key, PEM files) or neither`,
		`{"url": "https://x", "tls": {"insecure_skip_verify": 1}}`: `handler_config.tls.insecure_skip_verify must be true or false`,
		`{"url": "https://x", "tls": {"ca": "x"}}`:                 `handler_config.tls.ca is unknown: use ca_file, cert_file, key_file, server_name, insecure_skip_verify`,
		`{"url": "https://x", "tls": {"ca_file": 3}}`:              `handler_config.tls.ca_file must be a non-empty string`,
		// Rate limit.
		`{"url": "http://x", "rate_limit": 5}`:                                        `handler_config.rate_limit must be a mapping such as {requests_per_second: 5, burst: 10}`,
		`{"url": "http://x", "rate_limit": {}}`:                                       `handler_config.rate_limit.requests_per_second is required: give the host's allowed rate, such as 5 or 0.5`,
		`{"url": "http://x", "rate_limit": {"requests_per_second": 0}}`:               `handler_config.rate_limit.requests_per_second must be a number of at least 0.001 (one request in about 17 minutes), such as 5 or 0.5`,
		`{"url": "http://x", "rate_limit": {"requests_per_second": "5"}}`:             `handler_config.rate_limit.requests_per_second must be a number of at least 0.001 (one request in about 17 minutes), such as 5 or 0.5`,
		`{"url": "http://x", "rate_limit": {"requests_per_second": 5, "burst": 0}}`:   `handler_config.rate_limit.burst must be a whole number of at least 1 (the default)`,
		`{"url": "http://x", "rate_limit": {"requests_per_second": 5, "burst": 1.5}}`: `handler_config.rate_limit.burst must be a whole number of at least 1 (the default)`,
		`{"url": "http://x", "rate_limit": {"rps": 5}}`:                               `handler_config.rate_limit.rps is unknown: use requests_per_second, burst`,
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg), &m), cfg)
		_, err := ParseConfig(m)
		require.EqualError(t, err, want, cfg)
	}
}

// Numbers decoded from YAML are ints; the same config read back from the
// database is JSON, where they are float64: both load.
func TestParseConfigNumbers(t *testing.T) {
	t.Parallel()
	for _, n := range []any{100, 100.0, int64(100), uint64(100)} {
		c := mustParse(t, map[string]any{"url": "http://x", "max_response_bytes": n, "timeout": n,
			"params": map[string]any{"limit": 1000000.0, "ratio": 0.5, "on": true, "n": n}, "rate_limit": map[string]any{"requests_per_second": n, "burst": n}})
		require.Equal(t, int64(100), c.MaxResponse)
		require.Equal(t, 100*time.Second, c.Timeout)
		require.Equal(t, map[string]string{"limit": "1000000", "ratio": "0.5", "on": "true", "n": "100"}, c.Params)
		require.Equal(t, &RateLimit{RequestsPerSecond: 100, Burst: 100}, c.RateLimit)
	}
	c := mustParse(t, map[string]any{"url": "http://x", "type": "api", "retry_delay": 0.25, "enable_exponential_backoff": false})
	require.Equal(t, 250*time.Millisecond, c.RetryDelay)
	require.True(t, c.ConstantRetryDelay)
	c = mustParse(t, map[string]any{"url": "http://x", "type": "api"})
	require.Zero(t, c.RetryDelay, "type: api alone keeps the step's backoff")
}

func TestRun(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "q": r.URL.Query().Get("q"), "got": json.RawMessage(body),
				"key": r.Header.Get("Idempotency-Key"), "h": r.Header.Get("X-Team")})
		case "/text":
			_, _ = w.Write([]byte("plain words"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/text", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
		case "/slow":
			<-r.Context().Done()
		case "/limited":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	run := func(cfg map[string]any) (map[string]any, error) {
		c := mustParse(t, cfg)
		out, err := Run(t.Context(), c, &Input{Step: "charge", Context: json.RawMessage(`{"order_id":7}`), IdempotencyKey: "task-1/charge", Now: clock})
		if err != nil {
			return nil, err
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m))
		return m, nil
	}
	got, err := run(map[string]any{"url": srv.URL + "/json", "method": "post", "params": map[string]any{"q": "x"}, "headers": map[string]any{"X-Team": "ops"}})
	require.NoError(t, err)
	require.EqualValues(t, 200, got["status"])
	require.Equal(t, map[string]any{"method": "POST", "q": "x", "got": map[string]any{"order_id": float64(7)}, "key": "task-1/charge", "h": "ops"}, got["body"])
	require.Equal(t, "application/json", got["response_headers"].(map[string]any)["content-type"])

	got, err = run(map[string]any{"url": srv.URL + "/json", "method": "PUT", "body": map[string]any{"fixed": true}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"fixed": true}, got["body"].(map[string]any)["got"])

	got, err = run(map[string]any{"url": srv.URL + "/text"})
	require.NoError(t, err)
	require.Equal(t, "plain words", got["body"])
	got, err = run(map[string]any{"url": srv.URL + "/empty"})
	require.NoError(t, err)
	require.EqualValues(t, 204, got["status"])
	got, err = run(map[string]any{"url": srv.URL + "/redirect"})
	require.NoError(t, err)
	require.Equal(t, "plain words", got["body"], "redirects are followed")
	_, err = run(map[string]any{"url": srv.URL + "/redirect", "follow_redirects": false})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 302, se.Status)
	require.True(t, se.Permanent)
	got, err = run(map[string]any{"url": srv.URL + "/big", "max_response_bytes": 100})
	require.NoError(t, err)
	require.Len(t, got["body"], 100)
	require.Equal(t, "100", got["body_truncated_at"])
	_, err = run(map[string]any{"url": srv.URL + "/slow", "timeout": "100ms"})
	require.EqualError(t, err, "GET "+srv.URL+"/slow: no answer within 100ms")
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	require.JSONEq(t, `{"error_kind": "timeout", "url": "`+srv.URL+`/slow"}`, string(ne.Details()))
	permanent, after := Decide(err)
	require.False(t, permanent)
	require.Zero(t, after)
	_, err = run(map[string]any{"url": srv.URL + "/limited"})
	require.ErrorAs(t, err, &se)
	require.Equal(t, 7*time.Second, se.RetryAfter)
	require.EqualError(t, err, "HTTP 429 Too Many Requests: slow down")
}

// The step's own context ending (its timeout, a cancelled task) is not a
// network error: the engine records it as such.
func TestRunContextEnds(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, mustParse(t, map[string]any{"url": srv.URL + "/a?key=secret"}), &Input{})
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "GET "+srv.URL+"/a: context canceled")
	var ne *NetworkError
	require.NotErrorAs(t, err, &ne)
}
