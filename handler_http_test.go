package tasker_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttpstep"
	"github.com/tasker-go/tasker/taskertype"
)

// The built-in http handler in a workflow: a 429 with Retry-After waits the
// server's delay exactly (scenario 25), then the 2xx answer is the result;
// a 404 fails the step permanently. Both failures keep their details on the
// step.
func TestHTTPStep(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/missing" {
				w.Header().Set("X-Request-Id", "req-1")
				http.NotFound(w, r)
				return
			}
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "30")
				w.Header().Set("X-RateLimit-Remaining", "0")
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
		require.JSONEq(t, `{"status": 429, "body_excerpt": "", "headers": {"retry-after": "30", "x-ratelimit-remaining": "0"}}`, string(s.LastError.Details))
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
		require.Equal(t, "*tasker.HTTPError", f.LastError.Class, "the public type, not the internal one")
		require.Equal(t, "HTTP 404 Not Found: 404 page not found", f.LastError.Message)
		require.JSONEq(t, `{"status": 404, "body_excerpt": "404 page not found\n", "headers": {"content-type": "text/plain; charset=utf-8", "x-request-id": "req-1"}}`, string(f.LastError.Details))
	})
}

// Placeholders from the task context and a parent's results; 425 and a
// connection error are retried with the step's backoff and keep their
// details; max_retry_after and the step's backoff.max_requested both cap a
// Retry-After; a placeholder without value and a missing credential fail
// the step permanently.
func TestHTTPStepInWorkflow(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var orders atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/orders/"):
				if orders.Add(1) == 1 {
					w.WriteHeader(http.StatusTooEarly)
					return
				}
				body, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.EscapedPath(), "by": r.URL.Query().Get("by"),
					"attempt": r.Header.Get("X-Attempt-Of"), "got": json.RawMessage(body)})
			case r.URL.Path == "/busy":
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		defer srv.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())

		tmpl := &tasker.TaskTemplate{Name: "order", Steps: []tasker.StepTemplate{
			{Name: "lookup", Handler: "test"},
			{Name: "submit", Handler: "http", DependsOn: []string{"lookup"}, HandlerConfig: map[string]any{
				"method":  "POST",
				"url":     srv.URL + "/orders/{{context.order.id}}",
				"params":  map[string]any{"by": "{{context.user}}"},
				"headers": map[string]any{"X-Attempt-Of": "{{dependencies.lookup.step}}"},
				"body":    map[string]any{"qty": "{{context.order.qty}}", "note": "qty {{context.order.qty}}", "from": "{{dependencies.lookup}}"},
			}},
		}}
		other := &tasker.TaskTemplate{Name: "other", Steps: []tasker.StepTemplate{
			{Name: "down", Handler: "http", HandlerConfig: map[string]any{"url": closed + "/x?api_key=secret"}},
			{Name: "busy", Handler: "http", HandlerConfig: map[string]any{"url": srv.URL + "/busy", "max_retry_after": "1m"}},
			{Name: "busier", Handler: "http", Backoff: &tasker.Backoff{MaxRequested: 20 * time.Second}, HandlerConfig: map[string]any{"url": srv.URL + "/busy", "max_retry_after": "1m"}},
			{Name: "no_value", Handler: "http", HandlerConfig: map[string]any{"url": srv.URL + "/orders/{{context.missing}}"}},
			{Name: "no_token", Handler: "http", HandlerConfig: map[string]any{"url": srv.URL + "/orders/1",
				"auth": map[string]any{"type": "bearer", "token_env": "TASKER_TEST_UNSET_TOKEN_7F3A"}}},
		}}
		e := newEnv(t, tmpl, other)
		task := e.create("order", map[string]any{"order": map[string]any{"id": "A/7", "qty": 3}, "user": "ada lovelace"})
		start := e.clock.Now()
		e.singlePass()
		s := e.steps(task.ID)["submit"]
		require.Equal(t, taskertype.StateError, s.State, "425 Too Early")
		require.Equal(t, "retryable", s.LastError.Kind)
		require.Equal(t, start.Add(2*time.Second), s.NextAttemptAt, "the step's backoff")
		e.clock.Advance(2 * time.Second)
		e.singlePass()
		s = e.steps(task.ID)["submit"]
		require.Equal(t, taskertype.StateComplete, s.State)
		var res struct {
			Body json.RawMessage `json:"body"`
		}
		require.NoError(t, json.Unmarshal(s.Results, &res))
		require.JSONEq(t, `{"path": "/orders/A%2F7", "by": "ada lovelace", "attempt": "lookup",
			"got": {"qty": 3, "note": "qty 3", "from": {"step": "lookup", "attempt": 1}}}`, string(res.Body))

		task = e.create("other", nil)
		start = e.clock.Now()
		e.singlePass()
		steps := e.steps(task.ID)
		down := steps["down"]
		require.Equal(t, taskertype.StateError, down.State)
		require.Equal(t, "retryable", down.LastError.Kind)
		require.JSONEq(t, `{"error_kind": "connection", "url": "`+closed+`/x"}`, string(down.LastError.Details))
		require.NotContains(t, down.LastError.Message, "secret")
		require.Equal(t, start.Add(time.Minute), steps["busy"].NextAttemptAt, "max_retry_after caps Retry-After")
		require.Equal(t, start.Add(20*time.Second), steps["busier"].NextAttemptAt, "so does the step's backoff.max_requested")
		require.Equal(t, "permanent", steps["no_value"].LastError.Kind)
		require.Equal(t, `placeholder {{context.missing}} of step "no_value" has no value: the task context has no "missing"`, steps["no_value"].LastError.Message)
		require.Equal(t, "permanent", steps["no_token"].LastError.Kind)
		require.Equal(t, "handler_config.auth.token_env: environment variable TASKER_TEST_UNSET_TOKEN_7F3A is not set or empty: set it to the bearer token in the environment of every worker that runs this step", steps["no_token"].LastError.Message)
	})
}

