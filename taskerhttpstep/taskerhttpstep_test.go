package taskerhttpstep_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttpstep"
	"github.com/tasker-go/tasker/taskertype"
)

// Call from a Go handler: auth from the environment, Error on a
// non-2xx answer with the handler's classification.
func TestCall(t *testing.T) { // not parallel: t.Setenv
	t.Setenv("TASKER_TEST_HTTP_TOKEN", "tok-123")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "who are you"}`))
			return
		}
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "key": r.Header.Get("Idempotency-Key")})
		}
	}))
	defer srv.Close()
	auth := &taskerhttpstep.Auth{Type: "bearer", TokenEnv: "TASKER_TEST_HTTP_TOKEN"}
	step := &tasker.StepContext{Task: &taskertype.Task{ID: 4, Context: json.RawMessage(`{"sku": "x 1"}`)}, Step: &taskertype.Step{Name: "lookup"}, Attempt: 1}
	resp, err := taskerhttpstep.Call(t.Context(), step, taskerhttpstep.Config{URL: srv.URL + "/items/{{context.sku}}", Auth: auth})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
	var got map[string]string
	require.NoError(t, resp.DecodeJSON(&got))
	require.Equal(t, map[string]string{"path": "/items/x 1", "key": "task-4/lookup"}, got)
	results, err := resp.Results()
	require.NoError(t, err)
	require.JSONEq(t, `{"path": "/items/x 1", "key": "task-4/lookup"}`, string(gjson(t, results, "body")))

	_, err = taskerhttpstep.Call(t.Context(), step, taskerhttpstep.Config{URL: srv.URL + "/x"})
	require.True(t, tasker.IsPermanent(err), "401 is permanent")
	var he *taskerhttpstep.Error
	require.ErrorAs(t, err, &he)
	require.Equal(t, 401, he.Status)
	require.Equal(t, "status", he.Kind)
	var body map[string]string
	require.NoError(t, he.Response.DecodeJSON(&body))
	require.Equal(t, "who are you", body["error"])
	var de tasker.DetailedError
	require.ErrorAs(t, err, &de)
	require.JSONEq(t, `{"status": 401, "body_excerpt": "{\"error\": \"who are you\"}", "headers": {"content-type": "application/json"}}`, string(de.Details()))

	_, err = taskerhttpstep.Call(t.Context(), step, taskerhttpstep.Config{URL: srv.URL + "/busy", Auth: auth, MaxRetryAfter: time.Minute})
	d, ok := tasker.RetryAfterDelay(err)
	require.True(t, ok)
	require.Equal(t, time.Minute, d)
	require.False(t, tasker.IsPermanent(err))

	_, err = taskerhttpstep.Call(t.Context(), nil, taskerhttpstep.Config{URL: "ftp://x"})
	require.True(t, tasker.IsPermanent(err))
	require.EqualError(t, err, `handler_config.url "ftp://x" must be an absolute http(s) URL such as "https://api.example.com/orders"`)

	_, err = taskerhttpstep.Call(t.Context(), nil, taskerhttpstep.Config{URL: srv.URL + "/{{context.sku}}"})
	require.True(t, tasker.IsPermanent(err), "no step: no values")
	require.NotErrorAs(t, err, &he)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = taskerhttpstep.Call(ctx, nil, taskerhttpstep.Config{URL: srv.URL, Auth: auth})
	require.True(t, errors.Is(err, context.Canceled))
	require.False(t, tasker.IsPermanent(err))
}

// Large integers in handler_config reach the API digit for digit (the

func gjson(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[key]
}
