package taskerhttp_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// replacement is a part of an answer that a golden file holds as a
// placeholder: every match of re is replaced with with.
type replacement struct {
	re   *regexp.Regexp
	with string
}

// volatile matches the parts of an answer that change from run to run
// (times, durations, generated identity hashes); golden answers hold a
// placeholder instead.
var volatile = []replacement{
	{regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`), `"<time>"`},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), `<uuid>`},
	{regexp.MustCompile(`"(response_time_ms|check_duration_ms|duration_ms|time_until_ready|elapsed_seconds|duration_seconds|generation_duration)":-?[0-9.e+-]+`), `"$1":<n>`},
	{regexp.MustCompile(`"(worker_id|worker)":"[^"]*"`), `"$1":"<worker>"`},
	{regexp.MustCompile(`"(active_connections|max_connections|connection_utilization)":[0-9.]+`), `"$1":<n>`},
}

// normalize replaces in b what rs match with their placeholders.
func normalize(b []byte, rs []replacement) []byte {
	for _, r := range rs {
		b = r.re.ReplaceAll(b, []byte(r.with))
	}
	return b
}

// checkGolden requires got to be the content of the golden file path, or
// (write: the test runs with -update) rewrites the file with it.
func checkGolden(t *testing.T, path string, got []byte, write bool) {
	t.Helper()
	if write {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", strings.Split(t.Name(), "/")[0])
	require.Equal(t, string(want), string(got))
}

// TestGoldenAnswers pins the bytes of the REST answers (key order, empty
// arrays, omitted fields, number formats) on both databases, so that moving
// the view code cannot change a shape unnoticed. Run with -update to
// rewrite testdata/answers.*.golden after a deliberate change (one file
// per database: PostgreSQL's jsonb orders the keys of transition metadata).
func TestGoldenAnswers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		var out bytes.Buffer
		rec := func(method, path string, body any, headers ...string) *response {
			t.Helper()
			res := e.do(method, path, body, headers...)
			fmt.Fprintf(&out, "=== %s %s\n%d %s\n%s\n", method, path, res.Status, res.Header.Get("Content-Type"), normalize(res.Body, volatile))
			return res
		}
		rec("POST", "/tasker/tasks", `{"task": {"name": "dummy_task", "context": {"dummy": true}, "tags": ["a", "b"], "initiator": "ada"}}`)
		rec("GET", "/tasker/tasks/1?include_dependencies=true", nil)
		rec("GET", "/tasker/tasks/1/workflow_steps", nil)
		e.runUntilIdle()
		rec("GET", "/tasker/tasks/1", nil)
		rec("POST", "/tasker/tasks", `{"name": "fragile", "context": {"order": 7}}`)
		e.runUntilIdle()
		rec("GET", "/tasker/tasks/2/workflow_steps/5", nil)
		rec("GET", "/tasker/tasks?sort_order=asc&limit=1", nil)
		rec("GET", "/tasker/tasks?status=error", nil)
		rec("GET", "/tasker/tasks/2?include_dependencies=true", nil)
		for _, f := range []string{"json", "mermaid", "svg", "html"} {
			rec("GET", "/tasker/tasks/2/diagram?format="+f, nil)
		}
		rec("PATCH", "/tasker/tasks/2/workflow_steps/6", `{"retry_limit": 4}`)
		rec("POST", "/tasker/tasks/2/retry", nil)
		rec("POST", "/tasker/tasks/2/workflow_steps/6/resolve", `{"results": {"paid": true}, "reason": "by hand"}`)
		rec("PATCH", "/tasker/tasks/2", `{"reason": "checked", "tags": ["x"]}`)
		rec("POST", "/tasker/tasks/2/annotations", `{"annotation_type": "review", "annotation": {"by": "ops", "ok": true, "amount": 1.50e1}}`)
		rec("GET", "/tasker/tasks/2", nil)
		rec("GET", "/tasker/tasks?annotation_type=review&annotation_key=amount&annotation_value=15.0", nil)
		rec("POST", "/tasker/tasks", `{"name": "diamond", "namespace": "ecommerce"}`)
		rec("DELETE", "/tasker/tasks/3/workflow_steps/9?reason=not+needed", nil)
		rec("DELETE", "/tasker/tasks/3?reason=stop", nil)
		rec("GET", "/tasker/handlers", nil)
		rec("GET", "/tasker/handlers/ecommerce", nil)
		rec("GET", "/tasker/handlers/ecommerce/diamond", nil)
		rec("GET", "/tasker/events?namespace=ecommerce", nil)
		rec("GET", "/tasker/health/live", nil)
		rec("GET", "/tasker/health/ready", nil)
		rec("GET", "/tasker/health/status", nil)
		// Error answers.
		rec("POST", "/tasker/tasks", `{"name": "order", "namespace": "ecommerce", "context": {"order_id": "x"}, "extra": 1}`)
		rec("POST", "/tasker/tasks", `{"name": "order", "namespace": "ecommerce", "context": {"order_id": "x"}}`)
		rec("GET", "/tasker/tasks/99", nil)
		rec("GET", "/tasker/tasks/x", nil)
		rec("POST", "/tasker/tasks/1/retry", nil)
		rec("POST", "/tasker/tasks/99/annotations", `{"annotation_type": "review", "annotation": {}}`)
		rec("POST", "/tasker/tasks/1/annotations", `{"annotation_type": "a b", "annotation": [1]}`)
		rec("GET", "/tasker/tasks?annotation_type=review&annotation_value=x", nil)
		rec("GET", "/tasker/tasks?sort_by=nope", nil)
		rec("GET", "/tasker/nowhere", nil)
		rec("POST", "/tasker/health/live", nil)
		rec("POST", "/tasker/workers/claim", `{}`)

		checkGolden(t, filepath.Join("testdata", "answers."+testdb.DriverOf(t)+".golden"), out.Bytes(), *update)
	})
}

// TestGoldenAnswersNotEmpty guards against a golden file that lost its
// content: each must hold the answers of the successful routes.
func TestGoldenAnswersNotEmpty(t *testing.T) {
	for _, d := range testdb.Drivers {
		raw, err := os.ReadFile(filepath.Join("testdata", "answers."+d+".golden"))
		require.NoError(t, err)
		require.Greater(t, bytes.Count(raw, []byte("\n200 ")), 20, "answers.%s.golden", d)
	}
}
