package tasker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/internal/testio"
	"github.com/tasker-go/tasker/taskerlog"
	"github.com/tasker-go/tasker/taskersub"
	"github.com/tasker-go/tasker/taskertype"
)

// records decodes the JSON lines written to b so far.
func records(t *testing.T, b *testio.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "a JSON log line: %s", sc.Text())
		out = append(out, m)
	}
	return out
}

func withMsg(recs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// A record logged inside a step's run carries the step's task_id, step and
// attempt, and the trace_id and span_id of the span active in the
// handler's context: both through StepContext.Logger and through any logger
// whose handler is a taskerlog.Handler (the context's attributes).
func TestLogRecordsOfAStepRun(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		var clientLog, ownLog testio.Buffer
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		own := slog.New(taskerlog.NewHandler(slog.NewJSONHandler(&ownLog, nil)))
		e := newEnvWith(t, func(cfg *tasker.Config) {
			cfg.Logger = slog.New(slog.NewJSONHandler(&clientLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg.StepMiddleware = []tasker.StepMiddleware{tasker.StepMiddlewareFunc(
				func(ctx context.Context, s *tasker.StepContext, next func(context.Context) (any, error)) (any, error) {
					ctx, span := tp.Tracer("test").Start(ctx, "step "+s.Step.Name)
					defer span.End()
					return next(ctx)
				})}
		}, template("default", "logged", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		e.h.fails["b"] = 1
		e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
			s.Logger.InfoContext(ctx, "handler says hello")
			own.InfoContext(ctx, "handler's own logger")
		}
		task := e.create("logged", nil)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)

		// The attempts run one after the other: a, b (fails), b.
		ended := spans.Ended()
		require.Len(t, ended, 3)
		for name, buf := range map[string]*testio.Buffer{"StepContext.Logger": &clientLog, "a taskerlog logger": &ownLog} {
			msg := map[string]string{"StepContext.Logger": "handler says hello", "a taskerlog logger": "handler's own logger"}[name]
			recs := withMsg(records(t, buf), msg)
			require.Len(t, recs, 3, name)
			for i, want := range []struct {
				step    string
				attempt float64
			}{{"a", 1}, {"b", 1}, {"b", 2}} {
				r := recs[i]
				require.Equal(t, float64(task.ID), r["task_id"], name)
				require.Equal(t, want.step, r["step"], name)
				require.Equal(t, want.attempt, r["attempt"], name)
				sc := ended[i].SpanContext()
				require.Equal(t, "step "+want.step, ended[i].Name())
				require.Equal(t, sc.TraceID().String(), r["trace_id"], "%s: trace of attempt %d of %s", name, int(want.attempt), want.step)
				require.Equal(t, sc.SpanID().String(), r["span_id"], "%s: span of attempt %d of %s", name, int(want.attempt), want.step)
			}
		}
		// StepContext.Logger carries the attributes itself; the context's
		// are not repeated (a JSON object with a key twice would decode
		// with the last value only: count them in the text).
		for line := range strings.Lines(clientLog.String()) {
			if strings.Contains(line, "handler says hello") {
				require.Equal(t, 1, strings.Count(line, `"task_id"`), line)
				require.Equal(t, 1, strings.Count(line, `"step"`), line)
			}
		}
	})
}

// With Config.Logger nil, only warnings and errors (and the events of
// "log" subscriptions) reach slog.Default(): routine records do not. With a
// logger given, they go to it at their level (debug for a change of the
// maintenance leader). Not parallel: it replaces slog.Default().
func TestDefaultLoggerIsQuiet(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			var def testio.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewJSONHandler(&def, &slog.HandlerOptions{Level: slog.LevelDebug})))
			t.Cleanup(func() { slog.SetDefault(old) })

			d := testdb.Open(t) // the subtest's name is the driver
			reg := tasker.NewRegistry()
			require.NoError(t, reg.RegisterHandler("test", newFailer(), false))
			require.NoError(t, reg.RegisterTemplate(template("default", "quiet", "1.0.0", stepDef{name: "a"}), tasker.RegisterOptions{}))
			c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg,
				Subscriptions: []taskersub.Subscription{{Name: "audit", Type: "log", Events: []string{"task.completed"}}}})
			require.NoError(t, err)
			require.NoError(t, c.Start(t.Context()))
			done, stop := c.Subscribe("task.completed")
			defer stop()
			failing := c.SubscribeFunc(func(context.Context, *tasker.Event) error { return errors.New("boom") }, "task.completed")
			res, err := c.CreateTask(t.Context(), &tasker.TaskRequest{Name: "quiet"})
			require.NoError(t, err)
			<-done
			failing() // waits for the subscriber: its warning is written
			require.NoError(t, c.Stop(t.Context()))

			recs := records(t, &def)
			var levels []string
			for _, r := range recs {
				switch r["level"] {
				case "DEBUG", "INFO":
					require.Equal(t, "tasker event", r["msg"], "only the log subscription's records are below warn: %v", r)
					require.Equal(t, "audit", r["subscription"])
					require.Equal(t, float64(res.Task.ID), r["task_id"])
				}
				levels = append(levels, r["level"].(string)+" "+r["msg"].(string))
			}
			require.Contains(t, levels, "INFO tasker event", "the log subscription is visible at the default level")
			require.Contains(t, levels, "WARN tasker: event subscriber failed", "warnings reach slog.Default()")

			// The same run with a logger given at debug shows the routine
			// records at debug.
			var given testio.Buffer
			c2, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg, SkipMigrate: true,
				Logger: slog.New(slog.NewJSONHandler(&given, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			require.NoError(t, err)
			require.NoError(t, c2.RunUntilIdle(t.Context()))
			require.NotEmpty(t, withMsg(records(t, &given), "maintenance: leadership changed"))
			for _, r := range withMsg(records(t, &given), "maintenance: leadership changed") {
				require.Equal(t, "DEBUG", r["level"])
			}
		})
	}
}

