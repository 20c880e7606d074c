package taskergraphql_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
)

type taskView struct {
	TaskID        string         `json:"taskId"`
	Status        string         `json:"status"`
	Reason        string         `json:"reason"`
	Tags          []string       `json:"tags"`
	Context       map[string]any `json:"context"`
	Initiator     string         `json:"initiator"`
	NamedTaskID   int            `json:"namedTaskId"`
	Complete      bool           `json:"complete"`
	WorkflowSteps []stepView     `json:"workflowSteps"`
}

type stepView struct {
	WorkflowStepID string         `json:"workflowStepId"`
	TaskID         int            `json:"taskId"`
	Name           string         `json:"name"`
	Status         string         `json:"status"`
	Attempts       int            `json:"attempts"`
	Processed      bool           `json:"processed"`
	RetryLimit     int            `json:"retryLimit"`
	Inputs         map[string]any `json:"inputs"`
	Results        map[string]any `json:"results"`
	ParentStepIDs  []int          `json:"parentStepIds"`
	ChildStepIDs   []int          `json:"childStepIds"`
	IsRootStep     bool           `json:"isRootStep"`
	IsLeafStep     bool           `json:"isLeafStep"`
	Parents        []stepView     `json:"parents"`
	Children       []stepView     `json:"children"`
	NamedStep      *struct {
		Name            string `json:"name"`
		DependentSystem struct {
			Name string `json:"name"`
		} `json:"dependentSystem"`
	} `json:"namedStep"`
}

func (tv taskView) step(t *testing.T, name string) stepView {
	t.Helper()
	for _, s := range tv.WorkflowSteps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q", name)
	return stepView{}
}

