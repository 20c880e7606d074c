package taskerhttp_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// POST /tasker/tasks/{task_id}/annotations records an annotation (201),
// flat or inside {"task_annotation": ...}; GET /tasker/tasks/{task_id}
// always lists the task's annotations; bad bodies are 400 naming the
// field, an unknown task 404.
func TestAnnotationRoutes(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
		path := "/tasker/tasks/" + strconv.FormatInt(idOf(task, "task_id"), 10)

		res := e.do("GET", path, nil).want(t, http.StatusOK)
		require.Equal(t, []any{}, res.json(t)["task"].(map[string]any)["task_annotations"], "present and empty")

		res = e.do("POST", path+"/annotations", `{"annotation_type": "billing_reference", "annotation": {"invoice": "INV-1", "amount": 1e2}}`).want(t, http.StatusCreated)
		a := res.json(t)["task_annotation"].(map[string]any)
		require.Equal(t, idOf(task, "task_id"), idOf(a, "task_id"))
		require.Equal(t, "billing_reference", a["annotation_type"])
		require.Equal(t, map[string]any{"invoice": "INV-1", "amount": float64(100)}, a["annotation"])
		require.NotEmpty(t, a["created_at"])
		e.do("POST", path+"/annotations", `{"task_annotation": {"annotation_type": "review", "annotation": {"ok": true}}}`).want(t, http.StatusCreated)

		res = e.do("GET", path, nil).want(t, http.StatusOK)
		list := res.json(t)["task"].(map[string]any)["task_annotations"].([]any)
		require.Len(t, list, 2)
		first := list[0].(map[string]any)
		require.Equal(t, a["task_annotation_id"], first["task_annotation_id"])
		require.Equal(t, "billing_reference", first["annotation_type"])
		require.NotContains(t, first, "task_id", "the task's id is the task's")
		require.Equal(t, "review", list[1].(map[string]any)["annotation_type"])

		// Other task answers do not read the annotations.
		res = e.do("PATCH", path, `{"reason": "noted"}`).want(t, http.StatusOK)
		require.NotContains(t, res.json(t)["task"], "task_annotations")

		for _, c := range []struct {
			body   string
			fields map[string]any
		}{
			{`{"annotation": {}}`, map[string]any{"annotation_type": "is required: name the annotation's type, such as billing_reference"}},
			{`{"annotation_type": "t"}`, map[string]any{"annotation": `is required: a JSON object, such as {"invoice": "INV-1"}`}},
			{`{"annotation_type": 7, "annotation": "text"}`, map[string]any{"annotation_type": "must be a string", "annotation": "must be a JSON object"}},
			{`{"annotation_type": "has space", "annotation": {}}`, map[string]any{"annotation_type": "has a character not allowed: use 1 to 64 of the characters A-Z a-z 0-9 . _ - (such as billing_reference)"}},
			{`{"annotation_type": "t", "annotation": {"big": "` + strings.Repeat("x", 70_000) + `"}}`, nil},
			{`{"annotation_type": "t", "annotation": {"nul": "a\u0000b"}}`, nil},
		} {
			res := e.do("POST", path+"/annotations", c.body).want(t, http.StatusBadRequest)
			if c.fields != nil {
				require.Equal(t, c.fields, res.errorFields(t), "%.60s", c.body)
			} else {
				require.Contains(t, res.errorFields(t), "annotation", "%.60s", c.body)
			}
		}
		res = e.do("POST", path+"/annotations", `{"annotation_type": "t", "annotation": {}, "extra": 1}`).want(t, http.StatusBadRequest)
		require.Equal(t, "unknown_fields", res.errorCode(t))
		res = e.do("POST", "/tasker/tasks/424242/annotations", `{"annotation_type": "t", "annotation": {}}`).want(t, http.StatusNotFound)
		require.Equal(t, "not_found", res.errorCode(t))

		res = e.do("GET", path, nil).want(t, http.StatusOK)
		require.Len(t, res.json(t)["task"].(map[string]any)["task_annotations"], 2, "nothing of the refused ones")
	})
}

