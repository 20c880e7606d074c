package taskergraphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskergraphql"
	"github.com/tasker-go/tasker/taskerhttp"
)

// TestNestedFieldPermissions: a nested field that shows another object
// needs the permission that shows it by REST, so that a credential cannot
// read through a field what its root field's permission does not give.
func TestNestedFieldPermissions(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t)
		e.token = e.newToken(t, "admin", "*")
		var task taskView
		e.query(`mutation { createTask(input: {name: "fragile", context: {secret: "context-s3cret"}}) { taskId workflowSteps { workflowStepId name } } }`, nil).
			noErrors(t).field(t, "createTask", &task)
		e.runUntilIdle() // prepare answers {"step": "prepare"} and annotates the task
		prepare := task.step(t, "prepare").WorkflowStepID

		forbidden := func(res *gqlResponse, permission string, path []any, hidden ...string) {
			t.Helper()
			require.NotEmpty(t, res.Errors, "%s", res.raw)
			require.Equal(t, "FORBIDDEN", res.Errors[0].Extensions["code"], "%s", res.raw)
			require.Equal(t, permission, res.Errors[0].Extensions["permission"], "%s", res.raw)
			require.Equal(t, path, res.Errors[0].Path, "%s", res.raw)
			for _, h := range hidden {
				require.NotContains(t, string(res.raw), h)
			}
		}

		e.token = e.newToken(t, "lister", "tasker.task:index")
		forbidden(e.query(`{ tasks { taskId workflowSteps { results } } }`, nil), "tasker.task:show",
			[]any{"tasks", float64(0), "workflowSteps"}, `"prepare"`)
		res := e.query(`{ tasks { taskId workflowSteps { results } } }`, nil)
		require.Contains(t, res.Errors[0].Message, "tasker.task:show or tasker.workflow_step:index")
		forbidden(e.query(`{ tasks { taskAnnotations { annotation } } }`, nil), "tasker.task:show",
			[]any{"tasks", float64(0), "taskAnnotations"}, "dummy-annotation", `"annotation"`)
		e.query(`{ tasks { taskId context } }`, nil).noErrors(t) // as GET /tasker/tasks?include=context

		e.token = e.newToken(t, "step-reader", "tasker.workflow_step:show")
		step := fmt.Sprintf(`{ step(taskId: "%s", stepId: "%s") { name %%s } }`, task.TaskID, prepare)
		e.query(fmt.Sprintf(step, "results"), nil).noErrors(t)
		forbidden(e.query(fmt.Sprintf(step, "task { context }"), nil), "tasker.task:show", []any{"step", "task"}, "context-s3cret")
		forbidden(e.query(fmt.Sprintf(step, "children { results }"), nil), "tasker.task:show", []any{"step", "children"})

		// task:show shows what GET /tasker/tasks/{id} answers; the step
		// list's permission with the task list's shows the steps of a page.
		e.token = e.newToken(t, "shower", "tasker.task:show")
		e.query(fmt.Sprintf(`{ task(taskId: "%s") { context workflowSteps { results parents { name } children { name task { taskId } } } taskAnnotations { annotation } } }`, task.TaskID), nil).
			noErrors(t)
		e.token = e.newToken(t, "step-lister", "tasker.task:index", "tasker.workflow_step:index")
		e.query(`{ tasks { workflowSteps { name parents { name } } } }`, nil).noErrors(t)
	})
}

