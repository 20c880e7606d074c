package taskerhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
)

// fuzzTarget is one database's handler shared by the fuzz iterations, with
// a task and one of its steps for the routes that take ids.
type fuzzTarget struct {
	name         string
	h            http.Handler
	task, stepID string
}

// fuzzTargets are the handlers the fuzz targets send every input to: SQLite
// always, and PostgreSQL when a server is available (TASKER_TEST_DATABASE_URL
// or a throwaway cluster; required with TASKER_TEST_REQUIRE_POSTGRES=1, as in
// CI).
func fuzzTargets(f *testing.F) []fuzzTarget {
	var out []fuzzTarget
	for i, c := range fuzzClients(f) {
		res, err := c.CreateTask(f.Context(), &tasker.TaskRequest{Name: "dummy_task", Context: `{"dummy": true}`})
		require.NoError(f, err)
		out = append(out, fuzzTarget{name: []string{"sqlite", "postgres"}[i], h: taskerhttp.NewHandler(c, &taskerhttp.Options{WorkerToken: "t"}),
			task: itoa(res.Task.ID), stepID: itoa(res.Steps[3].ID)})
	}
	return out
}

// fuzzClients returns a client on a fresh SQLite database and, when
// PostgreSQL is available (TASKER_TEST_DATABASE_URL, or a throwaway
// cluster; required with TASKER_TEST_REQUIRE_POSTGRES=1), one on a fresh
// PostgreSQL database, for the fuzz targets that cover both.
func fuzzClients(f *testing.F) []*tasker.Client {
	drivers := testdb.OpenEach(f)
	clients := make([]*tasker.Client, len(drivers))
	for i, d := range drivers {
		c, err := tasker.NewClient(f.Context(), d, &tasker.Config{Registry: testRegistry(f)})
		require.NoError(f, err)
		clients[i] = c
	}
	return clients
}

// serveFuzz serves one request and returns the status and headers.
func serveFuzz(h http.Handler, req *http.Request) (int, http.Header) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var fuzzSeeds = []string{
	`{"name": "dummy_task", "context": {"dummy": true}}`,
	`{"task": {"name": "dummy_task", "namespace": "testing", "version": "1.0.0", "tags": ["a"]}}`,
	`{"task": {"name": "dummy_task"}, "x": 1}`,
	`{"reason": "r", "tags": ["a", "b"]}`,
	`{"task": {"reason": null}}`,
	`{"retry_limit": 3, "inputs": {"a": 1}}`,
	`{"name": "s1", "task_name": "dummy_task", "cron": "*/5 * * * *", "time_zone": "Europe/Paris", "context": {"dummy": true}, "overlap": "skip", "catch_up": "all", "catch_up_limit": 3, "paused": true}`,
	`{"workflow_step": {"retry_limit": -1}}`,
	`{"retry_limit": 2147483648}`, `{"retry_limit": 9223372036854775808}`,
	`{"results": [1, 2], "reason": "x"}`,
	`{"name": 1, "context": "x", "tags": {}}`,
	`{"task": []}`, `null`, `[]`, `"x"`, `{`, ``, `{"context": {"dummy": true}}`,
	`{"name": "unique", "context": {"a": {"b": [1e400]}}}`,
	`{"name": "dummy_task", "context": {"dummy": true, "n": 1e999999}}`,
	`{"name": "dummy_task", "context": {"dummy": true, "n": 1e-99999}}`,
	// (a 200,000-digit integer: TestValuesTheDatabaseRefusesAre400; as a seed
	// it slows fuzzing down a hundredfold)
	`{"name": "dummy_task", "context": {"dummy": true, "s": "\u0000", "k\ud83d": 1}}`,
	"{\"name\": \"dummy_task\", \"reason\": \"\xff\"}",
	`{"name": "dummy_task", "name": "dummy_task"}`, `{"task": {"context": {"a": 1, "a": 2}}}`,
	`{"worker_id": "w", "queues": ["billing"], "limit": 2, "lease_seconds": 10, "wait_seconds": 0}`,
	`{"worker_id": "w\u0000", "queues": ["\u0000"], "limit": 2147483648}`,
	`{"worker_id": "w", "step_ids": [1, 2], "lease_seconds": 1e300}`,
	`{"worker_id": "w", "step_ids": [9223372036854775807, -1]}`,
	`{"worker_id": "w", "attempt": 1, "results": {"a": 1}}`,
	`{"worker_id": "w", "attempt": 1, "results": {"a": 1e999999}}`,
	`{"worker_id": "w", "attempt": 1, "error": {"message": "m", "kind": "permanent", "retry_after_seconds": 2, "details": {}}}`,
	`{"worker_id": "w", "attempt": 1, "error": {"details": []}}`,
	`{"worker_id": "w", "attempt": 1, "results": 1, "events": [{"name": "a.b", "payload": {"x": 1}}, {"name": 1}, []]}`,
}