// TestOriginalRequests runs the original engine's GraphQL request examples
// unchanged: create (context as a JSON string), the task lists, one task,
// one step with its relations, and the update and cancel mutations.
func TestOriginalRequests(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		var created taskView
		e.query(`mutation { createTask(input: {name: "dummy_task", context: "{\"dummy\":true}", initiator: "pete@test",
			reason: "setting up a test", sourceSystem: "test-system", tags: ["some", "tags"]}) { taskId status context initiator tags } }`, nil).
			noErrors(t).field(t, "createTask", &created)
		require.Equal(t, "pending", created.Status)
		require.Equal(t, map[string]any{"dummy": true}, created.Context)
		require.Equal(t, "pete@test", created.Initiator)
		require.Equal(t, []string{"some", "tags"}, created.Tags)
		var second taskView
		e.query(`mutation($ctx: JSON!) { createTask(input: {name: "dummy_task", context: $ctx}) { taskId } }`,
			map[string]any{"ctx": map[string]any{"dummy": false}}).noErrors(t).field(t, "createTask", &second)

		var tasks []taskView
		e.query(`query { tasks { taskId status workflowSteps { workflowStepId status } } }`, nil).noErrors(t).field(t, "tasks", &tasks)
		require.Len(t, tasks, 2)
		require.Equal(t, second.TaskID, tasks[0].TaskID, "newest requested first")
		require.Len(t, tasks[0].WorkflowSteps, 4)

		var pending []taskView
		e.query(`query { tasksByStatus(status: "pending") { taskId status } }`, nil).noErrors(t).field(t, "tasksByStatus", &pending)
		require.Len(t, pending, 2)
		e.query(`query { tasksByStatus(status: "complete") { taskId } }`, nil).noErrors(t).field(t, "tasksByStatus", &pending)
		require.Empty(t, pending)

		e.runUntilIdle()
		var one taskView
		e.query(`query($id: ID!) { task(taskId: $id) { taskId status complete namedTaskId workflowSteps { workflowStepId name status attempts processed results
			parentStepIds childStepIds isRootStep isLeafStep parents { name } children { name } namedStep { name dependentSystem { name } } } } }`,
			map[string]any{"id": created.TaskID}).noErrors(t).field(t, "task", &one)
		require.Equal(t, "complete", one.Status)
		require.True(t, one.Complete)
		require.NotZero(t, one.NamedTaskID)
		three := one.step(t, "step-three")
		require.Equal(t, "complete", three.Status)
		require.Equal(t, 1, three.Attempts)
		require.True(t, three.Processed)
		require.Equal(t, map[string]any{"step": "step-three"}, three.Results)
		require.Equal(t, []stepView{{Name: "step-two"}}, three.Parents)
		require.Equal(t, []stepView{{Name: "step-four"}}, three.Children)
		require.False(t, three.IsRootStep)
		require.True(t, one.step(t, "step-one").IsRootStep)
		require.True(t, one.step(t, "step-one").IsLeafStep)
		require.Equal(t, "dummy-system", three.NamedStep.DependentSystem.Name)

		// Annotations, as the original's request specs query them.
		var byAnnotation []taskView
		e.query(`query { tasksByAnnotation(annotationType: "dummy-annotation", annotationKey: "dummy", annotationValue: "annotation") { taskId } }`, nil).
			noErrors(t).field(t, "tasksByAnnotation", &byAnnotation)
		require.Len(t, byAnnotation, 2, "both tasks ran their steps")
		e.query(`query { tasksByAnnotation(annotationType: "dummy-annotation", annotationKey: "dummy", annotationValue: "other") { taskId } }`, nil).
			noErrors(t).field(t, "tasksByAnnotation", &byAnnotation)
		require.Empty(t, byAnnotation)
		e.query(`query { tasksByAnnotation(annotationType: "no-such-type", annotationKey: "dummy", annotationValue: "annotation") { taskId } }`, nil).
			noErrors(t).field(t, "tasksByAnnotation", &byAnnotation)
		require.Empty(t, byAnnotation)
		var annotated struct {
			TaskAnnotations []struct {
				TaskAnnotationID string         `json:"taskAnnotationId"`
				TaskID           int            `json:"taskId"`
				Annotation       map[string]any `json:"annotation"`
				AnnotationType   struct {
					AnnotationTypeID string `json:"annotationTypeId"`
					Name             string `json:"name"`
				} `json:"annotationType"`
			} `json:"taskAnnotations"`
		}
		e.query(`query($id: ID!) { task(taskId: $id) { taskAnnotations { taskAnnotationId taskId annotation annotationType { annotationTypeId name } } } }`,
			map[string]any{"id": created.TaskID}).noErrors(t).field(t, "task", &annotated)
		require.Len(t, annotated.TaskAnnotations, 4, "one a step")
		var steps []string
		for _, a := range annotated.TaskAnnotations {
			require.Equal(t, "dummy-annotation", a.AnnotationType.Name)
			require.Equal(t, "annotation", a.Annotation["dummy"])
			require.Equal(t, created.TaskID, fmt.Sprint(a.TaskID))
			steps = append(steps, a.Annotation["step"].(string))
		}
		require.ElementsMatch(t, []string{"step-one", "step-two", "step-three", "step-four"}, steps)
		var types []struct {
			AnnotationTypeID string `json:"annotationTypeId"`
			Name             string `json:"name"`
		}
		e.query(`{ annotationTypes { annotationTypeId name } }`, nil).noErrors(t).field(t, "annotationTypes", &types)
		require.Len(t, types, 1)
		require.Equal(t, "dummy-annotation", types[0].Name)
		require.Equal(t, annotated.TaskAnnotations[0].AnnotationType.AnnotationTypeID, types[0].AnnotationTypeID, "one id for one type")

		var st stepView
		e.query(`query($t: ID!, $s: ID!) { step(taskId: $t, stepId: $s) { workflowStepId taskId name status parents { name } children { name } } }`,
			map[string]any{"t": created.TaskID, "s": three.WorkflowStepID}).noErrors(t).field(t, "step", &st)
		require.Equal(t, "step-three", st.Name)
		require.Equal(t, created.TaskID, fmt.Sprint(st.TaskID))

		// update and cancel: the second task (pending again after a retry is not possible; use a fresh one)
		var fresh taskView
		e.query(`mutation { createTask(input: {name: "dummy_task", context: "{\"dummy\":true}", reason: "fresh"}) { taskId workflowSteps { workflowStepId name } } }`, nil).
			noErrors(t).field(t, "createTask", &fresh)
		var updated taskView
		e.query(fmt.Sprintf(`mutation { updateTask(input: {taskId: "%s", reason: "Testing update task mutation", tags: ["more", "tags"]}) { taskId reason tags } }`, fresh.TaskID), nil).
			noErrors(t).field(t, "updateTask", &updated)
		require.Equal(t, "Testing update task mutation", updated.Reason)
		require.Equal(t, []string{"more", "tags"}, updated.Tags)

		four := fresh.step(t, "step-four")
		var us stepView
		e.query(fmt.Sprintf(`mutation { updateStep(input: {taskId: "%s", stepId: "%s", retryLimit: 7, inputs: "{\"dummy\":\"value\"}"}) { workflowStepId retryLimit inputs } }`,
			fresh.TaskID, four.WorkflowStepID), nil).noErrors(t).field(t, "updateStep", &us)
		require.Equal(t, 7, us.RetryLimit)
		require.Equal(t, map[string]any{"dummy": "value"}, us.Inputs)
		var cs stepView
		e.query(fmt.Sprintf(`mutation { cancelStep(input: {taskId: "%s", stepId: "%s"}) { workflowStepId status } }`, fresh.TaskID, four.WorkflowStepID), nil).
			noErrors(t).field(t, "cancelStep", &cs)
		require.Equal(t, "cancelled", cs.Status)
		var ct taskView
		e.query(fmt.Sprintf(`mutation { cancelTask(input: {taskId: "%s"}) { taskId status } }`, fresh.TaskID), nil).noErrors(t).field(t, "cancelTask", &ct)
		require.Equal(t, "cancelled", ct.Status)

		// GET serves queries, not mutations.
		q := url.Values{"query": {`{ tasks(limit: 1) { taskId } }`}}
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/tasker/graphql?"+q.Encode(), nil)
		require.NoError(t, err)
		var got []taskView
		e.send(req).noErrors(t).field(t, "tasks", &got)
		require.Len(t, got, 1)
		q = url.Values{"query": {`mutation { cancelTask(input: {taskId: "1"}) { taskId } }`}}
		req, err = http.NewRequest(http.MethodGet, e.srv.URL+"/tasker/graphql?"+q.Encode(), nil)
		require.NoError(t, err)
		res := e.send(req)
		require.NotEmpty(t, res.Errors, "a mutation by GET is refused")
		require.Nil(t, res.Data["cancelTask"])
	})
}

