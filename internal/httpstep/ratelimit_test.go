package httpstep

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A burst of 1 at one request per 16 seconds, on a frozen clock: the first
// request goes; the second would wait 16s, longer than the step's deadline,
// so it is not sent and asks to be retried in exactly 16s.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := mustParse(t, map[string]any{"url": srv.URL + "/a?token=secret", "rate_limit": map[string]any{"requests_per_second": 0.0625}})
	in := &Input{Now: clock}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := Do(ctx, c, in)
	require.NoError(t, err)

	_, err = Do(ctx, c, in)
	var re *RateLimitError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 16*time.Second, re.Wait)
	require.EqualError(t, err, "rate limit of "+c.hostKey+" (handler_config.rate_limit): the next request is allowed in 16s, after the step's deadline; retrying then")
	require.JSONEq(t, `{"error_kind": "rate_limit", "url": "`+c.hostKey+`"}`, string(re.Details()))
	permanent, after := Decide(err)
	require.False(t, permanent)
	require.Equal(t, 16*time.Second, after)
	require.EqualValues(t, 1, hits.Load(), "the second request was not sent")

	// Waiting without a deadline ends with the context, and gives the token
	// back: the next caller still waits 16s, not 32s.
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	_, err = Do(cctx, c, in)
	require.ErrorIs(t, err, context.Canceled)
	_, err = Do(ctx, c, in)
	require.ErrorAs(t, err, &re)
	require.Equal(t, 16*time.Second, re.Wait)

	// The bucket refills with time.
	later := func() time.Time { return now.Add(16 * time.Second) }
	_, err = Do(ctx, c, &Input{Now: later})
	require.NoError(t, err)
	require.EqualValues(t, 2, hits.Load())
}

// A short wait is waited for.
func TestRateLimitWaits(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := mustParse(t, map[string]any{"url": srv.URL, "rate_limit": map[string]any{"requests_per_second": 1000, "burst": 2}})
	start := time.Now()
	for range 4 {
		_, err := Do(t.Context(), c, &Input{Now: clock})
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, time.Since(start), 2*time.Millisecond, "the two requests beyond the burst waited 1ms each")
	require.EqualValues(t, 4, hits.Load())
	lim := limiterFor(c.hostKey, c.RateLimit, now)
	require.InDelta(t, -2, lim.TokensAt(now), 1e-9, "two requests beyond the burst were paid for on the frozen clock")
}

// One bucket per host (scheme, host, port), whatever the path; different
// limits for one host: the strictest seen so far applies.
func TestRateLimitSharedPerHost(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	loose := mustParse(t, map[string]any{"url": srv.URL + "/orders", "rate_limit": map[string]any{"requests_per_second": 50, "burst": 10}})
	strict := mustParse(t, map[string]any{"url": srv.URL + "/refunds/{{context.id}}", "rate_limit": map[string]any{"requests_per_second": 2, "burst": 3}})
	burstier := mustParse(t, map[string]any{"url": srv.URL + "/x", "rate_limit": map[string]any{"requests_per_second": 1, "burst": 20}})
	require.Equal(t, loose.hostKey, strict.hostKey)
	in := &Input{Now: clock, Context: []byte(`{"id": 1}`)}

	_, err := Do(t.Context(), loose, in)
	require.NoError(t, err)
	lim := limiterFor(loose.hostKey, loose.RateLimit, now)
	require.EqualValues(t, 50, lim.Limit())
	require.Equal(t, 10, lim.Burst())

	_, err = Do(t.Context(), strict, in)
	require.NoError(t, err)
	require.EqualValues(t, 2, lim.Limit(), "a stricter rate lowers the host's bucket")
	require.Equal(t, 3, lim.Burst())

	_, err = Do(t.Context(), loose, in)
	require.NoError(t, err)
	require.EqualValues(t, 2, lim.Limit(), "a looser one does not raise it")
	require.Equal(t, 3, lim.Burst())

	_, err = Do(t.Context(), burstier, in)
	require.NoError(t, err)
	require.EqualValues(t, 1, lim.Limit())
	require.Equal(t, 3, lim.Burst(), "rate and burst are lowered independently")
}

func TestHostKey(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]string{
		"https://API.example.com/a":       "https://api.example.com:443",
		"https://api.example.com:443/b?c": "https://api.example.com:443",
		"http://api.example.com/a":        "http://api.example.com:80",
		"http://api.example.com:8080":     "http://api.example.com:8080",
		"http://user:pw@[::1]:9000/x":     "http://[::1]:9000",
	} {
		require.Equal(t, want, mustParse(t, map[string]any{"url": u}).hostKey, u)
	}
}
