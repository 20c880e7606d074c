package taskergraphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
)

// FuzzGraphQL sends any document with any variables to the API on SQLite
// and, when PostgreSQL is available (required in CI), on PostgreSQL: every
// answer is JSON with data or errors, never a 5xx, and an error never
// carries internal detail.
func FuzzGraphQL(f *testing.F) {
	var handlers []http.Handler
	for _, d := range testdb.OpenEach(f) {
		c, err := tasker.NewClient(context.Background(), d, &tasker.Config{Registry: registry(f)})
		require.NoError(f, err)
		_, err = c.CreateTask(context.Background(), &tasker.TaskRequest{Name: "dummy_task", Context: map[string]any{"dummy": true}})
		require.NoError(f, err)
		handlers = append(handlers, taskerhttp.NewHandler(c, nil))
	}
	for _, seed := range [][2]string{
		{`{ tasks { taskId workflowSteps { name parents { name } } } }`, `{}`},
		{`query($id: ID!) { task(taskId: $id) { taskId status context } }`, `{"id": "1"}`},
		{`query($id: ID!) { task(taskId: $id) { taskId } }`, `{"id": "\u0000"}`},
		{`mutation($c: JSON!) { createTask(input: {name: "dummy_task", context: $c}) { taskId } }`, `{"c": {"dummy": 1e999999}}`},
		{`mutation($c: JSON!) { createTask(input: {name: "dummy_task", context: $c}) { taskId } }`, `{"c": "{\"dummy\":true,\"x\":\"\\u0000\"}"}`},
		{`mutation { updateStep(input: {taskId: "1", stepId: "1", retryLimit: 2147483648}) { name } }`, `{}`},
		{`mutation($i: JSON) { updateStep(input: {taskId: "1", stepId: "2", inputs: $i}) { name } }`, `{"i": [1, 2]}`},
		{`{ tasksByStatus(status: "pending", limit: -1, offset: 99999999999) { taskId } }`, `{}`},
		{`{ node(id: "VGFzay0x") { id } nodes(ids: ["x", "VGFzay05OTk5OTk5OTk5OTk5OTk5OTk5OQ=="]) { id } }`, `{}`},
		{`{ __schema { types { name } } }`, `{}`},
		{`fragment f on Task { workflowSteps { task { ...f } } } { tasks { ...f } }`, `{}`},
		{`{ tasks(sortBy: "name; DROP TABLE tasker_tasks", sortOrder: "\u00ff") { taskId } }`, `{}`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, query, variables string) {
		body, err := json.Marshal(map[string]any{"query": query, "variables": json.RawMessage(variables)})
		if err != nil { // variables is not JSON: send it as a string
			body, _ = json.Marshal(map[string]any{"query": query, "variables": variables})
		}
		for _, h := range handlers {
			req := httptest.NewRequest(http.MethodPost, "/tasker/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%d for %q %q: %s", rec.Code, query, variables, rec.Body.Bytes())
			}
			var out struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("not JSON (%d) for %q: %s", rec.Code, query, rec.Body.Bytes())
			}
			for _, e := range out.Errors {
				if e.Extensions["code"] == "INTERNAL_SERVER_ERROR" {
					t.Fatalf("internal error for %q %q: %s", query, variables, rec.Body.Bytes())
				}
				for _, leak := range []string{"SQLSTATE", "postgres:", "sqlite:", "pgx"} {
					if bytes.Contains([]byte(e.Message), []byte(leak)) {
						t.Fatalf("internal detail %q in %s", leak, rec.Body.Bytes())
					}
				}
			}
		}
	})
}
