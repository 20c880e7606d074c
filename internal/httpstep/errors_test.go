package httpstep

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatusErrorDetails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Retry-After", "12")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Request-Id", "req-42")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("RateLimit-Policy", "10;w=1")
		h.Set("RateLimit", "limit=10, remaining=0, reset=12")
		h.Set("Location", "/elsewhere")
		h.Set("Set-Cookie", "session=secret")
		h.Set("X-Other", "ignored")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Repeat("é", 700))) // 1400 bytes
	}))
	defer srv.Close()
	_, err := Do(t.Context(), mustParse(t, map[string]any{"url": srv.URL}), &Input{Now: clock})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.JSONEq(t, `{
		"status": 503,
		"body_excerpt": "`+strings.Repeat("é", 512)+`",
		"headers": {
			"retry-after": "12", "content-type": "text/plain; charset=utf-8", "x-request-id": "req-42",
			"x-ratelimit-remaining": "0", "ratelimit-policy": "10;w=1", "ratelimit": "limit=10, remaining=0, reset=12",
			"location": "/elsewhere"
		}
	}`, string(se.Details()))
	require.Len(t, se.Body, 1400, "the error keeps the whole body read")
	require.Equal(t, "HTTP 503 Service Unavailable: "+strings.Repeat("é", 150)+"…", se.Error())
}

// Neither messages nor details show the query, the user info or the
// fragment of the URL, which may hold credentials.
func TestNetworkErrorRedactsURL(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	c := mustParse(t, map[string]any{"url": "http://user:pw@" + addr + "/v1/orders/{{context.id}}?api_key=k3y#frag", "params": map[string]any{"token": "t0k"}})
	_, err = Do(t.Context(), c, &Input{Context: []byte(`{"id": "7"}`)})
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	require.Equal(t, KindConnection, ne.Kind)
	require.JSONEq(t, `{"error_kind": "connection", "url": "http://`+addr+`/v1/orders/7"}`, string(ne.Details()))
	require.True(t, strings.HasPrefix(err.Error(), "GET http://"+addr+"/v1/orders/7: dial tcp "+addr+": "), err.Error())
	for _, secret := range []string{"k3y", "t0k", "pw", "frag"} {
		require.NotContains(t, err.Error(), secret)
	}
	permanent, after := Decide(err)
	require.False(t, permanent)
	require.Zero(t, after)

	// With retry_delay the handler asks for its own backoff.
	c = mustParse(t, map[string]any{"url": "http://" + addr, "retry_delay": 2})
	_, err = Do(t.Context(), c, &Input{Attempt: 2})
	_, after = Decide(err)
	require.Equal(t, 4e9, float64(after))
}

func TestCut(t *testing.T) {
	t.Parallel()
	require.Equal(t, "abc", cut("abc", 3, "…"))
	require.Equal(t, "ab…", cut("abcd", 2, "…"))
	require.Equal(t, "a", cut("aé", 2, ""), "never splits a rune")
	require.Empty(t, cut("é", 1, ""))
}

// An upstream that echoes the request's headers in an error answer must not
// put the credentials into the stored error (issue 12).
func TestStatusErrorRedactsEchoedCredentials(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_ = r.Header.Write(w) // every request header, as many debugging APIs do
	}))
	defer srv.Close()
	const (
		bearer = "bearer-5ecret-token-value"
		apiKey = "api-key-5ecret"
		cookie = "cookie-5ecret"
	)
	lookup := func(k string) (string, bool) { return map[string]string{"TOKEN": bearer}[k], k == "TOKEN" }
	c := mustParse(t, map[string]any{
		"url":     srv.URL,
		"headers": map[string]any{"X-Api-Key": apiKey, "Cookie": "session=" + cookie, "X-Trace": "visible-value"},
		"auth":    map[string]any{"type": "bearer", "token_env": "TOKEN"},
	})
	_, err := Do(t.Context(), c, &Input{Now: clock, LookupEnv: lookup})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	for _, stored := range []string{se.Error(), string(se.Details()), se.Body} {
		for _, secret := range []string{bearer, apiKey, cookie} {
			require.NotContains(t, stored, secret)
		}
		require.Contains(t, stored, Redacted)
	}
	require.Contains(t, se.Body, "visible-value", "other headers are kept")
	require.Contains(t, string(se.Response.Body), bearer, "the Go caller's answer is as received")
}

func TestCredentialHeader(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token", "Api-Key", "X-Client-Secret", "apikey"} {
		require.True(t, CredentialHeader(h), h)
	}
	for _, h := range []string{"Accept", "Content-Type", "X-Request-Id", "Idempotency-Key-Hint", "X-Trace"} {
		require.False(t, CredentialHeader(h), h)
	}
}
