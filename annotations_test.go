package tasker_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerwire"
)

// AnnotateTask records typed JSON objects about a task; TaskAnnotations
// reads those of several tasks at once; AnnotationTypes lists the types the
// annotations created; ListTasks filters on them.
func TestAnnotateTask(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "a"}))
		x, y, bare := e.create("one", nil), e.create("one", nil), e.create("one", nil)

		a1, err := e.client.AnnotateTask(e.ctx, x.ID, "billing_reference", map[string]any{"invoice": "INV-1", "amount": 12.5})
		require.NoError(t, err)
		require.Equal(t, x.ID, a1.TaskID)
		require.Equal(t, "billing_reference", a1.Type)
		require.JSONEq(t, `{"invoice": "INV-1", "amount": 12.5}`, string(a1.Annotation))
		require.Equal(t, e.clock.Now().UTC(), a1.CreatedAt)
		a2, err := e.client.AnnotateTask(e.ctx, y.ID, "review", json.RawMessage(`{"by": "ops"}`))
		require.NoError(t, err)
		a3, err := e.client.AnnotateTask(e.ctx, x.ID, "review", struct {
			By string `json:"by"`
		}{"auditor"})
		require.NoError(t, err)

		got, err := e.client.TaskAnnotations(e.ctx, y.ID, x.ID, bare.ID, x.ID, 424242)
		require.NoError(t, err)
		require.Equal(t, map[int64][]*tasker.TaskAnnotation{x.ID: {a1, a3}, y.ID: {a2}, bare.ID: {}, 424242: {}}, got)
		got, err = e.client.TaskAnnotations(e.ctx)
		require.NoError(t, err)
		require.Empty(t, got)

		types, err := e.client.AnnotationTypes(e.ctx)
		require.NoError(t, err)
		require.Len(t, types, 2)
		require.Equal(t, "billing_reference", types[0].Name)
		require.Equal(t, "review", types[1].Name)

		list, err := e.client.ListTasks(e.ctx, &tasker.TaskListParams{Annotation: &tasker.AnnotationFilter{Type: "review", Key: "by", Value: "ops"}})
		require.NoError(t, err)
		require.Equal(t, 1, list.Total)
		require.Equal(t, y.ID, list.Tasks[0].ID)
		list, err = e.client.ListTasks(e.ctx, &tasker.TaskListParams{Annotation: &tasker.AnnotationFilter{Type: "billing_reference", Key: "amount", Value: "12.5"}})
		require.NoError(t, err)
		require.Equal(t, 1, list.Total)
		require.Equal(t, x.ID, list.Tasks[0].ID)

		_, err = e.client.AnnotateTask(e.ctx, 424242, "review", map[string]any{})
		require.ErrorIs(t, err, tasker.ErrNotFound)
		require.ErrorContains(t, err, "task 424242")
	})
}

// Invalid annotations are *ValidationError naming the field, never a
// database error: names, non-objects, sizes, and what PostgreSQL cannot
// store (NUL, lone surrogates, numbers out of numeric's range).
func TestAnnotateTaskValidation(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "a"}))
		task := e.create("one", nil)
		for _, c := range []struct {
			typ        string
			annotation any
			field      string
			says       string
		}{
			{"", map[string]any{}, "annotation_type", "is required"},
			{strings.Repeat("x", 65), map[string]any{}, "annotation_type", "is too long"},
			{"has space", map[string]any{}, "annotation_type", "character not allowed"},
			{"ok", nil, "annotation", "must be a JSON object"},
			{"ok", []int{1}, "annotation", "must be a JSON object"},
			{"ok", "text", "annotation", "must be a JSON object"},
			{"ok", json.RawMessage(`{"a":`), "annotation", "cannot be encoded as JSON"},
			{"ok", func() {}, "annotation", "cannot be encoded as JSON"},
			{"ok", map[string]any{"big": strings.Repeat("x", tasker.MaxAnnotationBytes)}, "annotation", "more than 65536"},
			{"ok", map[string]any{"nul": "a\x00b"}, "annotation", "NUL character"},
			{"ok", json.RawMessage(`{"half": "\ud83d"}`), "annotation", "surrogate"},
			{"ok", json.RawMessage(`{"n": 1e999999}`), "annotation", "holds the number 1e999999"},
		} {
			_, err := e.client.AnnotateTask(e.ctx, task.ID, c.typ, c.annotation)
			var ve *tasker.ValidationError
			require.ErrorAs(t, err, &ve, "%.20s %v", c.typ, c.annotation)
			require.Len(t, ve.Fields, 1, "%v", ve.Fields)
			require.Contains(t, ve.Fields[c.field], c.says)
		}
		a, err := e.client.AnnotateTask(e.ctx, task.ID, strings.Repeat("x", tasker.MaxAnnotationTypeLen), map[string]any{"fits": strings.Repeat("x", tasker.MaxAnnotationBytes-20)})
		require.NoError(t, err, "the limits are inclusive")
		require.Len(t, a.Type, 64)

		got, err := e.client.TaskAnnotations(e.ctx, task.ID)
		require.NoError(t, err)
		require.Len(t, got[task.ID], 1, "nothing of the refused ones was stored")

		_, err = e.client.ListTasks(e.ctx, &tasker.TaskListParams{Annotation: &tasker.AnnotationFilter{Type: "bad type", Key: "k\x00", Value: "v"}})
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields, "annotation_type")
		require.Contains(t, ve.Fields, "annotation_key")
	})
}

