package taskerhttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Values PostgreSQL cannot store are a 400 naming the field on both
// databases (issue 12 item 6): NUL or bytes that are not UTF-8 in a list
// filter, numbers beyond numeric's range in a context, a retry limit above
// 2³¹−1; and a body that gives a key twice is a 400 too.
func TestValuesTheDatabaseRefusesAre400(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task := e.createTask(map[string]any{"name": "dummy_task", "context": map[string]any{"dummy": true}})
		for _, tc := range []struct{ query, field string }{
			{"name=%00", "name"}, {"namespace=%ff", "namespace"}, {"tags=a%00", "tags"}, {"version=%c3", "version"},
			{"initiator=a%00b", "initiator"}, {"source_system=%fe", "source_system"},
		} {
			res := e.do(http.MethodGet, "/tasker/tasks?"+tc.query, nil).want(t, http.StatusBadRequest)
			require.Contains(t, res.errorFields(t), tc.field, "%s: %s", tc.query, res.Body)
		}
		for _, n := range []string{"1e999999", "1e-99999", "1" + strings.Repeat("0", 200000)} {
			res := e.do(http.MethodPost, "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true, "n": `+n+`}}`).want(t, http.StatusBadRequest)
			require.Contains(t, res.errorFields(t), "context", "%.20s: %s", n, res.Body)
		}
		step := stepByName(t, task, "step-two")
		path := "/tasker/tasks/" + itoa(idOf(task, "task_id")) + "/workflow_steps/" + itoa(idOf(step, "workflow_step_id"))
		res := e.do(http.MethodPatch, path, `{"retry_limit": 2147483648}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "retry_limit")
		e.do(http.MethodPatch, path, `{"retry_limit": 2147483647}`).want(t, http.StatusOK)

		res = e.do(http.MethodPost, "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}, "name": "other"}`).want(t, http.StatusBadRequest)
		require.Contains(t, string(res.Body), `key \"name\" twice`)
		res = e.do(http.MethodPost, "/tasker/tasks", `{"task": {"name": "dummy_task", "context": {"dummy": true, "a": [{"x": 1, "x": 2}]}}}`).want(t, http.StatusBadRequest)
		require.Contains(t, res.errorFields(t), "task.context.a", "%s", res.Body)
	})
}