// TestRetryAndResolve: the mutations beyond the original.
func TestRetryAndResolve(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		var task taskView
		e.query(`mutation { createTask(input: {name: "fragile", context: {}}) { taskId workflowSteps { workflowStepId name } } }`, nil).
			noErrors(t).field(t, "createTask", &task)
		e.runUntilIdle()
		var got taskView
		e.query(`query($id: ID!) { task(taskId: $id) { status } }`, map[string]any{"id": task.TaskID}).noErrors(t).field(t, "task", &got)
		require.Equal(t, "error", got.Status)
		e.query(`mutation($id: ID!) { retryTask(input: {taskId: $id}) { status } }`, map[string]any{"id": task.TaskID}).noErrors(t).field(t, "retryTask", &got)
		require.Equal(t, "pending", got.Status)
		e.runUntilIdle()
		var st stepView
		e.query(`mutation($t: ID!, $s: ID!) { resolveStep(input: {taskId: $t, stepId: $s, results: {paid: "by hand"}}) { status results } }`,
			map[string]any{"t": task.TaskID, "s": task.step(t, "pay").WorkflowStepID}).noErrors(t).field(t, "resolveStep", &st)
		require.Equal(t, "resolved_manually", st.Status)
		require.Equal(t, map[string]any{"paid": "by hand"}, st.Results)
		e.query(`mutation($id: ID!) { retryTask(input: {taskId: $id}) { status } }`, map[string]any{"id": task.TaskID}).code(t)
	})
}

