package httpstep

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// echo answers with what it received.
func echo(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) == 0 {
			body = []byte("null")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "raw_path": r.URL.EscapedPath(), "path": r.URL.Path, "raw_query": r.URL.RawQuery,
			"query": r.URL.Query(), "headers": r.Header, "body": json.RawMessage(body),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type echoed struct {
	Method   string              `json:"method"`
	RawPath  string              `json:"raw_path"`
	Path     string              `json:"path"`
	RawQuery string              `json:"raw_query"`
	Query    map[string][]string `json:"query"`
	Headers  http.Header         `json:"headers"`
	Body     json.RawMessage     `json:"body"`
}

var placeholderInput = &Input{
	Step:    "charge",
	Context: json.RawMessage(`{"order": {"id": "A/7 ?&#", "total": 12.50, "big": 12345678901234567890, "items": [{"sku": "x-1"}, {"sku": "y 2"}], "gift": true, "note": null}, "customer": "ada"}`),
	Dependencies: map[string]json.RawMessage{
		"validate": json.RawMessage(`{"cents": 1250, "ok": true, "tags": ["a", "b"]}`),
		"lookup":   json.RawMessage(`"just text"`),
	},
	Now: clock,
}

func call(t *testing.T, cfg map[string]any) (echoed, error) {
	t.Helper()
	c := mustParse(t, cfg)
	resp, err := Do(t.Context(), c, placeholderInput)
	if err != nil {
		return echoed{}, err
	}
	var e echoed
	require.NoError(t, json.Unmarshal(resp.Body, &e))
	return e, nil
}

func TestPlaceholdersURL(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	// In the path a value is path-escaped: "/" cannot add a segment.
	got, err := call(t, map[string]any{"url": srv.URL + "/orders/{{context.order.id}}/items/{{ context.order.items.1.sku }}?c={{context.order.id}}&n={{dependencies.validate.cents}}#{{context.customer}}"})
	require.NoError(t, err)
	require.Equal(t, "/orders/A%2F7%20%3F&%23/items/y%202", got.RawPath)
	require.Equal(t, "/orders/A/7 ?&#/items/y 2", got.Path)
	// In the query a value is query-escaped: "&" cannot add a parameter.
	require.Equal(t, "c=A%2F7+%3F%26%23&n=1250", got.RawQuery)
	require.Equal(t, map[string][]string{"c": {"A/7 ?&#"}, "n": {"1250"}}, got.Query)

	// A segment that placeholders make empty, "." or ".." is refused: it
	// would move the request to another path of the host.
	for _, tc := range []struct{ ctx, url, seg string }{
		{`{"id": "."}`, "/v1/users/{{context.id}}/profile", "."},
		{`{"id": ".."}`, "/v1/users/{{context.id}}/profile", ".."},
		{`{"id": ""}`, "/v1/users/{{context.id}}", ""},
		{`{"id": null}`, "/v1/users/{{context.id}}/cancel", ""},
		{`{"name": "", "ext": ""}`, "/v1/files/{{context.name}}.{{context.ext}}/meta", "."},
	} {
		in := *placeholderInput
		in.Context = json.RawMessage(tc.ctx)
		_, err = Do(t.Context(), mustParse(t, map[string]any{"url": srv.URL + tc.url}), &in)
		require.EqualError(t, err, `handler_config.url of step "charge": its placeholders make the path segment "`+tc.seg+
			`", which would change the request's path: give values that make a segment other than "", "." or ".."`, tc.ctx)
	}
	for _, tc := range []struct{ ctx, url string }{
		{`{"id": "..x"}`, "/v1/users/{{context.id}}"},
		{`{"id": ""}`, "/v1/users?q={{context.id}}"},
		{`{"id": ""}`, "/v1/users/x{{context.id}}"},
	} {
		in := *placeholderInput
		in.Context = json.RawMessage(tc.ctx)
		_, err = Do(t.Context(), mustParse(t, map[string]any{"url": srv.URL + tc.url}), &in)
		require.NoError(t, err, "%s %s", tc.ctx, tc.url)
	}

	// A literal "{{" is written "{{{{".
	got, err = call(t, map[string]any{"url": srv.URL + "/t?q={{{{x}}"})
	require.NoError(t, err)
	require.Equal(t, []string{"{{x}}"}, got.Query["q"])
}

func TestPlaceholdersParamsAndHeaders(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	got, err := call(t, map[string]any{
		"url": srv.URL + "/p?fixed=1",
		"params": map[string]any{
			"id": "{{context.order.id}}", "total": "{{context.order.total}}", "big": "{{context.order.big}}", "gift": "{{context.order.gift}}",
			"note": "[{{context.order.note}}]", "tags": "{{dependencies.validate.tags}}", "who": "dear {{context.customer}}", "text": "{{dependencies.lookup}}",
		},
		"headers": map[string]any{"X-Order": "order {{context.order.id}}", "X-Cents": "{{dependencies.validate.cents}}", "X-Item": "{{context.order.items.0}}"},
	})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"fixed": {"1"}, "id": {"A/7 ?&#"}, "total": {"12.50"}, "big": {"12345678901234567890"}, "gift": {"true"},
		"note": {"[]"}, "tags": {`["a","b"]`}, "who": {"dear ada"}, "text": {"just text"},
	}, got.Query, "numbers as written, null as nothing, arrays and objects as JSON")
	require.Equal(t, "order A/7 ?&#", got.Headers.Get("X-Order"))
	require.Equal(t, "1250", got.Headers.Get("X-Cents"))
	require.Equal(t, `{"sku":"x-1"}`, got.Headers.Get("X-Item"))
}

