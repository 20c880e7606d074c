package taskerhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testio"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerhttp"
)

// outage is a client on a throwaway PostgreSQL server of its own (which
// the test stops and freezes), served by the REST API.
type outage struct {
	cl     *pgtest.Cluster
	srv    *httptest.Server
	log    *testio.Buffer
	taskID string
	stepID string
}

const outageTimeout = 2 * time.Second

// newOutage starts the server; with auth, every request reads the database
// before its route (API tokens), else the route's handler is the first to.
func newOutage(t *testing.T, auth bool) *outage {
	t.Helper()
	cl := pgtest.NewCluster(t)
	drv, err := taskerpgx.Open(t.Context(), cl.URL("postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close() })
	c, err := tasker.NewClient(t.Context(), drv, &tasker.Config{Registry: testRegistry(t)})
	require.NoError(t, err)
	log := &testio.Buffer{}
	opts := &taskerhttp.Options{RequestTimeout: outageTimeout, WorkerToken: "0123456789abcdef-worker",
		Logger: slog.New(slog.NewTextHandler(log, nil))}
	if auth {
		opts.Authenticator = taskerhttp.NewAuthenticator(c, nil)
	}
	srv := httptest.NewServer(taskerhttp.NewHandler(c, opts))
	t.Cleanup(srv.Close)
	o := &outage{cl: cl, srv: srv, log: log}
	status, body := o.send(t, "POST", "/tasker/tasks", `{"name": "fragile"}`)
	require.Equal(t, http.StatusCreated, status, body)
	var created struct {
		Task struct {
			ID    int64 `json:"task_id"`
			Steps []struct {
				ID int64 `json:"workflow_step_id"`
			} `json:"workflow_steps"`
		} `json:"task"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	o.taskID, o.stepID = itoa(created.Task.ID), itoa(created.Task.Steps[0].ID)
	return o
}

// send sends one request as a tool does; a request that gets no answer
// within the client's bound fails the test (the hang of issue 12).
func (o *outage) send(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	status, _, b := o.sendFull(t, method, path, body)
	return status, b
}

func (o *outage) sendFull(t *testing.T, method, path, body string) (int, http.Header, string) {
	t.Helper()
	// Far above the request timeout: only a request the server never
	// bounds reaches it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*outageTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, o.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/tasker/workers/") {
		req.Header.Set("Authorization", "Bearer 0123456789abcdef-worker")
	}
	res, err := o.srv.Client().Do(req)
	require.NoError(t, err, "%s %s got no answer", method, path)
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(raw)
}

// requests are the routes that read or write the database, with a body.
func (o *outage) requests() [][3]string {
	task, step := "/tasker/tasks/"+o.taskID, "/tasker/tasks/"+o.taskID+"/workflow_steps/"+o.stepID
	return [][3]string{
		{"GET", "/tasker/tasks", ""},
		{"POST", "/tasker/tasks", `{"name": "fragile"}`},
		{"GET", task, ""},
		{"PATCH", task, `{"reason": "r"}`},
		{"DELETE", task, ""},
		{"POST", task + "/retry", ""},
		{"GET", task + "/diagram", ""},
		{"GET", task + "/transitions", ""},
		{"GET", task + "/workflow_steps", ""},
		{"GET", step, ""},
		{"PATCH", step, `{"retry_limit": 3}`},
		{"POST", step + "/resolve", ""},
		{"GET", "/tasker/health/status", ""},
		{"POST", "/tasker/workers/claim", `{"worker_id": "w", "queues": ["q"]}`},
		{"POST", "/tasker/workers/heartbeat", `{"worker_id": "w", "step_ids": [1]}`},
	}
}

// leaks are what no answer may hold: the DSN and its parts, the drivers'
// words, SQL states and Go pointers.
func leaks(o *outage) *regexp.Regexp {
	return regexp.MustCompile(`(?i)` + regexp.QuoteMeta(o.cl.Dir()) + `|host=|user=|dbname|sslmode|postgres(ql)?:|\.s\.pgsql|sqlstate|pq:|pgx|pgconn|dial |connect: |0x[0-9a-f]{4,}|select |insert |update `)
}

// checkUnavailable checks a 503 unavailable with Retry-After and nothing
// internal in its body, and that the log names the request id.
func (o *outage) checkUnavailable(t *testing.T, method, path string, status int, h http.Header, body string) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, status, "%s %s: %s", method, path, body)
	require.NotEmpty(t, h.Get("Retry-After"), "%s %s", method, path)
	require.NotRegexp(t, leaks(o), body, "%s %s", method, path)
	if !strings.HasPrefix(path, "/tasker/health/") {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		require.Equal(t, "unavailable", e.Error.Code, "%s %s", method, path)
	}
	id := h.Get("X-Request-Id")
	require.Contains(t, o.log.String(), "request_id="+id, "the cause is logged with the request id")
}

// TestDatabaseDownIs503: with PostgreSQL stopped, every route that needs it
// answers 503 unavailable with Retry-After, never a 500 naming the
// database's user, name, host and port (issue 12); and the API works again
// once the database is back.
func TestDatabaseDownIs503(t *testing.T) {
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "Open", true: "Authenticated"}[auth], func(t *testing.T) { testDatabaseDown(t, auth) })
	}
}

func testDatabaseDown(t *testing.T, auth bool) {
	o := newOutage(t, auth)
	o.cl.Stop(t)
	for _, rq := range o.requests() {
		status, h, body := o.sendFull(t, rq[0], rq[1], rq[2])
		o.checkUnavailable(t, rq[0], rq[1], status, h, body)
	}
	status, _, body := o.sendFull(t, "GET", "/tasker/health/ready", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.NotRegexp(t, leaks(o), body)
	require.Contains(t, o.log.String(), "connect", "the log keeps the database's error")

	o.cl.Start(t)
	status, body = o.send(t, "GET", "/tasker/tasks/"+o.taskID, "")
	require.Equal(t, http.StatusOK, status, body)
}

// TestDatabaseFrozenIs503WithinTheDeadline: with every PostgreSQL process
// stopped (SIGSTOP), requests end in 503 once the request timeout passes,
// instead of hanging as long as the database does (issue 12: 71-75 s, then
// no answer at all).
func TestDatabaseFrozenIs503WithinTheDeadline(t *testing.T) {
	o := newOutage(t, false)
	o.cl.Freeze(t)
	var wg sync.WaitGroup
	type answer struct {
		method, path string
		status       int
		h            http.Header
		body         string
		took         time.Duration
	}
	answers := make(chan answer, 64)
	for range 2 {
		for _, rq := range o.requests() {
			wg.Go(func() {
				start := time.Now()
				status, h, body := o.sendFull(t, rq[0], rq[1], rq[2])
				answers <- answer{rq[0], rq[1], status, h, body, time.Since(start)}
			})
		}
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		o.checkUnavailable(t, a.method, a.path, a.status, a.h, a.body)
		// The deadline ends the request (a hang would last until the
		// client gives up at 10× the deadline); the slack absorbs a busy
		// machine, not a missing deadline.
		require.Less(t, a.took, outageTimeout+5*time.Second, "%s %s answered after %s", a.method, a.path, a.took)
	}
	o.cl.Thaw(t)
	status, body := o.send(t, "GET", "/tasker/tasks/"+o.taskID, "")
	require.Equal(t, http.StatusOK, status, body)
}

// TestNoInternalDetailInAnyAnswer is the property behind the two above:
// whatever route and body, with the database down, no error answer holds the
// DSN, a driver's words, a SQL state or a Go pointer.
func TestNoInternalDetailInAnyAnswer(t *testing.T) {
	o := newOutage(t, false)
	o.cl.Stop(t)
	bodies := []string{"", "{}", `{"name": "fragile", "context": {"a": 1}}`, "null", "[", `{"worker_id": "w", "step_ids": [1], "status": "complete"}`}
	for _, rt := range taskerhttp.Routes() {
		path := strings.NewReplacer("{task_id}", o.taskID, "{step_id}", o.stepID, "{namespace}", "default", "{name}", "fragile").Replace(rt.Pattern)
		for _, b := range bodies {
			status, h, body := o.sendFull(t, rt.Method, path, b)
			if status >= 400 {
				require.NotRegexp(t, leaks(o), body, "%s %s with %q", rt.Method, path, b)
			}
			require.NotEqual(t, http.StatusInternalServerError, status, "%s %s with %q: %s", rt.Method, path, b, body)
			if status == http.StatusServiceUnavailable {
				require.NotEmpty(t, h.Get("Retry-After"), "%s %s", rt.Method, path)
			}
		}
	}
}