// The original engine's `type: api` form loads from YAML; retry_delay is
// the base of the backoff the handler asks for when the server gives no
// Retry-After.
func TestHTTPStepTypeAPI(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"cart_id": r.URL.Query().Get("cart_id"), "accept": r.Header.Get("Accept")})
		}))
		defer srv.Close()
		e := newEnv(t)
		_, err := e.reg.LoadYAML("cart.yaml", []byte(`
name: fetch_cart
step_templates:
  - name: fetch_cart
    handler: http
    default_retry_limit: 5
    handler_config:
      type: api
      url: `+srv.URL+`/cart
      params:
        cart_id: 1
      headers:
        Accept: application/json
      retry_delay: 1.5
      enable_exponential_backoff: true
`), tasker.LoadOptions{})
		require.NoError(t, err)
		task := e.create("fetch_cart", nil)
		start := e.clock.Now()
		e.singlePass()
		s := e.steps(task.ID)["fetch_cart"]
		require.Equal(t, start.Add(1500*time.Millisecond), s.NextAttemptAt, "retry_delay after the first attempt")
		require.JSONEq(t, `{"status": 502, "body_excerpt": ""}`, string(s.LastError.Details))
		e.clock.Advance(1500 * time.Millisecond)
		start = e.clock.Now()
		e.singlePass()
		s = e.steps(task.ID)["fetch_cart"]
		require.Equal(t, start.Add(3*time.Second), s.NextAttemptAt, "doubled after the second")
		e.clock.Advance(3 * time.Second)
		e.singlePass()
		s = e.steps(task.ID)["fetch_cart"]
		require.Equal(t, taskertype.StateComplete, s.State)
		require.JSONEq(t, `{"cart_id": "1", "accept": "application/json"}`, string(gjson(t, s.Results, "body")))
	})
}

func gjson(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[key]
}

// A bad handler_config of a built-in handler is a loading error naming the
// file, the step and the key.
func TestBuiltinHandlerConfigValidatedAtLoad(t *testing.T) {
	t.Parallel()
	load := func(cfg string) error {
		_, err := tasker.NewRegistry().LoadYAML("api.yaml", []byte("name: api\nstep_templates:\n  - name: call\n    handler: http\n    handler_config: "+cfg+"\n"), tasker.LoadOptions{})
		return err
	}
	require.EqualError(t, load(`{url: "https://x.example", verb: GET}`), `api.yaml:3: template "api": step "call": handler_config.verb is unknown: use method, url, params, headers, body, auth, tls, rate_limit, timeout, max_response_bytes, follow_redirects, max_retry_after, retry_delay, enable_exponential_backoff, type`)
	require.EqualError(t, load(`{url: "https://x.example/{{context.id}", method: POST}`), `api.yaml:3: template "api": step "call": handler_config.url: "{{context.id}" has no closing "}}": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`)
	require.EqualError(t, load(`{url: "https://x.example", body: {id: "{{contxt.id}}"}}`), `api.yaml:3: template "api": step "call": handler_config.body.id: placeholder "{{contxt.id}}" starts with "contxt": write {{context.<path>}} or {{dependencies.<step>.<path>}}, or {{{{ for a literal "{{"`)
	require.EqualError(t, load(`{url: "https://x.example", tls: {cert_file: /etc/c.pem}}`), `api.yaml:3: template "api": step "call": handler_config.tls.cert_file and handler_config.tls.key_file go together: give both (the client certificate and its private key, PEM files) or neither`)
	require.EqualError(t, load(`{url: "https://x.example", rate_limit: {requests_per_second: 0}}`), `api.yaml:3: template "api": step "call": handler_config.rate_limit.requests_per_second must be a number of at least 0.001 (one request in about 17 minutes), such as 5 or 0.5`)
	require.EqualError(t, load(`{url: "https://x.example", auth: {type: bearer}}`), `api.yaml:3: template "api": step "call": handler_config.auth.token_env is required for type bearer: name the environment variable that holds it, such as API_TOKEN`)
	require.NoError(t, load(`{type: api, url: "https://x.example/{{context.id}}", params: {a: 1}, retry_delay: 1.0, enable_exponential_backoff: false}`))
	_, err := tasker.NewRegistry().LoadYAML("run.yaml", []byte("name: run\nstep_templates:\n  - name: go\n    handler: exec\n    handler_config: {}\n"), tasker.LoadOptions{})
	require.ErrorContains(t, err, `run.yaml:3: template "run": step "go": handler_config.command is required`)

	// An HTTPHandler registered under another name validates the same way.
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("order_api", taskerhttpstep.NewHandler(taskerhttpstep.Options{}))
	_, err = reg.LoadYAML("api.yaml", []byte("name: api\nstep_templates:\n  - name: call\n    handler: order_api\n    handler_config: {url: \"https://x.example\", auth: {type: basic, username_env: U}}\n"), tasker.LoadOptions{})
	require.EqualError(t, err, `api.yaml:3: template "api": step "call": handler_config.auth.password_env is required for type basic: name the environment variable that holds it, such as API_PASSWORD`)
}