// TestErrors: bad input of every kind is a GraphQL error with a code, the
// argument at fault named, never a 5xx (env.send fails on one).
func TestErrors(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		res := e.query(`{ task(taskId: "999") { taskId } }`, nil)
		require.Equal(t, "NOT_FOUND", res.code(t))
		require.Equal(t, []any{"task"}, res.Errors[0].Path)
		require.Equal(t, "null", string(res.Data["task"]))

		res = e.query(`{ task(taskId: "abc") { taskId } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", res.code(t))
		require.Equal(t, "taskId", res.Errors[0].Extensions["field"])

		res = e.query(`mutation { createTask(input: {name: "dummy_task", context: "{\"dummy\": 3}"}) { taskId } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", res.code(t), "the context fails the template's schema")
		require.Contains(t, fmt.Sprint(res.Errors[0].Extensions["fields"]), "dummy")

		res = e.query(`mutation { createTask(input: {name: "dummy_task", context: "not json"}) { taskId } }`, nil)
		require.NotEmpty(t, res.Errors)
		require.Contains(t, res.Errors[0].Message, "JSON")

		res = e.query(`mutation { createTask(input: {name: "dummy_task", context: {dummy: true}, bypassSteps: ["step-one"]}) { taskId } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", res.code(t))
		require.Equal(t, "bypassSteps", res.Errors[0].Extensions["field"])

		res = e.query(`{ tasks(limit: 0) { taskId } }`, nil)
		require.Equal(t, "limit", res.Errors[0].Extensions["field"])
		res = e.query(`{ tasksByStatus(status: "sleeping") { taskId } }`, nil)
		require.Equal(t, "status", res.Errors[0].Extensions["field"])
		e.query(`{ tasks(limit: 500) { taskId } }`, nil).noErrors(t) // capped at 100, as the original
		e.query(`{ tasks(sortBy: "no_such_column", sortOrder: "sideways") { taskId } }`, nil).noErrors(t)

		res = e.query(`query($id: ID!) { task(taskId: $id) { taskId } }`, map[string]any{"id": []int{1}})
		require.NotEmpty(t, res.Errors, "a bad variable")
		res = e.query(`{ task(taskId: "1") { noSuchField } }`, nil)
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", res.code(t))
		res = e.query(`{ task(taskId: "1" { taskId } }`, nil)
		require.Equal(t, "GRAPHQL_PARSE_FAILED", res.code(t))

		// Deep nesting and large documents.
		deep := `{ tasks { workflowSteps { ` + strings.Repeat("parents { ", 20) + "name" + strings.Repeat(" }", 20) + ` } } }`
		res = e.query(deep, nil)
		require.NotEmpty(t, res.Errors)
		require.Contains(t, res.Errors[0].Message, "levels deep")
		wide := `{ tasks(limit: 100) { workflowSteps { ` + strings.Repeat("children { parents { children { name } } } ", 10) + ` } } }`
		res = e.query(wide, nil)
		require.NotEmpty(t, res.Errors, "complexity")
		huge := `{ tasks { ` + strings.Repeat("taskId ", 300_000) + ` } }` // over the 1 MiB body bound
		res = e.query(huge, nil)
		require.NotEmpty(t, res.Errors)

		// A form post is refused before anything runs.
		res = e.post("application/x-www-form-urlencoded", []byte(`query=mutation+%7B+cancelTask(input:%7BtaskId:%221%22%7D)+%7B+taskId+%7D+%7D`))
		require.Equal(t, http.StatusUnsupportedMediaType, res.Status, "%s", res.raw)
	})
}

// TestRelayNodes: global ids round-trip through node and nodes.
func TestRelayNodes(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		var created struct {
			ID            string `json:"id"`
			TaskID        string `json:"taskId"`
			WorkflowSteps []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"workflowSteps"`
		}
		e.query(`mutation { createTask(input: {name: "dummy_task", context: {dummy: true}}) { id taskId workflowSteps { id name } } }`, nil).
			noErrors(t).field(t, "createTask", &created)
		var node struct {
			TaskID string `json:"taskId"`
			Name   string `json:"name"`
		}
		e.query(`query($id: ID!) { node(id: $id) { ... on Task { taskId } } }`, map[string]any{"id": created.ID}).noErrors(t).field(t, "node", &node)
		require.Equal(t, created.TaskID, node.TaskID)
		var nodes []json.RawMessage
		e.query(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on WorkflowStep { name } } }`,
			map[string]any{"ids": []string{created.WorkflowSteps[0].ID, "V29ya2Zsb3dTdGVwLTk5OTk5"}}).noErrors(t).field(t, "nodes", &nodes)
		require.Len(t, nodes, 2)
		require.JSONEq(t, `{"id": "`+created.WorkflowSteps[0].ID+`", "name": "step-one"}`, string(nodes[0]))
		require.Equal(t, "null", string(nodes[1]), "a step that does not exist")
	})
}