// fuzzQueries are list filters and parameters, raw (already escaped).
var fuzzQueries = []string{
	"", "name=%00", "namespace=%ff", "tags=a%00", "tags=a,%c3", "version=%00", "initiator=%fe", "source_system=a%00",
	"status=pending,bogus", "limit=0", "limit=99999999999999999999", "offset=-1", "offset=9223372036854775808",
	"sort_by=name&sort_order=asc", "sort_by=%00", "created_since=2025-01-02T15:04:05Z&created_until=%00",
	"created_since=9999-99-99", "include_dependencies=%00", "reason=%00", "version=%ff", "search=%00&category=%ff",
	"format=%00", "limit=1&offset=1", "%zz", "a=%",
	"period=720&buckets=240", "period=1&buckets=7", "buckets=-1&period=99999999999999999999", "period=24&buckets=96&namespace=%00&name=%ff",
}

// fuzzSegments stand in for a path id: numbers beyond int64, negative,
// NUL, bytes that are not UTF-8.
var fuzzSegments = []string{"1", "0", "-1", "9223372036854775808", "%00", "%ff", "1e3", "x", "%2F"}

// internalDetail matches what no answer may carry: SQL, SQL states, driver
// prefixes, connection strings, Go pointers, type names and stack traces.
var internalDetail = regexp.MustCompile(`(?i)SQLSTATE|postgres(ql)?://|sqlite://|\bpostgres: |\bsqlite: |sqlite[0-9_]|\bpq: |pgconn|\bpgx\b|\bselect [a-z_*, ]{1,80} from |\binsert into |\bupdate tasker_|0x[0-9a-f]{6,}|\*[a-z]+\.[A-Z][a-zA-Z]+\{|goroutine \d+|\.go:\d+`)

// FuzzRequests sends arbitrary bodies, query strings, path ids and
// Idempotency-Key headers to every route on every database: the answer is
// never a 5xx, an error answer is JSON without internal detail, and the
// handler never panics.
func FuzzRequests(f *testing.F) {
	targets := fuzzTargets(f)
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzQueries[i%len(fuzzQueries)], fuzzSegments[i%len(fuzzSegments)], "key-"+itoa(int64(i%3)))
	}
	for i, q := range fuzzQueries {
		f.Add(fuzzSeeds[0], q, fuzzSegments[i%len(fuzzSegments)], "")
	}
	for _, seg := range fuzzSegments {
		f.Add(fuzzSeeds[0], "", seg, "\x00")
	}
	f.Add(fuzzSeeds[0], "", "1", strings.Repeat("k", 300))
	f.Fuzz(func(t *testing.T, body, query, segment, key string) {
		for _, tg := range targets {
			for _, rt := range taskerhttp.Routes() {
				for _, ids := range [][2]string{{tg.task, tg.stepID}, {segment, segment}} {
					path := strings.NewReplacer("{task_id}", ids[0], "{step_id}", ids[1], "{namespace}", segment, "{name}", segment).Replace(rt.Pattern)
					fuzzOne(t, tg, rt.Method, path, query, body, key)
				}
			}
		}
	})
}

func fuzzOne(t *testing.T, tg fuzzTarget, method, path, query, body, key string) {
	// A claim may wait (wait_seconds): cut it short. An answer to a request
	// whose client gave up (this deadline) is read by nobody: not checked.
	limit, claim := 20*time.Second, strings.HasSuffix(path, "/claim")
	if claim {
		limit = 100 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, "/", strings.NewReader(body))
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
	if u, err := req.URL.Parse(path); err == nil {
		req.URL.Path, req.URL.RawPath = u.Path, u.RawPath
	}
	req.Host = "localhost"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	if key != "" {
		req.Header["Idempotency-Key"] = []string{key}
	}
	rec := httptest.NewRecorder()
	tg.h.ServeHTTP(rec, req)
	if ctx.Err() != nil {
		if !claim {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s %s %s?%s with %.200q: no answer within %s\n%s", tg.name, method, path, query, body, limit, buf[:runtime.Stack(buf, true)])
		}
		return
	}
	where := tg.name + " " + method + " " + path + "?" + query
	if rec.Code >= 500 {
		t.Fatalf("%s with %.200q (key %.40q): %d %s", where, body, key, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s with %.200q: error answer not JSON: %s", where, body, rec.Header().Get("Content-Type"))
		}
		if m := internalDetail.FindString(rec.Body.String()); m != "" {
			t.Fatalf("%s with %.200q: answer carries internal detail %q: %s", where, body, m, rec.Body)
		}
	}
}
