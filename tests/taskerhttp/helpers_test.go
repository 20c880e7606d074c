package taskerhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerhttp"
)

// TestMain registers the diagram media types with the OpenAPI validator and
// runs the tests through testdb.Main, which fails the run when a test leaves
// a goroutine behind (goleak): a handler's goroutine (a waiting remote claim
// watching Options.Stopping) or a test server that was not closed.
func TestMain(m *testing.M) {
	for _, ct := range []string{"image/svg+xml", "text/html", "text/vnd.mermaid"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	testdb.Main(m)
}

func eachDriver(t *testing.T, fn func(t *testing.T)) { t.Helper(); testdb.EachDriver(t, fn) }

// eachEnv runs fn on each driver with a fresh env (see newEnv).
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	eachDriver(t, func(t *testing.T) { fn(t, newEnv(t)) })
}

func openTestDriver(t testing.TB) taskerdriver.Driver { t.Helper(); return testdb.Open(t) }

// env is a client on a fresh database, its REST API on an httptest.Server,
// and the OpenAPI router that checks every answer.
type env struct {
	t      testing.TB
	client *tasker.Client
	srv    *httptest.Server
	router routers.Router
	doc    *openapi3.T
}

var (
	docOnce   sync.Once
	docParsed *openapi3.T
	docErr    error
)

// openAPIDoc loads and validates the served OpenAPI document once.
func openAPIDoc(t testing.TB, h http.Handler) *openapi3.T {
	docOnce.Do(func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest(http.MethodGet, "/tasker/openapi.json"))
		loader := openapi3.NewLoader()
		docParsed, docErr = loader.LoadFromData(rec.Body.Bytes())
		if docErr == nil {
			docErr = docParsed.Validate(loader.Context)
		}
	})
	require.NoError(t, docErr, "the OpenAPI document is invalid")
	return docParsed
}

// testRegistry registers the templates the tests use.
func testRegistry(t testing.TB) *tasker.Registry {
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("ok", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		return map[string]any{"step": s.Step.Name}, nil
	}))
	reg.MustRegisterHandler("fail", tasker.StepHandlerFunc(func(_ context.Context, _ *tasker.StepContext) (any, error) {
		return nil, tasker.PermanentError(errors.New("boom: the <payment> failed"))
	}))
	must := func(tmpl *tasker.TaskTemplate) {
		require.NoError(t, reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
	}
	// DummyTask of the original specs: step-one, step-two roots; three←two; four←three.
	must(&tasker.TaskTemplate{Name: "dummy_task", Description: "the original DummyTask",
		Schema: map[string]any{"type": "object", "required": []any{"dummy"}, "properties": map[string]any{"dummy": map[string]any{"type": "boolean"}}},
		Steps: []tasker.StepTemplate{
			{Name: "step-one", Handler: "ok", Description: "first root"},
			{Name: "step-two", Handler: "ok"},
			{Name: "step-three", Handler: "ok", DependsOn: []string{"step-two"}},
			{Name: "step-four", Handler: "ok", DependsOn: []string{"step-three"}},
		}})
	must(&tasker.TaskTemplate{Name: "dummy_task", Namespace: "testing", Version: "1.0.0", Steps: []tasker.StepTemplate{{Name: "only", Handler: "ok"}}})
	must(&tasker.TaskTemplate{Name: "dummy_task", Namespace: "testing", Version: "1.2.0", Steps: []tasker.StepTemplate{{Name: "only", Handler: "ok"}}})
	// diamond with a multi-parent join (the original handler graph bug).
	must(&tasker.TaskTemplate{Name: "diamond", Namespace: "ecommerce", Version: "2.0.0", Steps: []tasker.StepTemplate{
		{Name: "start", Handler: "ok"},
		{Name: "left", Handler: "ok", DependsOn: []string{"start"}, RetryLimit: 5},
		{Name: "right", Handler: "ok", DependsOn: []string{"start"}, HandlerConfig: map[string]any{"url": "http://example.invalid"}},
		{Name: "end", Handler: "ok", DependsOn: []string{"left", "right"}, CustomEvents: []tasker.CustomEvent{{Name: "order.fulfilled", Description: "done"}}},
	}})
	must(&tasker.TaskTemplate{Name: "order", Namespace: "ecommerce", Version: "1.0.0",
		Schema: map[string]any{"type": "object", "required": []any{"order_id"}, "properties": map[string]any{
			"order_id": map[string]any{"type": "integer"}, "email": map[string]any{"type": "string", "format": "email"}}},
		Steps: []tasker.StepTemplate{{Name: "charge", Handler: "ok"}}})
	must(&tasker.TaskTemplate{Name: "fragile", Steps: []tasker.StepTemplate{
		{Name: "prepare", Handler: "ok"},
		{Name: "pay", Handler: "fail", DependsOn: []string{"prepare"}},
		{Name: "ship", Handler: "ok", DependsOn: []string{"pay"}},
	}})
	must(&tasker.TaskTemplate{Name: "unique", IdentityStrategy: tasker.IdentityHash, Steps: []tasker.StepTemplate{{Name: "only", Handler: "ok"}}})
	return reg
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOpts(t, nil)
}

