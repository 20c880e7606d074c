package apiview_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskertype"
)

func TestErrorOf(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{&tasker.ValidationError{Message: "bad", Fields: map[string]string{"name": "is required"}}, http.StatusBadRequest, "validation_failed"},
		{fmt.Errorf("%w: task 9", tasker.ErrNotFound), http.StatusNotFound, "not_found"},
		{fmt.Errorf("cancel: %w", tasker.ErrInvalidState), http.StatusConflict, "conflict"},
		{fmt.Errorf("wrapped: %w", &apiview.Error{Status: http.StatusTeapot, Code: "teapot", Message: "short"}), http.StatusTeapot, "teapot"},
	} {
		e := apiview.ErrorOf(c.err)
		require.NotNil(t, e, "%v", c.err)
		require.Equal(t, c.status, e.Status, "%v", c.err)
		require.Equal(t, c.code, e.Code, "%v", c.err)
		require.NotEmpty(t, e.Message)
	}
	ve := apiview.ErrorOf(&tasker.ValidationError{Message: "bad", Fields: map[string]string{"name": "is required"}})
	require.Equal(t, map[string]string{"name": "is required"}, ve.Fields)
	require.Nil(t, apiview.ErrorOf(errors.New("database is down")), "other errors are the API's to answer")

	raw, err := json.Marshal(ve)
	require.NoError(t, err)
	require.JSONEq(t, `{"code": "validation_failed", "message": "`+ve.Message+`", "fields": {"name": "is required"}}`, string(raw))
}

func TestPagination(t *testing.T) {
	raw, err := json.Marshal(apiview.NewPagination(45, 20, 20, 20))
	require.NoError(t, err)
	require.Equal(t, `{"has_more":true,"limit":20,"offset":20,"total":45}`, string(raw))
	require.False(t, apiview.NewPagination(45, 20, 40, 5).HasMore)
}

// TestViewsCopy: the views are copies in UTC with empty collections as
// [] and {}, and leave the values they are built from unchanged.
func TestViewsCopy(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, paris)
	task := &tasker.Task{ID: 1, Name: "n", Namespace: "ns", Version: "1.0.0", State: tasker.StateComplete, CreatedAt: at}
	v := apiview.NewTask(task, nil)
	require.Equal(t, time.UTC, v.CreatedAt.Location())
	require.Equal(t, paris, task.CreatedAt.Location(), "the task itself is not changed")
	require.Nil(t, task.Tags)
	require.True(t, v.Complete)
	require.Equal(t, "ns.n@1.0.0", v.FullName)
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Equal(t, []any{}, m["tags"])
	require.Equal(t, map[string]any{}, m["context"])
	require.NotContains(t, m, "workflow_steps", "no steps asked: the member is left out")

	step := &tasker.Step{ID: 2, TaskID: 1, Name: "s", State: tasker.StateError, LastError: &taskertype.StepError{Message: "x", At: at}}
	sv := apiview.NewStep(step, []*tasker.Transition{{ID: 3, CreatedAt: at}})
	require.Equal(t, time.UTC, sv.LastError.At.Location())
	require.Equal(t, paris, step.LastError.At.Location())
	require.Equal(t, []int64{}, sv.ParentIDs)
	require.Equal(t, time.UTC, sv.Transitions[0].CreatedAt.Location())
	require.False(t, sv.Processed, "a step in error is not processed")
	require.Len(t, apiview.NewTask(task, []*tasker.Step{step}).WorkflowSteps, 1)
}

func TestFilterEvents(t *testing.T) {
	catalog := []tasker.EventSpec{
		{Name: "task.completed", Category: "task", Description: "A task finished"},
		{Name: "order.fulfilled", Category: "custom", Description: "Shipped", Custom: true, Namespace: "shop"},
		{Name: "order.lost", Category: "custom", Custom: true, Namespace: "other"},
	}
	names := func(f apiview.EventFilter) []string {
		var out []string
		for _, e := range apiview.FilterEvents(catalog, f) {
			out = append(out, e.Name)
		}
		return out
	}
	require.Len(t, names(apiview.EventFilter{}), 3)
	require.Equal(t, []string{"task.completed"}, names(apiview.EventFilter{Category: "task"}))
	require.Equal(t, []string{"order.fulfilled"}, names(apiview.EventFilter{Namespace: "shop"}))
	require.Equal(t, []string{"order.fulfilled"}, names(apiview.EventFilter{Search: "SHIPPED"}))
	require.NotNil(t, apiview.FilterEvents(catalog, apiview.EventFilter{Search: "nothing"}))
	require.True(t, apiview.ValidCategory(""))
	require.False(t, apiview.ValidCategory("nope"))
}

// A step's policy shows its durations in milliseconds (the API's unit for
// durations) beside the stored nanosecond fields, kept for existing
// readers; a template's step timeout shows timeout_ms beside "10s".
func TestDurationsInMilliseconds(t *testing.T) {
	st := &tasker.Step{ID: 1, Policy: json.RawMessage(`{"timeout":10000000000,"backoff_base":500000000,"backoff_jitter":0.1}`)}
	b, err := json.Marshal(apiview.NewStep(st, nil))
	require.NoError(t, err)
	var got struct{ Policy map[string]any }
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, map[string]any{"timeout": 1e10, "timeout_ms": 1e4, "backoff_base": 5e8, "backoff_base_ms": 500.0, "backoff_jitter": 0.1}, got.Policy)
	require.Nil(t, apiview.NewStep(&tasker.Step{ID: 2}, nil).Policy, "no policy: none shown")

	reg := tasker.NewRegistry()
	tmpl, err := reg.LoadYAML("t.yaml", []byte("name: t\nstep_templates:\n  - name: a\n    handler: exec\n    timeout: 10s\n    handler_config: {command: [\"true\"]}\n"), tasker.LoadOptions{})
	require.NoError(t, err)
	h := apiview.NewHandler(reg, tmpl)
	require.Equal(t, "10s", h.StepTemplates[0].Timeout)
	require.Equal(t, int64(10000), h.StepTemplates[0].TimeoutMS)
}
