package tasker_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// The built-in http handler in a workflow: a 429 with Retry-After waits the
// server's delay exactly (scenario 25), then the 2xx answer is the result;
// a 404 fails the step permanently.
func TestHTTPStep(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/missing" {
				http.NotFound(w, r)
				return
			}
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"charged": true}`))
		}))
		defer srv.Close()
		tmpl := &tasker.TaskTemplate{Name: "api", Steps: []tasker.StepTemplate{
			{Name: "charge", Handler: "http", HandlerConfig: map[string]any{"url": srv.URL + "/charge", "method": "POST"}},
		}}
		missing := &tasker.TaskTemplate{Name: "missing", Steps: []tasker.StepTemplate{
			{Name: "fetch", Handler: "http", HandlerConfig: map[string]any{"url": srv.URL + "/missing"}},
		}}
		e := newEnv(t, tmpl, missing)
		task := e.create("api", map[string]any{"amount": 5})
		start := e.clock.Now()
		e.singlePass()
		s := e.steps(task.ID)["charge"]
		require.Equal(t, taskertype.StateError, s.State)
		require.Equal(t, start.Add(30*time.Second), s.NextAttemptAt, "the server's Retry-After, not the exponential backoff")
		require.Equal(t, 30*time.Second, s.LastError.RetryAfter)
		e.clock.Advance(30 * time.Second)
		e.singlePass()
		s = e.steps(task.ID)["charge"]
		require.Equal(t, taskertype.StateComplete, s.State)
		require.Equal(t, 2, s.Attempts)
		var res struct {
			Status int            `json:"status"`
			Body   map[string]any `json:"body"`
		}
		require.NoError(t, json.Unmarshal(s.Results, &res))
		require.Equal(t, 200, res.Status)
		require.Equal(t, map[string]any{"charged": true}, res.Body)

		task = e.create("missing", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateError, e.task(task.ID).State)
		f := e.steps(task.ID)["fetch"]
		require.Equal(t, 1, f.Attempts)
		require.Equal(t, "permanent", f.LastError.Kind)
		require.Equal(t, "HTTP 404 Not Found: 404 page not found", f.LastError.Message)
	})
}

// A bad handler_config of a built-in handler is a loading error naming the
// file, the step and the key.
func TestBuiltinHandlerConfigValidatedAtLoad(t *testing.T) {
	t.Parallel()
	_, err := tasker.NewRegistry().LoadYAML("api.yaml", []byte("name: api\nstep_templates:\n  - name: call\n    handler: http\n    handler_config: {url: \"https://x.example\", verb: GET}\n"), tasker.LoadOptions{})
	require.EqualError(t, err, `api.yaml:3: template "api": step "call": handler_config.verb is unknown: use method, url, headers, params, body, timeout, max_response_bytes, follow_redirects`)
	_, err = tasker.NewRegistry().LoadYAML("run.yaml", []byte("name: run\nstep_templates:\n  - name: go\n    handler: exec\n    handler_config: {}\n"), tasker.LoadOptions{})
	require.ErrorContains(t, err, `run.yaml:3: template "run": step "go": handler_config.command is required`)
}
