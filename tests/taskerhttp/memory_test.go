package taskerhttp_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
)

// TestOversizedBodyGets413 sends a 12 MB body to POST /tasker/tasks over a
// plain connection, writing all of it before reading: the 413 answer must
// arrive (the server reads and discards the rest of the body) instead of a
// connection reset.
func TestOversizedBodyGets413(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	const size = 12 << 20
	body := `{"name": "dummy_task", "context": {"pad": "` + strings.Repeat("x", size) + `"}}`
	_, err = fmt.Fprintf(conn, "POST /tasker/tasks HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(e.srv.URL, "http://"), len(body))
	require.NoError(t, err)
	_, err = io.WriteString(conn, body)
	require.NoError(t, err, "the server reset the connection while the body was sent")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer to an oversized body")
	defer res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), "payload_too_large")
}

// heapWriter is a ResponseWriter that counts the bytes of the answer and,
// at its first write (when the handler holds all it will write), measures
// the live heap after a GC.
type heapWriter struct {
	header  http.Header
	status  int
	n       int
	heap    uint64
	started bool
	body    []byte
}

func (w *heapWriter) Header() http.Header { return w.header }
func (w *heapWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *heapWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.started = true
		w.heap = liveHeap()
	}
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	if len(w.body) < 4096 {
		w.body = append(w.body, b[:min(len(b), 4096-len(w.body))]...)
	}
	return len(b), nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestListMemoryBounded lists 48 tasks of 512 KiB contexts (24 MiB) in one
// page: without include=context the answer and the heap hold no context;
// with it the answer stops at MaxResponseBytes (pagination.truncated) and
// the live heap while it is written grows by a small multiple of that
// limit, not by the size of the page; a single task over the limit is a
// 422 naming it.
func TestListMemoryBounded(t *testing.T) {
	// Not parallel, and one driver after the other: the live heap measured
	// is the whole process's.
	testdb.EachDriverInTurn(t, func(t *testing.T) {
		e := newEnv(t)
		const n, ctxSize, limit = 48, 512 << 10, 4 << 20
		for range n {
			_, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "diamond", Namespace: "ecommerce",
				Context: map[string]string{"pad": strings.Repeat("x", ctxSize)}})
			require.NoError(t, err)
		}
		h := taskerhttp.NewHandler(e.client, &taskerhttp.Options{MaxResponseBytes: limit})
		list := func(query string) (*heapWriter, uint64) {
			base := liveHeap()
			w := &heapWriter{header: http.Header{}}
			h.ServeHTTP(w, localRequest(http.MethodGet, "/tasker/tasks?limit=1000"+query))
			require.True(t, w.started)
			return w, w.heap - min(w.heap, base)
		}

		w, growth := list("")
		require.Equal(t, http.StatusOK, w.status, "%s", w.body)
		require.Less(t, growth, uint64(limit), "live heap while answering a list of %d tasks of %d-byte contexts", n, ctxSize)
		require.Less(t, w.n, 64<<10, "a list without include=context carries no context")

		w, growth = list("&include=context")
		require.Equal(t, http.StatusOK, w.status, "%s", w.body)
		require.LessOrEqual(t, w.n, limit+4096, "the answer is bounded by MaxResponseBytes")
		require.Greater(t, w.n, limit/2, "the contexts are there")
		require.Less(t, growth, uint64(3*limit), "live heap while answering a list of %d tasks of %d-byte contexts", n, ctxSize)

		small := taskerhttp.NewHandler(e.client, &taskerhttp.Options{MaxResponseBytes: 256 << 10})
		rec := httptest.NewRecorder()
		small.ServeHTTP(rec, localRequest(http.MethodGet, "/tasker/tasks?limit=2&include=context"))
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), `"code":"response_too_large"`)
		require.Contains(t, rec.Body.String(), fmt.Sprintf("task %d is", n))
	})
}