// HTTPHandler with ProcessResults turns the answer into the step's results;
// errors keep the built-in classification.
func TestHTTPHandlerProcessResults(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/gone" {
				http.Error(w, "gone", http.StatusGone)
				return
			}
			_, _ = w.Write([]byte(`{"order": {"id": "o-` + strings.TrimPrefix(r.URL.Path, "/orders/") + `", "status": "paid"}, "noise": [1, 2, 3]}`))
		}))
		defer srv.Close()
		var seen atomic.Int32
		tmpl := &tasker.TaskTemplate{Name: "custom", Steps: []tasker.StepTemplate{
			{Name: "fetch", Handler: "order_api", HandlerConfig: map[string]any{"url": srv.URL + "/orders/{{context.id}}"}},
			{Name: "gone", Handler: "order_api", HandlerConfig: map[string]any{"url": srv.URL + "/gone"}},
		}}
		e := newEnv(t)
		e.reg.MustRegisterHandler("order_api", taskerhttpstep.NewHandler(taskerhttpstep.Options{
			ProcessResults: func(s *tasker.StepContext, resp *taskerhttpstep.Response) (any, error) {
				seen.Add(1)
				var out struct {
					Order struct {
						ID     string `json:"id"`
						Status string `json:"status"`
					} `json:"order"`
				}
				if err := resp.DecodeJSON(&out); err != nil {
					return nil, tasker.PermanentError(err)
				}
				return map[string]any{"order_id": out.Order.ID, "paid": out.Order.Status == "paid", "http_status": resp.Status, "step": s.Step.Name}, nil
			},
		}))
		require.NoError(t, e.reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
		task := e.create("custom", map[string]any{"id": 9})
		e.singlePass()
		steps := e.steps(task.ID)
		require.JSONEq(t, `{"order_id": "o-9", "paid": true, "http_status": 200, "step": "fetch"}`, string(steps["fetch"].Results))
		require.Equal(t, "permanent", steps["gone"].LastError.Kind)
		require.JSONEq(t, `{"status": 410, "body_excerpt": "gone\n", "headers": {"content-type": "text/plain; charset=utf-8"}}`, string(steps["gone"].LastError.Details))
		require.EqualValues(t, 1, seen.Load(), "ProcessResults sees 2xx answers only")
	})
}

// built-in handlers read their stored configuration with exact numbers).
func TestHTTPStepExactNumbers(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		type seen struct {
			query string
			body  string
		}
		got := make(chan seen, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- seen{r.URL.RawQuery, string(b)}
			_, _ = w.Write([]byte(`{}`))
		}))
		defer srv.Close()
		tmpl := &tasker.TaskTemplate{Name: "exact", Steps: []tasker.StepTemplate{
			{Name: "call", Handler: "http", HandlerConfig: map[string]any{
				"url": srv.URL, "method": "POST", "params": map[string]any{"account": int64(9007199254740993)},
				"body": map[string]any{"id": uint64(12345678901234567890), "ratio": 0.1},
			}},
		}}
		e := newEnv(t, tmpl)
		task := e.create("exact", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.steps(task.ID)["call"].State)
		s := <-got
		require.Equal(t, "account=9007199254740993", s.query)
		require.JSONEq(t, `{"id": 12345678901234567890, "ratio": 0.1}`, s.body)
		require.Contains(t, s.body, "12345678901234567890")
	})
}
