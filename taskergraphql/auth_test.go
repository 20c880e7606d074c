package taskergraphql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
)

// newAuthEnv serves the API with the default authenticator (API tokens).
func newAuthEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *tasker.Client) *taskerhttp.Options {
		return &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil)}
	})
}

func (e *env) newToken(t *testing.T, name string, perms ...string) string {
	t.Helper()
	secret, _, err := e.client.CreateToken(context.Background(), tasker.TokenParams{Name: name, Permissions: perms})
	require.NoError(t, err)
	return secret
}

// TestOperationPermissions: each root field needs the REST API's
// permission for the same thing: without it the field is null with a
// FORBIDDEN error naming it; with it the field answers.
func TestOperationPermissions(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t)
		e.token = e.newToken(t, "admin", "*")
		var task taskView
		e.query(`mutation { createTask(input: {name: "fragile", context: {}}) { taskId workflowSteps { workflowStepId name } } }`, nil).
			noErrors(t).field(t, "createTask", &task)
		var other taskView
		e.query(`mutation { createTask(input: {name: "fragile", context: {}, reason: "other"}) { taskId workflowSteps { workflowStepId name } } }`, nil).
			noErrors(t).field(t, "createTask", &other)
		e.runUntilIdle()
		pay := task.step(t, "pay").WorkflowStepID
		ops := []struct {
			perm, field, doc string
		}{
			{"tasker.task:index", "tasks", `{ tasks { taskId } }`},
			{"tasker.task:index", "tasksByStatus", `{ tasksByStatus(status: "error") { taskId } }`},
			{"tasker.task:index", "tasksByAnnotation", `{ tasksByAnnotation(annotationType: "a", annotationKey: "k", annotationValue: "v") { taskId } }`},
			{"tasker.task:index", "annotationTypes", `{ annotationTypes { name } }`},
			{"tasker.task:show", "task", fmt.Sprintf(`{ task(taskId: "%s") { taskId } }`, task.TaskID)},
			{"tasker.workflow_step:show", "step", fmt.Sprintf(`{ step(taskId: "%s", stepId: "%s") { name } }`, task.TaskID, pay)},
			{"tasker.task:create", "createTask", `mutation { createTask(input: {name: "dummy_task", context: {dummy: true}}) { taskId } }`},
			{"tasker.task:update", "updateTask", fmt.Sprintf(`mutation { updateTask(input: {taskId: "%s", reason: "r"}) { taskId } }`, task.TaskID)},
			{"tasker.workflow_step:update", "updateStep", fmt.Sprintf(`mutation { updateStep(input: {taskId: "%s", stepId: "%s", retryLimit: 2}) { name } }`, task.TaskID, pay)},
			{"tasker.workflow_step:resolve", "resolveStep", fmt.Sprintf(`mutation { resolveStep(input: {taskId: "%s", stepId: "%s"}) { name } }`, other.TaskID, other.step(t, "pay").WorkflowStepID)},
			{"tasker.task:retry", "retryTask", fmt.Sprintf(`mutation { retryTask(input: {taskId: "%s"}) { taskId } }`, task.TaskID)},
			{"tasker.workflow_step:destroy", "cancelStep", fmt.Sprintf(`mutation { cancelStep(input: {taskId: "%s", stepId: "%s"}) { name } }`, task.TaskID, pay)},
			{"tasker.task:destroy", "cancelTask", fmt.Sprintf(`mutation { cancelTask(input: {taskId: "%s"}) { taskId } }`, task.TaskID)},
		}
		for i, op := range ops {
			e.token = e.newToken(t, fmt.Sprintf("without-%d", i), "tasker.handler:index")
			res := e.query(op.doc, nil)
			require.Equal(t, "FORBIDDEN", res.code(t), "%s without %s: %s", op.field, op.perm, res.raw)
			require.Contains(t, res.Errors[0].Message, op.perm)
			require.Equal(t, []any{op.field}, res.Errors[0].Path)
			require.Equal(t, "null", string(res.Data[op.field]), "%s", res.raw)

			e.token = e.newToken(t, fmt.Sprintf("with-%d", i), op.perm)
			res = e.query(op.doc, nil)
			for _, er := range res.Errors {
				require.NotEqual(t, "FORBIDDEN", er.Extensions["code"], "%s with %s: %s", op.field, op.perm, res.raw)
			}
			require.NotEqual(t, "null", string(res.Data[op.field]), "%s with %s: %s", op.field, op.perm, res.raw)
		}

		// A document mixing an allowed and a forbidden field gets the data
		// of the first and a FORBIDDEN error for the second.
		e.token = e.newToken(t, "reader", "tasker.task:index")
		res := e.query(fmt.Sprintf(`{ tasks { taskId } task(taskId: "%s") { taskId } }`, task.TaskID), nil)
		require.Equal(t, "FORBIDDEN", res.code(t))
		require.Equal(t, []any{"task"}, res.Errors[0].Path)
		var tasks []taskView
		res.field(t, "tasks", &tasks)
		require.Len(t, tasks, 3, "the two fragile tasks and the one createTask made")
	})
}

// TestCredentials: no credential or a bad one is a 401 with a GraphQL
// error and WWW-Authenticate; the actor of a mutation is in the audit
// trail.
func TestCredentials(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t)
		token := e.newToken(t, "ops-bot", "tasker.task:*") // a token exists: authentication is on
		res := e.query(`{ tasks { taskId } }`, nil)
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "UNAUTHENTICATED", res.code(t))
		e.token = "tkr_not-a-real-token"
		res = e.query(`{ tasks { taskId } }`, nil)
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "UNAUTHENTICATED", res.code(t))

		e.token = token
		var created taskView
		e.query(`mutation { createTask(input: {name: "dummy_task", context: {dummy: true}}) { taskId initiator } }`, nil).
			noErrors(t).field(t, "createTask", &created)
		require.Equal(t, "ops-bot", created.Initiator)
		var cancelled taskView
		e.query(fmt.Sprintf(`mutation { cancelTask(input: {taskId: "%s", reason: "dup"}) { status } }`, created.TaskID), nil).
			noErrors(t).field(t, "cancelTask", &cancelled)
		var id int64
		_, err := fmt.Sscan(created.TaskID, &id)
		require.NoError(t, err)
		trs, err := e.client.TaskTransitions(context.Background(), id)
		require.NoError(t, err)
		last := trs[len(trs)-1]
		require.Equal(t, tasker.StateCancelled, last.ToState)
		var meta map[string]any
		require.NoError(t, json.Unmarshal(last.Metadata, &meta))
		require.Equal(t, "ops-bot", meta["actor"])
	})
}