// GET /tasker/tasks filters by an annotation member with annotation_type,
// annotation_key and annotation_value: all three or none.
func TestTaskListAnnotationFilter(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		var ids []int64
		for i, doc := range []string{`{"invoice": "INV-1", "paid": true}`, `{"invoice": "INV-2", "paid": false}`, `{"invoice": "INV-1"}`} {
			task := e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`)
			ids = append(ids, idOf(task, "task_id"))
			typ := "billing"
			if i == 2 {
				typ = "other"
			}
			e.do("POST", "/tasker/tasks/"+strconv.FormatInt(ids[i], 10)+"/annotations", `{"annotation_type": "`+typ+`", "annotation": `+doc+`}`).want(t, http.StatusCreated)
		}
		e.createTask(`{"name": "dummy_task", "context": {"dummy": true}}`) // no annotation
		listed := func(query string) []int64 {
			t.Helper()
			res := e.do("GET", "/tasker/tasks?"+query, nil).want(t, http.StatusOK)
			var out []int64
			for _, task := range res.json(t)["tasks"].([]any) {
				out = append(out, idOf(task.(map[string]any), "task_id"))
			}
			return out
		}
		require.Equal(t, []int64{ids[0]}, listed("annotation_type=billing&annotation_key=invoice&annotation_value=INV-1"))
		require.Equal(t, []int64{ids[1]}, listed("annotation_type=billing&annotation_key=paid&annotation_value=false"))
		require.Empty(t, listed("annotation_type=billing&annotation_key=invoice&annotation_value="))
		require.Len(t, listed(""), 4)

		for missing, query := range map[string]string{
			"annotation_type":  "annotation_key=invoice&annotation_value=INV-1",
			"annotation_key":   "annotation_type=billing&annotation_value=INV-1",
			"annotation_value": "annotation_type=billing&annotation_key=invoice",
		} {
			res := e.do("GET", "/tasker/tasks?"+query, nil).want(t, http.StatusBadRequest)
			require.Contains(t, res.errorFields(t), missing)
			require.Len(t, res.errorFields(t), 1)
		}
		res := e.do("GET", "/tasker/tasks?annotation_type=billing", nil).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "annotation_key", "the first missing one")
		res = e.do("GET", "/tasker/tasks?annotation_type=bad+type&annotation_key=k&annotation_value=v", nil).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "annotation_type")
	})
}

// A remote worker's result carries annotations over HTTP; their members
// are checked like the events'.
func TestWorkerResultAnnotations(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newWorkerEnv(t)
		res := e.do("POST", "/tasker/tasks", `{"name":"remote_flow"}`).want(t, http.StatusCreated)
		taskPath := "/tasker/tasks/" + strconv.FormatInt(idOf(res.json(t)["task"].(map[string]any), "task_id"), 10)
		e.runUntilIdle()
		res = e.do("POST", "/tasker/workers/claim", `{"worker_id":"py-1","queues":["billing"]}`, auth...).want(t, http.StatusOK)
		stepID := idOf(res.json(t)["steps"].([]any)[0].(map[string]any), "step_id")
		path := "/tasker/workers/steps/" + strconv.FormatInt(stepID, 10) + "/result"

		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1,"annotations":{}}`, auth...).want(t, http.StatusBadRequest)
		require.Equal(t, map[string]any{"annotations": `must be an array of {"annotation_type": ..., "annotation": {...}}`}, res.errorFields(t))
		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1,"annotations":[{"annotation_type":"t","annotation":{},"extra":1}]}`, auth...).want(t, http.StatusBadRequest)
		require.Equal(t, map[string]any{"annotations[0].extra": "unknown field"}, res.errorFields(t))
		res = e.do("POST", path, `{"worker_id":"py-1","attempt":1,"annotations":[{"annotation_type":"t","annotation":{}},{"annotation_type":"t"}]}`, auth...).want(t, http.StatusBadRequest)
		require.Equal(t, map[string]any{"annotations[1].annotation": `must be a JSON object, such as {"invoice": "INV-1"}`}, res.errorFields(t))

		e.do("POST", path, `{"worker_id":"py-1","attempt":1,"results":{"ok":true},"annotations":[{"annotation_type":"gateway","annotation":{"code":"ok"}}]}`, auth...).want(t, http.StatusOK)
		res = e.do("GET", taskPath, nil).want(t, http.StatusOK)
		list := res.json(t)["task"].(map[string]any)["task_annotations"].([]any)
		require.Len(t, list, 1)
		require.Equal(t, "gateway", list[0].(map[string]any)["annotation_type"])
		require.Equal(t, map[string]any{"code": "ok"}, list[0].(map[string]any)["annotation"])
	})
}
