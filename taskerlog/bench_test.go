package taskerlog_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/tasker-go/tasker/taskerlog"
)

// The cost the engine adds to every step run: the step's attributes on its
// context (docs/observability.md).
func BenchmarkWithStepAttributes(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = taskerlog.WithAttrs(ctx, slog.Int64(taskerlog.KeyTaskID, 42), slog.String(taskerlog.KeyStep, "charge"), slog.Int(taskerlog.KeyAttempt, 1))
	}
}

// A record below the level costs what it costs without the wrapper; one
// written gets the context's attributes.
func BenchmarkHandle(b *testing.B) {
	ctx := taskerlog.With(context.Background(), taskerlog.KeyTaskID, int64(42), taskerlog.KeyStep, "charge", taskerlog.KeyAttempt, 1)
	for _, tc := range []struct {
		name  string
		level slog.Level
	}{{"disabled", slog.LevelDebug}, {"written", slog.LevelWarn}} {
		b.Run(tc.name, func(b *testing.B) {
			log := slog.New(taskerlog.NewHandler(slog.NewJSONHandler(discard{}, nil)))
			b.ReportAllocs()
			for b.Loop() {
				log.Log(ctx, tc.level, "step failed", "error", "boom")
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