func TestPlaceholdersBody(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	got, err := call(t, map[string]any{
		"url": srv.URL + "/b", "method": "POST",
		"body": map[string]any{
			"id":       "{{context.order.id}}",
			"total":    "{{ context.order.total }}",
			"big":      "{{context.order.big}}",
			"gift":     "{{context.order.gift}}",
			"note":     "{{context.order.note}}",
			"items":    "{{context.order.items}}",
			"cents":    "{{dependencies.validate.cents}}",
			"all":      "{{dependencies.validate}}",
			"text":     "total: {{context.order.total}} for {{context.customer}}",
			"list":     []any{"{{context.customer}}", 3, "{{context.order.items.0.sku}}"},
			"constant": 42,
			"literal":  "{{{{not a placeholder}}",
		},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{
		"id": "A/7 ?&#", "total": 12.50, "big": 12345678901234567890, "gift": true, "note": null,
		"items": [{"sku": "x-1"}, {"sku": "y 2"}], "cents": 1250, "all": {"cents": 1250, "ok": true, "tags": ["a", "b"]},
		"text": "total: 12.50 for ada", "list": ["ada", 3, "x-1"], "constant": 42, "literal": "{{not a placeholder}}"
	}`, string(got.Body))
	require.Contains(t, string(got.Body), `"big":12345678901234567890`, "big numbers keep every digit")
	require.Contains(t, string(got.Body), `"total":12.50`, "numbers keep their text")

	// The whole context.
	got, err = call(t, map[string]any{"url": srv.URL + "/b", "method": "POST", "body": "{{context}}"})
	require.NoError(t, err)
	require.JSONEq(t, string(placeholderInput.Context), string(got.Body))
}

func TestPlaceholdersMissing(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	for cfg, want := range map[string]string{
		`{"url": "URL/{{context.order.number}}"}`:                            `placeholder {{context.order.number}} of step "charge" has no value: the task context has no "order.number"`,
		`{"url": "URL/x", "params": {"a": "{{context.order.items.2.sku}}"}}`: `placeholder {{context.order.items.2.sku}} of step "charge" has no value: the task context has no "order.items.2" ("order.items" is an array of 2)`,
		`{"url": "URL/x", "headers": {"X-A": "{{context.customer.name}}"}}`:  `placeholder {{context.customer.name}} of step "charge" has no value: the task context has no "customer.name" ("customer" is not an object)`,
		`{"url": "URL/x", "body": {"a": "{{dependencies.charge_card.id}}"}}`: `placeholder {{dependencies.charge_card.id}} of step "charge" has no value: step "charge_card" is not a dependency of "charge" (dependencies: [lookup validate]); add it to depends_on_steps`,
		`{"url": "URL/x", "body": ["x {{dependencies.validate.missing}}"]}`:  `placeholder {{dependencies.validate.missing}} of step "charge" has no value: the results of "validate" have no "missing"`,
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(cfg, "URL", srv.URL)), &m))
		_, err := call(t, m)
		require.EqualError(t, err, want, cfg)
		var me *MissingValueError
		require.ErrorAs(t, err, &me)
		permanent, _ := Decide(err)
		require.True(t, permanent)
	}

	c := mustParse(t, map[string]any{"url": srv.URL + "/{{context.a}}?b={{dependencies.lookup.b}}"})
	_, err := Do(t.Context(), c, &Input{Step: "s", Context: []byte(`[1, 2]`)})
	require.EqualError(t, err, `placeholder {{context.a}} of step "s" has no value: the task context has no "a" (it is an array of 2)`)
	_, err = Do(t.Context(), c, &Input{Step: "s", Context: []byte(`"text"`)})
	require.EqualError(t, err, `placeholder {{context.a}} of step "s" has no value: the task context has no "a" (it is not an object)`)
	_, err = Do(t.Context(), c, &Input{Step: "s", Context: []byte(`{"a": 1}`), Dependencies: placeholderInput.Dependencies})
	require.EqualError(t, err, `placeholder {{dependencies.lookup.b}} of step "s" has no value: the results of "lookup" have no "b" (they are not an object)`)
}
