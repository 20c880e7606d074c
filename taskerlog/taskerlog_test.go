package taskerlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tasker-go/tasker/taskerlog"
)

func decode(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	b.Reset()
	return out
}

func TestHandlerAddsSpanAndContextAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := taskerlog.New(&buf, taskerlog.FormatJSON, slog.LevelInfo)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// No span, no attributes: the record is untouched.
	log.InfoContext(context.Background(), "plain")
	log.Info("no context")
	for _, r := range decode(t, &buf) {
		require.NotContains(t, r, "trace_id")
		require.NotContains(t, r, "task_id")
	}

	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	ctx = taskerlog.With(ctx, "task_id", 42, "step", "charge")
	ctx = taskerlog.With(ctx, slog.Int("attempt", 2), "step", "charge_card") // a key again replaces it
	log.InfoContext(ctx, "inside", "k", "v")
	log.DebugContext(ctx, "below the level")
	span.End()
	recs := decode(t, &buf)
	require.Len(t, recs, 1)
	r := recs[0]
	sc := span.SpanContext()
	require.Equal(t, sc.TraceID().String(), r["trace_id"])
	require.Equal(t, sc.SpanID().String(), r["span_id"])
	require.Equal(t, float64(42), r["task_id"])
	require.Equal(t, "charge_card", r["step"])
	require.Equal(t, float64(2), r["attempt"])
	require.Equal(t, "v", r["k"])

	// A logger that carries a key already does not get it again from the
	// context; a group gets the context's attributes inside it.
	log.With("task_id", 7).InfoContext(ctx, "with")
	require.Equal(t, 1, strings.Count(buf.String(), `"task_id"`), buf.String())
	require.Equal(t, float64(7), decode(t, &buf)[0]["task_id"])
	log.WithGroup("g").InfoContext(ctx, "grouped")
	g := decode(t, &buf)[0]["g"].(map[string]any)
	require.Equal(t, float64(42), g["task_id"])

	// Wrapping is idempotent.
	require.Same(t, log, taskerlog.Wrap(log))
	require.Nil(t, taskerlog.Wrap(nil))
}

func TestMinLevel(t *testing.T) {
	var buf bytes.Buffer
	inner := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	log := slog.New(taskerlog.MinLevel(inner, slog.LevelWarn)).With("a", 1).WithGroup("g")
	log.Info("hidden")
	log.Debug("hidden")
	log.Warn("shown")
	log.Error("shown")
	recs := decode(t, &buf)
	require.Len(t, recs, 2)
	require.False(t, log.Enabled(context.Background(), slog.LevelInfo))
}

func TestParse(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError} {
		got, err := taskerlog.ParseLevel(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := taskerlog.ParseLevel("loud")
	require.EqualError(t, err, `log level "loud" is not valid: use debug, info, warn or error`)
	f, err := taskerlog.ParseFormat("JSON")
	require.NoError(t, err)
	require.Equal(t, taskerlog.FormatJSON, f)
	_, err = taskerlog.ParseFormat("xml")
	require.EqualError(t, err, `log format "xml" is not valid: use text or json`)

	var buf bytes.Buffer
	taskerlog.New(&buf, taskerlog.FormatText, slog.LevelInfo).Info("hi", "k", "v")
	require.Contains(t, buf.String(), `msg=hi k=v`)
}
