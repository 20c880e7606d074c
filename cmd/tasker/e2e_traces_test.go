package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes every export
// request (protobuf) and keeps its spans with their resources' service.name.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool
	srv      *httptest.Server
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{services: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
			return
		}
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &export); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range export.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					r.services[kv.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

const e2eTraceTemplate = `name: traced_exec
version: 1.0.0
step_templates:
  - name: show
    handler: exec
    handler_config:
      command: ["sh", "-c", "printf '{\"traceparent\":\"%s\"}' \"$TRACEPARENT\""]
  - name: after
    handler: exec
    depends_on_step: show
    handler_config:
      command: ["sh", "-c", "printf '{\"ok\":true}'"]
`

// The tasker binary with OTEL_TRACES_EXPORTER=otlp exports its spans over
// OTLP/HTTP: a task created with a caller's traceparent is one trace (the
// request's span, tasker.task.create, every tasker.step and tasker.task),
// the exec command gets a TRACEPARENT of that trace, and the spans still
// buffered at SIGTERM are flushed before the process exits.
func TestE2ETracesOTLP(t *testing.T) {
	bin := e2eBinary(t)
	recv := newOTLPReceiver(t)
	dir := t.TempDir()
	tmplDir := filepath.Join(dir, "templates")
	require.NoError(t, os.MkdirAll(tmplDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmplDir, "traced.yaml"), []byte(e2eTraceTemplate), 0o600))
	env := []string{
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME=tasker-e2e", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test",
		"OTEL_TRACES_SAMPLER=always_on", "OTEL_BSP_SCHEDULE_DELAY=60000", // only the exit's flush exports
	}
	srv := startServeEnv(t, bin, env, "--database", "sqlite://"+filepath.Join(dir, "traces.db"), "--templates", tmplDir)
	hc := &http.Client{Timeout: 10 * time.Second}

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	body, err := json.Marshal(map[string]any{"name": "traced_exec"})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.base+"/tasker/tasks", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	res, err := hc.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", raw)
	var created struct {
		Task e2eTask `json:"task"`
	}
	require.NoError(t, json.Unmarshal(raw, &created))

	var task struct {
		Task e2eTask `json:"task"`
	}
	require.Eventually(t, func() bool {
		httpJSON(t, hc, "GET", srv.base+"/tasker/tasks/"+strconv.FormatInt(created.Task.ID, 10), nil, &task)
		return task.Task.Status == "complete"
	}, 30*time.Second, 20*time.Millisecond)
	for _, s := range task.Task.Steps {
		if s.Name == "show" {
			var out struct{ Traceparent string }
			require.NoError(t, json.Unmarshal(s.Results, &out))
			require.True(t, strings.HasPrefix(out.Traceparent, "00-"+traceID+"-"), "exec got TRACEPARENT %q", out.Traceparent)
		}
	}

	recv.mu.Lock()
	require.Empty(t, recv.spans, "nothing exported before the exit (OTEL_BSP_SCHEDULE_DELAY is read)")
	recv.mu.Unlock()
	code, _ := srv.terminate(t, 30*time.Second)
	require.Zero(t, code)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	require.True(t, recv.services["tasker-e2e"], "service name from OTEL_SERVICE_NAME: %v", recv.services)
	counts := map[string]int{}
	for _, s := range recv.spans {
		if strings.HasPrefix(s.GetName(), "GET ") { // the test's polls: traces of their own
			continue
		}
		require.Equal(t, traceID, hex.EncodeToString(s.GetTraceId()), "span %s is in another trace", s.GetName())
		counts[s.GetName()]++
	}
	require.Equal(t, map[string]int{"POST /tasker/tasks": 1, "tasker.task.create": 1, "tasker.step": 2, "tasker.task": 1}, counts)
}
