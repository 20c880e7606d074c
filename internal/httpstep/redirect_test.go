package httpstep

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A redirect to another host drops the credentials (Authorization and the
// configured headers); one from https to http is refused permanently.
func TestRedirectsKeepCredentialsHome(t *testing.T) {
	t.Parallel()
	var seen http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer other.Close()
	// The same server under another host name: "localhost" instead of 127.0.0.1.
	otherHost := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherHost+"/landing", http.StatusFound)
	}))
	defer home.Close()
	cfg := mustParse(t, map[string]any{
		"url": home.URL + "/start", "headers": map[string]any{"X-Api-Key": "k-123", "X-Trace": "t"},
		"auth": map[string]any{"type": "bearer", "token_env": "TOKEN"},
	})
	in := &Input{Step: "s", Context: json.RawMessage(`{}`), Now: clock, LookupEnv: func(string) (string, bool) { return "s3cret", true }}
	resp, err := Do(t.Context(), cfg, in)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Empty(t, seen.Get("Authorization"), "no credentials to another host")
	require.Empty(t, seen.Get("X-Api-Key"))
	require.Empty(t, seen.Get("X-Trace"), "configured headers may hold secrets: all are dropped")

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/clear?token=x", http.StatusFound)
	}))
	defer secure.Close()
	cfg = mustParse(t, map[string]any{"url": secure.URL + "/start", "tls": map[string]any{"insecure_skip_verify": true}})
	_, err = Do(t.Context(), cfg, in)
	require.EqualError(t, err, "refused a redirect from https to "+plain.URL+"/clear: the request's credentials and data would travel unencrypted; point handler_config.url at the final https address")
	var ce *ConfigError
	require.ErrorAs(t, err, &ce, "permanent")
}

// A "no limit" response size (the largest int64) keeps the whole body.
func TestMaxResponseWithoutOverflow(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"all": true}`)) }))
	defer srv.Close()
	cfg := mustParse(t, map[string]any{"url": srv.URL})
	cfg.MaxResponse = math.MaxInt64
	resp, err := Do(t.Context(), cfg, &Input{Step: "s", Context: json.RawMessage(`{}`), Now: clock})
	require.NoError(t, err)
	require.JSONEq(t, `{"all": true}`, string(resp.Body))
	require.False(t, resp.Truncated)
}

// params keep a URL query that Go cannot parse as it is, and are appended.
func TestParamsKeepAnUnparsableQuery(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	got, err := call(t, map[string]any{"url": srv.URL + "/p?fields=id;name&q=100%", "params": map[string]any{"page": 2}})
	require.NoError(t, err)
	require.Equal(t, "fields=id;name&q=100%&page=2", got.RawQuery)
	got, err = call(t, map[string]any{"url": srv.URL + "/p?page=1&x=y", "params": map[string]any{"page": 2}})
	require.NoError(t, err)
	require.Equal(t, "page=2&x=y", got.RawQuery, "a parseable query: params replace parameters of the same name")
}