// withAttrsCounter counts the WithAttrs calls that carry a step's
// attributes (step_id) on the way to a JSON handler.
type withAttrsCounter struct {
	slog.Handler
	stepAttrs *atomic.Int32
}

func (w withAttrsCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "step_id" {
			w.stepAttrs.Add(1)
		}
	}
	return withAttrsCounter{Handler: w.Handler.WithAttrs(attrs), stepAttrs: w.stepAttrs}
}

func (w withAttrsCounter) WithGroup(name string) slog.Handler {
	return withAttrsCounter{Handler: w.Handler.WithGroup(name), stepAttrs: w.stepAttrs}
}

// StepContext.Logger hands its attributes to the client's handler only for
// an attempt that logs at an enabled level: an attempt that logs nothing,
// or only below the handler's level, costs no formatted logger.
func TestStepLoggerAttributesOnlyWhenItLogs(t *testing.T) {
	var out testio.Buffer
	var stepAttrs atomic.Int32
	e := newEnvWith(t, func(cfg *tasker.Config) {
		cfg.Logger = slog.New(withAttrsCounter{Handler: slog.NewJSONHandler(&out, nil), stepAttrs: &stepAttrs})
	}, template("default", "quietsteps", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}},
		stepDef{name: "c", deps: []string{"b"}}))
	e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
		switch s.Step.Name {
		case "b":
			s.Logger.InfoContext(ctx, "b logs")
		case "c":
			s.Logger.DebugContext(ctx, "c logs below the level")
		}
	}
	task := e.create("quietsteps", nil)
	require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
	require.Equal(t, int32(1), stepAttrs.Load(), "only b's attempt formats its attributes")
	recs := withMsg(records(t, &out), "b logs")
	require.Len(t, recs, 1)
	require.Equal(t, float64(task.ID), recs[0]["task_id"])
	require.Equal(t, "b", recs[0]["step"])
	require.Equal(t, float64(1), recs[0]["attempt"])
	require.NotNil(t, recs[0]["step_id"])
	require.Empty(t, withMsg(records(t, &out), "c logs below the level"))
}
