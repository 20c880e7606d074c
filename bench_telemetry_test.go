//go:build unix

package tasker_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/proctest"
	"github.com/tasker-go/tasker/taskermetrics"
	"github.com/tasker-go/tasker/taskerotel"
)

// telemetryMode is what BenchmarkTelemetryOverhead turns on.
type telemetryMode struct {
	name            string
	metrics, traces bool
}

var telemetryModes = []telemetryMode{{"off", false, false}, {"metrics", true, false}, {"traces", false, true}, {"both", true, true}}

// Spans a drain of telemetryTasks diamond tasks must export: per task one
// tasker.task.create, four tasker.step (one attempt each) and one tasker.task.
const telemetryTasks = 500

var telemetrySpans = map[string]int64{tasker.SpanTaskCreate: telemetryTasks, tasker.SpanStep: 4 * telemetryTasks, tasker.SpanTask: telemetryTasks}

// BenchmarkTelemetryOverhead measures what the telemetry costs: sustained
// steps per second draining a backlog of 500 diamond tasks of no-op steps
// (one worker, as BenchmarkThroughput), with telemetry off, with the
// Prometheus metrics on (taskermetrics: hook, step middleware, database
// gauges attached), with tracing on, and with both. Tracing is what
// taskerotel builds from the environment, as `tasker` does:
// OTEL_TRACES_EXPORTER=otlp, OTEL_TRACES_SAMPLER=always_on, OTLP/HTTP
// protobuf to a local sink (1 create, 4 step and 1 task span per task, each
// encoded and sent; OTEL_BSP_* and other OTEL_EXPORTER_OTLP_* variables of
// the environment apply). The sink stands in for a local collector: it runs
// in a child process (this test binary, re-executed), decodes every request
// and counts the spans by name; a drain whose spans did not all arrive fails
// the benchmark (a processor that dropped spans would fake a low cost).
//
// Each iteration drains one backlog per mode, in an order that rotates, so
// that a shared machine's drift hits every mode alike. It reports each
// mode's steps/s and this process's CPU per step, the sink's CPU per step
// (traced modes; the collector's share, on the same cores), and each mode's
// elapsed cost against off in percent. TASKER_BENCH_TELEMETRY=off,traces
// runs only the modes named. Run:
//
//	go test -run '^$' -bench TelemetryOverhead -benchtime 8x .
//
// (results: docs/benchmarks.md)
func BenchmarkTelemetryOverhead(b *testing.B) {
	modes := telemetryModes
	if v := os.Getenv("TASKER_BENCH_TELEMETRY"); v != "" {
		modes = nil
		for _, m := range telemetryModes {
			if slices.Contains(strings.Split(v, ","), m.name) {
				modes = append(modes, m)
			}
		}
		if len(modes) == 0 {
			b.Fatalf("TASKER_BENCH_TELEMETRY=%q names no mode: use off, metrics, traces, both", v)
		}
	}
	sink := startOTLPSink(b)
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER_ARG"} {
		b.Setenv(k, "")
	}
	b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	b.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	b.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.url+"/v1/traces")
	var bsp []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_BSP_") {
			bsp = append(bsp, kv)
		}
	}
	b.Logf("tracing: always_on sampler, OTLP http/protobuf to a sink in child process %d; batch span processor: %s",
		sink.cmd.Process.Pid, cmp.Or(strings.Join(bsp, " "), "taskerotel's defaults (no OTEL_BSP_* set)"))

	took := make([]time.Duration, len(modes))
	cpu := make([]time.Duration, len(modes))
	sinkCPU := make([]time.Duration, len(modes))
	// roundCost[i]: mode i's elapsed cost against off, per round (percent).
	roundCost := make([][]float64, len(modes))
	n := 0
	for b.Loop() {
		round := make([]time.Duration, len(modes))
		for k := range modes {
			i := (k + n) % len(modes)
			r := drainWithTelemetry(b, modes[i], sink)
			round[i] = r.took
			took[i] += r.took
			cpu[i] += r.cpu
			sinkCPU[i] += r.sinkCPU
		}
		for i := range modes {
			roundCost[i] = append(roundCost[i], 100*(round[i].Seconds()-round[0].Seconds())/round[0].Seconds())
		}
		b.Logf("round %d: %v", n+1, roundLine(modes, round))
		n++
	}
	steps := float64(4 * telemetryTasks * n)
	for i, m := range modes {
		b.ReportMetric(steps/took[i].Seconds(), m.name+"-steps/s")
		b.ReportMetric(float64(cpu[i].Microseconds())/steps, m.name+"-cpu-µs/step")
		if m.traces {
			b.ReportMetric(float64(sinkCPU[i].Microseconds())/steps, m.name+"-sink-cpu-µs/step")
		}
		if i > 0 && modes[0].name == "off" {
			b.ReportMetric(100*(took[i].Seconds()-took[0].Seconds())/took[0].Seconds(), m.name+"-cost-%")
			// The median of the rounds' costs: a round whose drains met a
			// stall of the disk or of the machine moves it less than the sum.
			b.ReportMetric(median(roundCost[i]), m.name+"-median-cost-%")
		}
	}
}

