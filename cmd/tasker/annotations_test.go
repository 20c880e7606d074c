package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// `task get` shows the task's annotations after its steps, from the
// database and through --server alike, in text and in JSON.
func TestTaskGetShowsAnnotations(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	mustRun(t, withDB(t, db, "task", "create", "linear_workflow", "--context", `{"even_number": 2}`)...)
	mustRun(t, withDB(t, db, "task", "create", "linear_workflow", "--context", `{"even_number": 4}`)...)

	c, srv := serveDB(t, db, examplesDir(t), 0)
	_, err := c.AnnotateTask(t.Context(), 1, "billing_reference", map[string]any{"invoice": "INV-7"})
	require.NoError(t, err)
	_, err = c.AnnotateTask(t.Context(), 1, "review", map[string]any{"note": strings.Repeat("x", 100)})
	require.NoError(t, err)

	for _, mode := range [][]string{withDB(t, db), {"--server", srv.URL}} {
		get := func(args ...string) string { return mustRun(t, append(append([]string{}, mode...), args...)...) }
		out := get("task", "get", "1")
		require.Contains(t, out, "task 1 default.linear_workflow@1.0.0: pending", mode)
		require.Regexp(t, `(?m)^ANNOTATION +CREATED +VALUE$`, out, mode)
		require.Regexp(t, `(?m)^billing_reference +20\d\d-\d\d-\d\dT[0-9:]+Z +\{"invoice": ?"INV-7"\}$`, out, mode)
		require.Regexp(t, `(?m)^review +20\S+ +\{"note": ?"x+…$`, out, "cut to 80 characters")
		require.NotContains(t, get("task", "get", "2"), "ANNOTATION", "nothing for a task without annotations")

		var doc struct {
			Annotations []struct {
				ID     int64           `json:"task_annotation_id"`
				TaskID int64           `json:"task_id"`
				Type   string          `json:"annotation_type"`
				Value  json.RawMessage `json:"annotation"`
			} `json:"task_annotations"`
		}
		require.NoError(t, json.Unmarshal([]byte(get("task", "get", "1", "-o", "json")), &doc))
		require.Len(t, doc.Annotations, 2, mode)
		require.Equal(t, int64(1), doc.Annotations[0].TaskID)
		require.Equal(t, "billing_reference", doc.Annotations[0].Type)
		require.JSONEq(t, `{"invoice": "INV-7"}`, string(doc.Annotations[0].Value))
		raw := get("task", "get", "2", "-o", "json")
		require.Contains(t, raw, `"task_annotations": []`, mode)
	}
}