// TestListTruncatedPage: a page cut at the byte limit says so, and its
// limit is the number of tasks given, so that offset+limit is the next page.
func TestListTruncatedPage(t *testing.T) {
	e := newEnv(t)
	pad := strings.Repeat("y", 10<<10)
	for range 5 {
		_, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "diamond", Namespace: "ecommerce", Context: map[string]string{"pad": pad}})
		require.NoError(t, err)
	}
	h := taskerhttp.NewHandler(e.client, &taskerhttp.Options{MaxResponseBytes: 25 << 10})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/tasker/tasks?include=context&sort_order=asc"))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page struct {
		Tasks      []map[string]any `json:"tasks"`
		Pagination map[string]any   `json:"pagination"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Tasks, 2)
	require.Equal(t, map[string]any{"has_more": true, "limit": 2.0, "offset": 0.0, "total": 5.0, "truncated": true}, page.Pagination)
	require.Equal(t, pad, page.Tasks[1]["context"].(map[string]any)["pad"])

	e.do("GET", "/tasker/tasks?include=password", nil).want(t, http.StatusBadRequest)
	res := e.do("GET", "/tasker/tasks/1/workflow_steps", nil).want(t, http.StatusOK)
	require.NotContains(t, string(res.Body), `"results"`)
	e.do("GET", "/tasker/tasks/1/workflow_steps?include=results,inputs", nil).want(t, http.StatusOK)
}

// TestGetTaskOverLimit: one task whose answer (with its steps) is over
// MaxResponseBytes is a 422 naming it, not an answer of any size.
func TestGetTaskOverLimit(t *testing.T) {
	e := newEnv(t)
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "diamond", Namespace: "ecommerce",
		Context: map[string]string{"pad": strings.Repeat("z", 64<<10)}})
	require.NoError(t, err)
	path := fmt.Sprintf("/tasker/tasks/%d", res.Task.ID)
	rec := httptest.NewRecorder()
	taskerhttp.NewHandler(e.client, &taskerhttp.Options{MaxResponseBytes: 32 << 10}).ServeHTTP(rec, localRequest(http.MethodGet, path))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), fmt.Sprintf("task %d with its steps is", res.Task.ID))
	e.do("GET", path, nil).want(t, http.StatusOK)
}

// TestStepListMemoryBounded: the steps of a task with 8 MiB of results
// are listed without reading the results (nor the inputs) from the
// database unless include= asks for them: the bytes the request allocates
// stay far below the results' size, while with include=results they do
// not (the measure sees them).
func TestStepListMemoryBounded(t *testing.T) {
	testdb.EachDriverInTurn(t, func(t *testing.T) {
		e := newEnv(t)
		res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "diamond", Namespace: "ecommerce", Context: map[string]any{}})
		require.NoError(t, err)
		const resultSize = 2 << 20
		steps, err := e.client.ListSteps(t.Context(), res.Task.ID)
		require.NoError(t, err)
		for _, s := range steps {
			_, err := e.client.ResolveStep(t.Context(), s.ID, map[string]string{"pad": strings.Repeat("r", resultSize)}, "")
			require.NoError(t, err)
		}
		total := len(steps) * resultSize
		h := taskerhttp.NewHandler(e.client, nil)
		allocated := func(query string) (uint64, int) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w := &heapWriter{header: http.Header{}}
			h.ServeHTTP(w, localRequest(http.MethodGet, fmt.Sprintf("/tasker/tasks/%d/workflow_steps%s", res.Task.ID, query)))
			runtime.ReadMemStats(&after)
			require.Equal(t, http.StatusOK, w.status, "%s", w.body)
			return after.TotalAlloc - before.TotalAlloc, w.n
		}
		alloc, n := allocated("")
		require.Less(t, n, 64<<10, "no results in the answer")
		require.Less(t, alloc, uint64(total/4), "bytes allocated listing steps with %d bytes of results", total)
		alloc, n = allocated("?include=results")
		require.Greater(t, n, total)
		require.Greater(t, alloc, uint64(total), "with include=results the results are read")
	})
}