// roundLine names each mode's elapsed time of one round.
func roundLine(modes []telemetryMode, took []time.Duration) string {
	parts := make([]string, len(modes))
	for i, m := range modes {
		parts[i] = fmt.Sprintf("%s %v", m.name, took[i].Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

type drainResult struct {
	took, cpu, sinkCPU time.Duration
}

// drainWithTelemetry creates 500 diamond tasks, then times a worker
// draining them with mode's telemetry; it returns the elapsed, this
// process's CPU time and the sink's CPU time of the drain (until the last
// span is exported), after checking that every span reached the sink.
func drainWithTelemetry(b *testing.B, mode telemetryMode, sink *otlpSink) drainResult {
	var (
		m      *taskermetrics.Metrics
		traces *taskerotel.Traces
	)
	if mode.traces {
		b.Setenv("OTEL_TRACES_EXPORTER", "otlp")
		var err error
		if traces, err = taskerotel.NewTraces(context.Background(), &taskerotel.Options{ServiceName: "tasker-bench"}); err != nil {
			b.Fatal(err)
		}
	}
	c, closeDB := newBenchClient(b, 64, func(cfg *tasker.Config) {
		if mode.metrics {
			m = taskermetrics.New(nil)
			m.Instrument(cfg)
		}
		if traces != nil {
			cfg.TracerProvider = traces.TracerProvider()
		}
	})
	if m != nil {
		if err := m.Attach(c); err != nil {
			b.Fatal(err)
		}
	}
	before := sink.stats(b)
	ids := createDiamonds(b, c, telemetryTasks)
	start, cpu0 := time.Now(), proctest.CPU()
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	waitComplete(b, c, ids)
	took := time.Since(start)
	_ = c.Stop(context.Background())
	closeDB()
	if err := traces.Shutdown(context.Background()); err != nil { // exports what is left
		b.Fatal(err)
	}
	cpu := proctest.CPU() - cpu0
	after := sink.stats(b)
	if mode.traces {
		for name, want := range telemetrySpans {
			if got := after.spans[name] - before.spans[name]; got != want {
				b.Fatalf("mode %s: the sink received %d %s spans, want %d: spans were dropped (all received: %v)", mode.name, got, name, want, after.spans)
			}
		}
	}
	if m != nil { // the metrics counted every step
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if !strings.Contains(rec.Body.String(), fmt.Sprintf(`tasker_step_completed_total{name="diamond",namespace="default",step="d",version="0.1.0"} %d`, telemetryTasks)) {
			b.Fatalf("metrics missed steps:\n%s", rec.Body.String())
		}
	}
	return drainResult{took: took, cpu: cpu, sinkCPU: after.cpu - before.cpu}
}

// otlpSink is the OTLP/HTTP receiver of BenchmarkTelemetryOverhead, a child
// process (see TestOTLPSinkProcess).
type otlpSink struct {
	url string
	cmd *exec.Cmd
}

type otlpSinkStats struct {
	spans map[string]int64 // by span name
	cpu   time.Duration    // the sink process's CPU time so far
}

const otlpSinkEnv = "TASKER_BENCH_OTLP_SINK"

// startOTLPSink starts the sink process; it ends when the benchmark does
// (its stdin closes).
func startOTLPSink(b *testing.B) *otlpSink {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestOTLPSinkProcess$", "-test.count", "1")
	cmd.Env = append(os.Environ(), otlpSinkEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "otlp-sink-listening "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return &otlpSink{url: url, cmd: cmd}
		}
	}
	b.Fatalf("the OTLP sink process did not start: %v", sc.Err())
	return nil
}

func (s *otlpSink) stats(b *testing.B) otlpSinkStats {
	resp, err := http.Get(s.url + "/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	st := otlpSinkStats{spans: map[string]int64{}}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var (
			name string
			n    int64
		)
		if _, err := fmt.Sscan(sc.Text(), &name, &n); err != nil {
			b.Fatalf("sink stats %q: %v", sc.Text(), err)
		}
		if name == "cpu_ns" {
			st.cpu = time.Duration(n)
		} else {
			st.spans[name] = n
		}
	}
	return st
}

// TestOTLPSinkProcess is the OTLP sink of BenchmarkTelemetryOverhead when
// run as its child process (skipped otherwise): an OTLP/HTTP protobuf trace
// receiver that reads each export request's protobuf down to its spans'
// names (countOTLPSpans), counts the spans by name and answers as the OTLP
// specification says. It does less than a collector (which decodes every
// field, batches and forwards): its CPU is the floor of a local collector's. GET /stats
// gives the counts and the process's CPU time. It serves until its stdin
// closes.
func TestOTLPSinkProcess(t *testing.T) {
	if os.Getenv(otlpSinkEnv) != "1" {
		t.Skip("the OTLP sink of BenchmarkTelemetryOverhead, run as its child process")
	}
	var (
		mu    sync.Mutex
		spans = map[string]int64{}
	)
	ok, err := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		names := map[string]int64{}
		if err == nil {
			err = countOTLPSpans(body, names)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for name, n := range names {
			spans[name] += n
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(ok)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for name, n := range spans {
			_, _ = fmt.Fprintf(w, "%s %d\n", name, n)
		}
		_, _ = fmt.Fprintf(w, "cpu_ns %d\n", proctest.CPU())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("otlp-sink-listening http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// countOTLPSpans adds the spans of an OTLP ExportTraceServiceRequest to
// names, by span name, walking the protobuf wire format:
// resource_spans (1) > scope_spans (2) > spans (2) > name (5).
func countOTLPSpans(req []byte, names map[string]int64) error {
	return eachOTLPField(req, 1, func(rs []byte) error {
		return eachOTLPField(rs, 2, func(ss []byte) error {
			return eachOTLPField(ss, 2, func(span []byte) error {
				var name []byte
				if err := eachOTLPField(span, 5, func(v []byte) error { name = v; return nil }); err != nil {
					return err
				}
				names[string(name)]++
				return nil
			})
		})
	})
}

// eachOTLPField calls fn with the bytes of each length-delimited field num
// of the protobuf message msg, and checks that the rest is well formed.
func eachOTLPField(msg []byte, num protowire.Number, fn func([]byte) error) error {
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return protowire.ParseError(l)
		}
		msg = msg[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := fn(v); err != nil {
				return err
			}
			msg = msg[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, msg)
		if l < 0 {
			return protowire.ParseError(l)
		}
		msg = msg[l:]
	}
	return nil
}
