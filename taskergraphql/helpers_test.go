package taskergraphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerhttp"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// registry holds the original's DummyTask (step-one and step-two roots,
// three after two, four after three) and a task whose "pay" step fails.
func registry(t testing.TB) *tasker.Registry {
	reg := tasker.NewRegistry()
	// ok annotates the task with each step it runs, as the original
	// DummyTask's update_annotations hook did.
	reg.MustRegisterHandler("ok", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		if err := s.Annotate("dummy-annotation", map[string]any{"dummy": "annotation", "step": s.Step.Name}); err != nil {
			return nil, err
		}
		return map[string]any{"step": s.Step.Name}, nil
	}))
	reg.MustRegisterHandler("fail", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
		return nil, tasker.PermanentError(errors.New("card declined"))
	}))
	must := func(tmpl *tasker.TaskTemplate) {
		require.NoError(t, reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
	}
	must(&tasker.TaskTemplate{Name: "dummy_task", Description: "the original DummyTask", DefaultDependentSystem: "dummy-system",
		Schema: map[string]any{"type": "object", "required": []any{"dummy"}, "properties": map[string]any{"dummy": map[string]any{"type": "boolean"}}},
		Steps: []tasker.StepTemplate{
			{Name: "step-one", Handler: "ok", Description: "first root"},
			{Name: "step-two", Handler: "ok"},
			{Name: "step-three", Handler: "ok", DependsOn: []string{"step-two"}},
			{Name: "step-four", Handler: "ok", DependsOn: []string{"step-three"}},
		}})
	must(&tasker.TaskTemplate{Name: "fragile", Steps: []tasker.StepTemplate{
		{Name: "prepare", Handler: "ok"},
		{Name: "pay", Handler: "fail", DependsOn: []string{"prepare"}},
	}})
	return reg
}

// env is a client on a fresh database and the REST handler (which mounts
// the GraphQL API) on an httptest.Server.
type env struct {
	t      testing.TB
	client *tasker.Client
	srv    *httptest.Server
	token  string // sent as a bearer credential when not empty
}

func newEnv(t testing.TB, opts func(c *tasker.Client) *taskerhttp.Options) *env {
	t.Helper()
	return newEnvOn(t, testdb.Open(t), opts)
}

func newEnvOn(t testing.TB, d taskerdriver.Driver, opts func(c *tasker.Client) *taskerhttp.Options) *env {
	t.Helper()
	c, err := tasker.NewClient(context.Background(), d, &tasker.Config{Registry: registry(t)})
	require.NoError(t, err)
	var o *taskerhttp.Options
	if opts != nil {
		o = opts(c)
	}
	srv := httptest.NewServer(taskerhttp.NewHandler(c, o))
	t.Cleanup(srv.Close)
	return &env{t: t, client: c, srv: srv}
}

// gqlResponse is a GraphQL answer.
type gqlResponse struct {
	Status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
	raw    []byte
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// code is the extensions.code of the only error.
func (r *gqlResponse) code(t testing.TB) string {
	t.Helper()
	require.Len(t, r.Errors, 1, "errors: %s", r.raw)
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// noErrors fails the test when the answer has errors.
func (r *gqlResponse) noErrors(t testing.TB) *gqlResponse {
	t.Helper()
	require.Empty(t, r.Errors, "errors: %s", r.raw)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.raw)
	return r
}

// field decodes data.name into v.
func (r *gqlResponse) field(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	require.True(t, ok, "no data.%s in %s", name, r.raw)
	require.NoError(t, json.Unmarshal(raw, v), "data.%s: %s", name, raw)
}

// query POSTs a document with variables.
func (e *env) query(doc string, vars map[string]any) *gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	require.NoError(e.t, err)
	return e.post("application/json", body)
}

func (e *env) post(contentType string, body []byte) *gqlResponse {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/tasker/graphql", bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", contentType)
	return e.send(req)
}

func (e *env) send(req *http.Request) *gqlResponse {
	e.t.Helper()
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer func() { _ = res.Body.Close() }()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	require.NoError(e.t, err)
	out := &gqlResponse{Status: res.StatusCode, raw: buf.Bytes()}
	require.Less(e.t, res.StatusCode, 500, "a 5xx: %s", buf.Bytes())
	require.NoError(e.t, json.Unmarshal(buf.Bytes(), out), "not JSON: %s", buf.Bytes())
	return out
}

func (e *env) runUntilIdle() {
	e.t.Helper()
	require.NoError(e.t, e.client.RunUntilIdle(context.Background()))
}