func newEnvOpts(t *testing.T, opts *taskerhttp.Options) *env {
	t.Helper()
	return newEnvFor(t, func(*tasker.Client) *taskerhttp.Options { return opts })
}

// newEnvFor is newEnvOpts with options made from the env's client.
func newEnvFor(t *testing.T, optsFor func(c *tasker.Client) *taskerhttp.Options) *env {
	t.Helper()
	return newEnvOn(t, openTestDriver(t), optsFor)
}

// newEnvOn is newEnvFor on the driver d (which a test may prepare).
func newEnvOn(t *testing.T, d taskerdriver.Driver, optsFor func(c *tasker.Client) *taskerhttp.Options) *env {
	t.Helper()
	c, err := tasker.NewClient(context.Background(), d, &tasker.Config{Registry: testRegistry(t)})
	require.NoError(t, err)
	return newEnvWithClient(t, c, optsFor(c))
}

// newEnvWithClient serves a client the test configured, with opts.
func newEnvWithClient(t *testing.T, c *tasker.Client, opts *taskerhttp.Options) *env {
	t.Helper()
	h := taskerhttp.NewHandler(c, opts)
	doc := openAPIDoc(t, h)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, client: c, srv: srv, router: router, doc: doc}
}

// response is one checked answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// want asserts the answer's status (the message defaults to the body) and
// returns the answer.
func (r *response) want(t testing.TB, status int, msgAndArgs ...any) *response {
	t.Helper()
	if len(msgAndArgs) == 0 {
		msgAndArgs = []any{"%s", r.Body}
	}
	require.Equal(t, status, r.Status, msgAndArgs...)
	return r
}

// errorCode returns error.code of an error answer.
func (r *response) errorCode(t testing.TB) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	require.True(t, ok, "not an error answer: %s", r.Body)
	return e["code"].(string)
}

func (r *response) errorFields(t testing.TB) map[string]any {
	t.Helper()
	f, _ := r.json(t)["error"].(map[string]any)["fields"].(map[string]any)
	return f
}

// do sends a request (a string body is sent as JSON unless headers say
// otherwise) and checks the answer against the OpenAPI document.
func (e *env) do(method, path string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if ct == "" && (method == "POST" || method == "PUT" || method == "PATCH") {
		ct = "application/json" // as every client sends it, with or without a body
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	out := e.send(req)
	require.NotEmpty(e.t, out.Header.Get("X-Request-Id"), "X-Request-Id missing")
	require.NotEqual(e.t, http.StatusInternalServerError, out.Status, "500 for %s %s: %s", method, path, out.Body)
	e.validate(req, out)
	return out
}

// send sends req to the env's server and reads the whole answer.
func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return &response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// validate checks an answer against the OpenAPI document: the route's
// declared status, headers and body schema; an answer without a route (an
// unknown path) must still be the error shape.
func (e *env) validate(req *http.Request, res *response) {
	e.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.Body = http.NoBody
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		require.Contains(e.t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, res.Status, "no OpenAPI route for %s %s", req.Method, req.URL.Path)
		e.validateError(res)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.Status, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(res.Body)
	require.NoError(e.t, openapi3filter.ValidateResponse(context.Background(), in), "%s %s → %d does not match the OpenAPI document: %s", req.Method, req.URL.Path, res.Status, res.Body)
	if res.Status >= 400 && !strings.HasPrefix(req.URL.Path, "/tasker/health/") {
		e.validateError(res)
	}
}

func (e *env) validateError(res *response) {
	e.t.Helper()
	schema := e.doc.Components.Schemas["Error"].Value
	var v any
	require.NoError(e.t, json.Unmarshal(res.Body, &v), "error body is not JSON: %s", res.Body)
	require.NoError(e.t, schema.VisitJSON(v), "error body does not match the Error schema: %s", res.Body)
}

// createTask creates a task through the API and returns its JSON.
func (e *env) createTask(body any) map[string]any {
	e.t.Helper()
	res := e.do(http.MethodPost, "/tasker/tasks", body)
	require.Equal(e.t, http.StatusCreated, res.Status, "create: %s", res.Body)
	return res.json(e.t)["task"].(map[string]any)
}

func (e *env) runUntilIdle() {
	e.t.Helper()
	require.NoError(e.t, e.client.RunUntilIdle(context.Background()))
}

func idOf(m map[string]any, key string) int64 { return int64(m[key].(float64)) }

// stepByName returns the step JSON with the given name from a task JSON.
func stepByName(t testing.TB, task map[string]any, name string) map[string]any {
	t.Helper()
	for _, s := range task["workflow_steps"].([]any) {
		if st := s.(map[string]any); st["name"] == name {
			return st
		}
	}
	t.Fatalf("no step %q", name)
	return nil
}

// localRequest is a request to the handler as a local client sends it
// (httptest.NewRequest's Host, example.com, is not a name of the server).
func localRequest(method, path string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.Host = "localhost"
	return req
}
