package taskerdrivertest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// annotations exercises task annotations: insert (creating the type once),
// list, types, the task list's annotation filter (which compares as
// PostgreSQL's annotation ->> key = value on every driver), and their
// deletion with their task.
func (s *suite) annotations(t *testing.T) {
	s.run(t, "AnnotationInsertAndList", func(t *testing.T, b *bundle) {
		x := diamond(t, b, "")
		y := diamond(t, b, "")
		none := diamond(t, b, "")
		types, err := b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Equal(t, []*taskertype.AnnotationType{}, types, "a new database has no annotation type")

		a1, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: y.Task.ID, Type: "review",
			Annotation: json.RawMessage(`{"by": "ops", "ok": true}`), Now: base})
		require.NoError(t, err)
		require.NotZero(t, a1.ID)
		require.Equal(t, y.Task.ID, a1.TaskID)
		require.Equal(t, "review", a1.Type)
		require.JSONEq(t, `{"by": "ops", "ok": true}`, string(a1.Annotation))
		require.Equal(t, base, a1.CreatedAt)
		a2, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "billing",
			Annotation: json.RawMessage(`{"invoice": "INV-1"}`), Now: base.Add(time.Second)})
		require.NoError(t, err)
		a3, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "review",
			Annotation: json.RawMessage(`{}`), Now: base.Add(2 * time.Second)})
		require.NoError(t, err)
		require.Greater(t, a3.ID, a2.ID)

		list, err := b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{TaskIDs: []int64{y.Task.ID, none.Task.ID, x.Task.ID, 424242}})
		require.NoError(t, err)
		require.Equal(t, []*taskertype.TaskAnnotation{a2, a3, a1}, list, "by task id, then annotation id; the same as inserted")
		list, err = b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{TaskIDs: []int64{none.Task.ID}})
		require.NoError(t, err)
		require.Equal(t, []*taskertype.TaskAnnotation{}, list)
		list, err = b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{})
		require.NoError(t, err)
		require.Equal(t, []*taskertype.TaskAnnotation{}, list)

		types, err = b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Len(t, types, 2, "a type is created once, by its first annotation")
		require.Equal(t, "billing", types[0].Name, "by name")
		require.Equal(t, "review", types[1].Name)
		require.NotZero(t, types[0].ID)
		require.NotEqual(t, types[0].ID, types[1].ID)

		// A duplicate key keeps its last value (as PostgreSQL's jsonb does),
		// and numbers are stored as PostgreSQL's numeric writes them.
		dup, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "review",
			Annotation: json.RawMessage(`{"k": 1, "k": 2, "n": 1e2, "f": 1.50, "z": -0.0, "nested": {"m": 2E-2}}`), Now: base})
		require.NoError(t, err)
		require.JSONEq(t, `{"k": 2, "n": 100, "f": 1.50, "z": 0.0, "nested": {"m": 0.02}}`, string(dup.Annotation))
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(dup.Annotation, &got))
		require.Equal(t, "1.50", string(got["f"]), "the scale is kept")
		require.Equal(t, "0.0", string(got["z"]), "zero has no sign")
	})

	s.run(t, "AnnotationInsertRefusals", func(t *testing.T, b *bundle) {
		x := diamond(t, b, "")
		_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: 424242, Type: "ghost",
			Annotation: json.RawMessage(`{"a": 1}`), Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound, "an unknown task")
		types, err := b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Empty(t, types, "the annotation of an unknown task creates no type")

		for _, bad := range []string{`[1]`, `"s"`, `null`, `1`, `{"a": 1} {"b": 2}`, `{`} {
			_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "t",
				Annotation: json.RawMessage(bad), Now: base})
			require.ErrorIs(t, err, taskerdriver.ErrValueRejected, "%s is not one JSON object", bad)
		}
		for _, name := range []string{"", string(make([]byte, 65))} {
			_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: name,
				Annotation: json.RawMessage(`{}`), Now: base})
			require.ErrorIs(t, err, taskerdriver.ErrValueRejected, "a type name of %d bytes", len(name))
		}
		long := fmt.Sprintf("%064d", 7)
		a, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: long,
			Annotation: json.RawMessage(`{}`), Now: base})
		require.NoError(t, err, "64 bytes is the limit")
		require.Equal(t, long, a.Type)

		// Inside a rolled back transaction, nothing is stored, type included.
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "rolled_back",
			Annotation: json.RawMessage(`{}`), Now: base})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(b.ctx))
		types, err = b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Len(t, types, 1)
		list, err := b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{TaskIDs: []int64{x.Task.ID}})
		require.NoError(t, err)
		require.Len(t, list, 1)
	})

	s.run(t, "AnnotationTypeCreatedOnceConcurrently", func(t *testing.T, b *bundle) {
		x := diamond(t, b, "")
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: x.Task.ID, Type: "race",
					Annotation: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)), Now: base})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		types, err := b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Len(t, types, 1)
		list, err := b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{TaskIDs: []int64{x.Task.ID}})
		require.NoError(t, err)
		require.Len(t, list, n)
	})

	s.run(t, "TaskListAnnotationFilter", func(t *testing.T, b *bundle) {
		// Each task gets one annotation of type "fact" (and the first one a
		// second, identical one: it is still listed once).
		docs := []string{
			`{"s": "abc", "n": 100, "b": true, "dot.key": "d", "quo\"te": "q", "empty": ""}`,
			`{"s": "\"abc\"", "n": 1e2, "f": 1.50, "b": false, "null": null, "obj": {"s": "abc"}, "arr": ["abc"]}`,
			`{"s": 7, "n": "100", "f": 1.5, "b": "true", "big": 123456789012345678901234567890, "neg": -0.0}`,
			`{"other": "abc", "n": 100.0, "e": "é"}`,
		}
		ids := make([]int64, len(docs))
		for i, doc := range docs {
			ids[i] = diamond(t, b, "").Task.ID
			_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: ids[i], Type: "fact",
				Annotation: json.RawMessage(doc), Now: base})
			require.NoError(t, err)
		}
		_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: ids[0], Type: "fact",
			Annotation: json.RawMessage(docs[0]), Now: base})
		require.NoError(t, err)
		// Another type holding the same members matches nothing by "fact".
		decoy := diamond(t, b, "").Task.ID
		_, err = b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: decoy, Type: "other",
			Annotation: json.RawMessage(docs[0]), Now: base})
		require.NoError(t, err)

		for _, c := range []struct {
			key, value string
			want       []int
		}{
			{"s", "abc", []int{0}},       // a string compares without its quotes
			{"s", `"abc"`, []int{1}},     // so quotes are part of the string they are in
			{"s", "7", []int{2}},         // a number by its text
			{"n", "100", []int{0, 1, 2}}, // 100, 1e2 (stored 100) and the string "100"
			{"n", "1e2", nil},            // not the text of any stored number
			{"n", "100.0", []int{3}},     // the scale is part of the text
			{"f", "1.50", []int{1}},      // kept as written
			{"f", "1.5", []int{2}},       //
			{"b", "true", []int{0, 2}},   // the boolean and the string "true"
			{"b", "false", []int{1}},     //
			{"null", "null", nil},        // a null member is no text
			{"null", "", nil},            //
			{"obj", `{"s": "abc"}`, nil}, // objects never match
			{"obj", `{"s":"abc"}`, nil},  //
			{"arr", `["abc"]`, nil},      // nor arrays
			{"arr", "abc", nil},          // nor their elements
			{"missing", "abc", nil},      // an absent key
			{"dot.key", "d", []int{0}},   // a key with a dot is one key
			{"quo\"te", "q", []int{0}},   // and one with a quote
			{"empty", "", []int{0}},      // the empty string
			{"big", "123456789012345678901234567890", []int{2}},
			{"neg", "0.0", []int{2}}, // zero has no sign
			{"neg", "-0.0", nil},     //
			{"e", "é", []int{3}},     //
			{"S", "abc", nil},        // keys are case-sensitive
			{"s", "ABC", nil},        // and values
		} {
			list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Annotation: &taskerdriver.AnnotationFilter{Type: "fact", Key: c.key, Value: c.value}})
			require.NoError(t, err, "%s = %s", c.key, c.value)
			var got []int64
			for _, task := range list {
				got = append(got, task.ID)
			}
			var want []int64
			for _, i := range c.want {
				want = append(want, ids[i])
			}
			require.ElementsMatch(t, want, got, "%s = %s", c.key, c.value)
			require.Equal(t, len(want), total, "%s = %s: counted once each", c.key, c.value)
		}

		// With the other filters, and paged.
		list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Annotation: &taskerdriver.AnnotationFilter{Type: "fact", Key: "n", Value: "100"},
			OrderBy: "task_id", Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []int64{ids[0], ids[1]}, []int64{list[0].ID, list[1].ID})
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Annotation: &taskerdriver.AnnotationFilter{Type: "other", Key: "s", Value: "abc"},
			States: []taskertype.State{taskertype.StatePending}})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, decoy, list[0].ID)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Annotation: &taskerdriver.AnnotationFilter{Type: "unknown", Key: "s", Value: "abc"}})
		require.NoError(t, err)
		require.Empty(t, list)
	})

	s.run(t, "AnnotationsGoWithTheirTask", func(t *testing.T, b *bundle) {
		old := diamond(t, b, "")
		kept := diamond(t, b, "")
		for _, id := range []int64{old.Task.ID, kept.Task.ID} {
			_, err := b.ex.AnnotationInsert(b.ctx, &taskerdriver.AnnotationInsertParams{TaskID: id, Type: "note",
				Annotation: json.RawMessage(`{"a": 1}`), Now: base})
			require.NoError(t, err)
		}
		_, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: old.Task.ID, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		n, err := b.ex.TaskDeleteFinished(b.ctx, &taskerdriver.TaskDeleteFinishedParams{
			States: []taskertype.State{taskertype.StateCancelled}, Before: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		list, err := b.ex.AnnotationList(b.ctx, &taskerdriver.AnnotationListParams{TaskIDs: []int64{old.Task.ID, kept.Task.ID}})
		require.NoError(t, err)
		require.Len(t, list, 1, "the deleted task's annotation went with it")
		require.Equal(t, kept.Task.ID, list[0].TaskID)
		types, err := b.ex.AnnotationTypeList(b.ctx)
		require.NoError(t, err)
		require.Len(t, types, 1, "types stay")
	})
}