// TestDocumentLimits: what a document may make the server do is bounded
// before it runs: fragments that expand exponentially, introspection and
// cheap root fields repeated by aliases, fan-out through a step's
// relations, and the parser's tokens.
func TestDocumentLimits(t *testing.T) {
	e := newEnv(t, nil)
	refused := func(doc, code, contains string) {
		t.Helper()
		res := e.query(doc, nil)
		require.Equal(t, code, res.code(t), "%s", res.raw)
		require.Contains(t, res.Errors[0].Message, contains)
		require.Equal(t, "null", string(orNull(res.Data["tasks"])), "nothing ran: %s", res.raw)
	}

	// 2^60 fields once expanded: refused at once (each fragment measured
	// once), where expanding them would never end.
	var bomb strings.Builder
	bomb.WriteString(`{ tasks { ...F0 } }`)
	for i := range 60 {
		fmt.Fprintf(&bomb, " fragment F%d on Task { ...F%d ...F%d }", i, i+1, i+1)
	}
	bomb.WriteString(" fragment F60 on Task { taskId }")
	refused(bomb.String(), "BAD_USER_INPUT", "fields with its fragments expanded")

	// A fragment used twice counts twice, and once more as validation
	// visits it alone: 1 + 2×700 + 700.
	twice := `{ tasks { ...A ...A } } fragment A on Task { ` + strings.Repeat("taskId ", 700) + `}`
	e.query(strings.Replace(twice, "...A ...A", "...A", 1), nil).noErrors(t)
	refused(twice, "BAD_USER_INPUT", "selects 2101 fields")
	// Fields of one name, which validation compares pairwise, are bounded
	// before it runs.
	refused(`{ tasks { `+strings.Repeat("taskId ", 4900)+`} }`, "BAD_USER_INPUT", "at most 2000 are allowed")

	// Introspection counts 500 fields a time: one passes, ten do not.
	e.query(`{ __schema { types { name } } }`, nil).noErrors(t)
	var intro strings.Builder
	intro.WriteString("{ ")
	for i := range 10 {
		fmt.Fprintf(&intro, "s%d: __schema { queryType { name } } ", i)
	}
	intro.WriteString("}")
	refused(intro.String(), "BAD_USER_INPUT", "__schema or __type counts 500")

	// Each root field that reads the database costs 100: aliases cannot
	// turn one request into thousands of reads.
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&aliases, `t%d: task(taskId: "1") { taskId } `, i)
	}
	aliases.WriteString("}")
	refused(aliases.String(), "COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit")

	// A step's parents and children count 5 each, so fan-out through them
	// multiplies.
	fan := `{ tasks(limit: 100) { workflowSteps { parents { children { parents { children { name } } } } } } }`
	refused(fan, "COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit")

	// The parser stops at 15,000 tokens.
	res := e.query(`{ tasks { `+strings.Repeat("taskId ", 20_000)+`} }`, nil)
	require.Equal(t, "GRAPHQL_PARSE_FAILED", res.code(t), "%s", res.raw)

	// A subscription is not served over POST (it would hold the request
	// until its timeout and answer null).
	res = e.query(`subscription { events { name } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", res.code(t), "%s", res.raw)
	require.Contains(t, res.Errors[0].Message, "WebSocket")
}

func orNull(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return json.RawMessage("null")
	}
	return raw
}

// TestRequestBodies: a body that is not a request is refused with what is
// wrong in the request's terms (never the server's Go types), one over the
// body limit with 413.
func TestRequestBodies(t *testing.T) {
	e := newEnv(t, func(*tasker.Client) *taskerhttp.Options { return &taskerhttp.Options{MaxBodyBytes: 4096} })
	for body, want := range map[string]string{
		`{"query": 5}`: "query must be a string",
		`{"query": "{ tasks { taskId } }", "variables": [1]}`:    "variables must be an object",
		`{"query": "{ tasks { taskId } }", "operationName": {}}`: "operationName must be a string",
		`[{"query": "{ tasks { taskId } }"}]`:                    "must be a JSON object",
		`{"query": `:                                             "must be a JSON object",
	} {
		res := e.post("application/json", []byte(body))
		require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", body, res.raw)
		require.Equal(t, "BAD_USER_INPUT", res.code(t))
		require.Contains(t, res.Errors[0].Message, want, body)
		for _, leak := range []string{"Go ", "struct", "RawParams", "unmarshal"} {
			require.NotContains(t, string(res.raw), leak, body)
		}
	}
	big, err := json.Marshal(map[string]any{"query": "{ tasks { taskId } }", "variables": map[string]any{"pad": strings.Repeat("x", 5000)}})
	require.NoError(t, err)
	res := e.post("application/json", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.Status, "%s", res.raw)
	require.Contains(t, res.Errors[0].Message, "over 4096 bytes")
	e.query(`{ tasks { taskId } }`, nil).noErrors(t)
}

// TestResponseLimit: an answer over MaxResponseBytes is refused as a whole
// with RESPONSE_TOO_LARGE and the fix; one within it is answered.
func TestResponseLimit(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, func(*tasker.Client) *taskerhttp.Options { return &taskerhttp.Options{MaxResponseBytes: 16 << 10} })
		pad := strings.Repeat("x", 6<<10)
		for range 3 {
			_, err := e.client.CreateTask(context.Background(), &tasker.TaskRequest{Name: "fragile", Context: map[string]any{"pad": pad}})
			require.NoError(t, err)
		}
		res := e.query(`{ tasks { taskId context } }`, nil)
		require.Equal(t, "RESPONSE_TOO_LARGE", res.code(t), "%s", res.raw)
		require.Contains(t, res.Errors[0].Message, "16384 bytes")
		require.Contains(t, res.Errors[0].Message, "limit")
		require.Less(t, len(res.raw), 1024, "the answer is the error alone")

		var tasks []taskView
		e.query(`{ tasks(limit: 2) { taskId context } }`, nil).noErrors(t).field(t, "tasks", &tasks)
		require.Len(t, tasks, 2)
		e.query(`{ tasks { taskId status } }`, nil).noErrors(t) // the contexts are not read
	})
}

// TestTimedOutRequest: a request whose time ran out before it could run is
// answered UNAVAILABLE, not with a null body.
func TestTimedOutRequest(t *testing.T) {
	e := newEnv(t, func(*tasker.Client) *taskerhttp.Options { return &taskerhttp.Options{RequestTimeout: time.Nanosecond} })
	res := e.query(`{ tasks { taskId } }`, nil)
	require.Equal(t, "UNAVAILABLE", res.code(t), "%s", res.raw)
}

// TestAuthorizeHook: Options.Authorize sees each field's request
// authenticated (its principal in the context), over HTTP and over a
// WebSocket whose credential came in connection_init; an
// ErrUnauthenticated from it is UNAUTHENTICATED.
func TestAuthorizeHook(t *testing.T) {
	type seen struct {
		subject, header, perm string
	}
	calls := make(chan seen, 16)
	e := newEnv(t, func(c *tasker.Client) *taskerhttp.Options {
		return &taskerhttp.Options{
			Authenticator: taskerhttp.NewAuthenticator(c, nil),
			GraphQL:       &taskergraphql.Config{MaxSubscriptions: 2},
			Authorize: func(r *http.Request, op taskerhttp.Operation) error {
				p, _ := taskerauth.PrincipalFrom(r.Context())
				var s seen
				if p != nil {
					s.subject = p.Subject
				}
				s.header, s.perm = r.Header.Get("Authorization"), string(op)
				select {
				case calls <- s:
				default:
				}
				if s.subject == "outsider" {
					return fmt.Errorf("%w: outsiders sign in again", taskerhttp.ErrUnauthenticated)
				}
				return nil
			},
		}
	})
	e.token = e.newToken(t, "insider", "*")
	e.query(`{ tasks { taskId } }`, nil).noErrors(t)
	require.Equal(t, seen{"insider", "Bearer " + e.token, "tasker.task:index"}, <-calls)

	e.token = e.newToken(t, "outsider", "*")
	res := e.query(`{ tasks { taskId } }`, nil)
	require.Equal(t, "UNAUTHENTICATED", res.code(t), "%s", res.raw)
	require.Contains(t, res.Errors[0].Message, "outsiders sign in again")
	<-calls

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insider := e.newToken(t, "ws-insider", "*")
	e.token = ""
	c, err := e.dial(ctx, t, map[string]any{"authorization": "Bearer " + insider})
	require.NoError(t, err)
	task, err := e.client.CreateTask(ctx, &tasker.TaskRequest{Name: "dummy_task", Context: map[string]any{"dummy": true}})
	require.NoError(t, err)
	sub := func(id string) {
		t.Helper()
		// taskUpdated answers at once, once it runs (it holds its place).
		doc := fmt.Sprintf(`subscription { taskUpdated(taskId: "%d") { status } }`, task.Task.ID)
		body, _ := json.Marshal(map[string]any{"query": doc})
		require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: id, Type: "subscribe", Payload: body}))
	}
	sub("1")
	require.Equal(t, seen{"ws-insider", "Bearer " + insider, "tasker.task:show"}, <-calls)

	// At most MaxSubscriptions run on one connection: once 1 and 2 answer
	// (they run), 3 is refused.
	sub("2")
	<-calls
	for running := map[string]bool{}; !running["1"] || !running["2"]; {
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, c, &m))
		running[m.ID] = m.Type == "next" || running[m.ID]
	}
	sub("3")
	var m wsMessage
	for m.ID != "3" { // skipping events of subscriptions 1 and 2
		require.NoError(t, wsjson.Read(ctx, c, &m))
	}
	require.Contains(t, string(m.Payload), "at most 2 subscriptions")
	require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: "1", Type: "complete"}))
	// Completing one frees its place (once its goroutine ends: retried
	// until it has).
	for i := 0; ; i++ {
		sub(fmt.Sprint("again-", i))
		<-calls
		var got wsMessage
		for {
			require.NoError(t, wsjson.Read(ctx, c, &got))
			if got.ID == fmt.Sprint("again-", i) {
				break
			}
		}
		if !bytes.Contains(got.Payload, []byte("at most 2")) {
			require.Equal(t, "next", got.Type, "%s", got.Payload)
			break
		}
		require.Less(t, i, 100, "the completed subscription's place was never freed")
	}
	require.NoError(t, errors.Join(c.CloseNow()))
}