// A Go handler annotates its task through its StepContext, at once and
// under the step's context: the annotation stays when the attempt fails.
func TestStepContextAnnotate(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "a", limit: 2}))
		e.h.fails["a"] = 1
		var bad error
		e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
			if err := s.Annotate("attempt", map[string]any{"step": s.Step.Name, "attempt": s.Attempt}); err != nil {
				panic(err)
			}
			bad = s.Annotate("no spaces allowed", map[string]any{})
		}
		task := e.create("one", nil)
		require.Equal(t, tasker.StateComplete, e.quiesce(task.ID).State)
		var ve *tasker.ValidationError
		require.ErrorAs(t, bad, &ve)
		require.Contains(t, ve.Fields, "annotation_type")

		got, err := e.client.TaskAnnotations(e.ctx, task.ID)
		require.NoError(t, err)
		require.Len(t, got[task.ID], 2, "the failed attempt's annotation stays")
		require.JSONEq(t, `{"step": "a", "attempt": 1}`, string(got[task.ID][0].Annotation))
		require.JSONEq(t, `{"step": "a", "attempt": 2}`, string(got[task.ID][1].Annotation))

		// A step context not made by a client cannot annotate.
		require.Error(t, (&tasker.StepContext{}).Annotate("t", map[string]any{}))
	})
}

// A remote worker's annotations are stored with its result, whatever the
// outcome, and not at all when the result is refused; they are validated
// like AnnotateTask's, naming the annotation's index.
func TestRemoteAnnotations(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, task, rs := newClaimedRemote(t, 0)
		annotations := func() []*tasker.TaskAnnotation {
			t.Helper()
			got, err := e.client.TaskAnnotations(e.ctx, task.ID)
			require.NoError(t, err)
			return got[task.ID]
		}

		_, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`),
			Annotations: []taskerwire.Annotation{{Type: "ok", Annotation: json.RawMessage(`{"a": 1}`)}, {Type: "bad name", Annotation: json.RawMessage(`[1]`)}, {Type: "missing"}}})
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []string{"annotations[1].annotation", "annotations[1].annotation_type", "annotations[2].annotation"}, slices.Sorted(maps.Keys(ve.Fields)))
		require.Empty(t, annotations(), "a refused result stores none")
		require.Equal(t, tasker.StateInProgress, e.steps(task.ID)["charge"].State, "and records nothing")

		many := make([]taskerwire.Annotation, 101)
		for i := range many {
			many[i] = taskerwire.Annotation{Type: "t", Annotation: json.RawMessage(`{}`)}
		}
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`), Annotations: many})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["annotations"], "at most 100")

		// A failed attempt's annotations are stored with its error.
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1,
			Error:       &taskerwire.Error{Message: "declined"},
			Annotations: []taskerwire.Annotation{{Type: "gateway", Annotation: json.RawMessage(`{"code": "declined"}`)}}})
		require.NoError(t, err)
		got := annotations()
		require.Len(t, got, 1)
		require.Equal(t, "gateway", got[0].Type)
		require.JSONEq(t, `{"code": "declined"}`, string(got[0].Annotation))

		// A late result (the lease lost) stores none.
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`),
			Annotations: []taskerwire.Annotation{{Type: "late", Annotation: json.RawMessage(`{}`)}}})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.Len(t, annotations(), 1)

		e.clock.Advance(time.Minute)
		second := e.claim("w1", 0, "billing")[0]
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: second.StepID, Attempt: second.Attempt, Results: json.RawMessage(`{"paid": true}`),
			Annotations: []taskerwire.Annotation{{Type: "billing_reference", Annotation: json.RawMessage(`{"invoice": "INV-9"}`)}, {Type: "gateway", Annotation: json.RawMessage(`{"code": "ok"}`)}}})
		require.NoError(t, err)
		got = annotations()
		require.Len(t, got, 3)
		require.Equal(t, []string{"gateway", "billing_reference", "gateway"}, []string{got[0].Type, got[1].Type, got[2].Type})
		e.singlePass()
		require.Equal(t, tasker.StateComplete, e.task(task.ID).State)
	})
}
