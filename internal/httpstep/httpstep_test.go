package httpstep

import (
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

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		retryAfter string
		retry      time.Duration
		permanent  bool
		ok         bool
	}{
		{status: 200, ok: true},
		{status: 204, ok: true},
		{status: 429, retryAfter: "30", retry: 30 * time.Second}, // scenario 25
		{status: 429, retryAfter: now.Add(45 * time.Second).Format(http.TimeFormat), retry: 45 * time.Second}, // HTTP-date
		{status: 429, retryAfter: "soon"}, // malformed: the step's backoff
		{status: 429},
		{status: 503, retryAfter: "1", retry: time.Second},
		{status: 500},
		{status: 502},
		{status: 408},
		{status: 400, permanent: true},
		{status: 401, permanent: true},
		{status: 403, permanent: true},
		{status: 404, permanent: true},
		{status: 422, permanent: true},
		{status: 301, permanent: true},
	} {
		err := Classify(tc.status, tc.retryAfter, "", now)
		if tc.ok {
			require.NoError(t, err, tc.status)
			continue
		}
		var se *StatusError
		require.ErrorAs(t, err, &se, tc.status)
		require.Equal(t, tc.retry, se.RetryAfter, "%d %q", tc.status, tc.retryAfter)
		require.Equal(t, tc.permanent, se.Permanent, tc.status)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{
		`{}`:                                    `handler_config.url is required: give the API's URL, such as "https://api.example.com/orders"`,
		`{"url": "ftp://x"}`:                    `handler_config.url "ftp://x" must be an absolute http(s) URL such as "https://api.example.com/orders"`,
		`{"url": "http://x", "timeout": "abc"}`: `handler_config.timeout: "abc" is not a positive duration: use a value such as "30s"`,
		`{"url": "http://x", "verb": "GET"}`:    `handler_config.verb is unknown: use method, url, headers, params, body, timeout, max_response_bytes, follow_redirects`,
		`{"url": "http://x", "headers": "a"}`:   `handler_config.headers must be a map of strings`,
		`{"url": "http://x", "method": 3}`:      `handler_config.method must be an HTTP method such as "POST"`,
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg), &m))
		_, err := ParseConfig(m)
		require.EqualError(t, err, want, cfg)
	}
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
	clock := func() time.Time { return now }
	run := func(cfg map[string]any) (map[string]any, error) {
		c, err := ParseConfig(cfg)
		require.NoError(t, err)
		out, err := Run(t.Context(), c, json.RawMessage(`{"order_id":7}`), "task-1/charge", clock)
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
	start := time.Now()
	_, err = run(map[string]any{"url": srv.URL + "/slow", "timeout": "100ms"})
	require.EqualError(t, err, "GET "+srv.URL+"/slow: no answer within 100ms")
	require.Less(t, time.Since(start), 5*time.Second)
	_, err = run(map[string]any{"url": srv.URL + "/limited"})
	require.ErrorAs(t, err, &se)
	require.Equal(t, 7*time.Second, se.RetryAfter)
	require.EqualError(t, err, "HTTP 429 Too Many Requests: slow down")
}
