package tasker

import (
	"context"
	"log/slog"
	"sync"

	"github.com/tasker-go/tasker/taskerdriver"
)

// stepLogger is StepContext.Logger: the client's logger with the attempt's
// task_id, step_id, step and attempt. The attributes reach the logger's
// handler (its WithAttrs, which slog's own handlers answer by formatting
// them at once) only when the step logs a record at an enabled level or
// derives a logger of its own: most attempts log nothing, and a worker
// made and threw away one formatted logger per attempt (8 % of a worker's
// CPU in a PostgreSQL backlog run, docs/benchmarks.md).
func stepLogger(l *slog.Logger, cs *taskerdriver.ClaimedStep) *slog.Logger {
	return slog.New(&deferredAttrs{base: l.Handler(), attrs: []slog.Attr{
		slog.Int64("task_id", cs.Task.ID), slog.Int64("step_id", cs.Step.ID),
		slog.String("step", cs.Step.Name), slog.Int("attempt", cs.Step.Attempts),
	}})
}

// deferredAttrs is base.WithAttrs(attrs), made on first need. Enabled asks
// base: a handler's attributes do not decide its level.
type deferredAttrs struct {
	base  slog.Handler
	attrs []slog.Attr
	once  sync.Once
	with  slog.Handler
}

func (d *deferredAttrs) handler() slog.Handler {
	d.once.Do(func() { d.with = d.base.WithAttrs(d.attrs) })
	return d.with
}

func (d *deferredAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return d.base.Enabled(ctx, level)
}

func (d *deferredAttrs) Handle(ctx context.Context, r slog.Record) error {
	return d.handler().Handle(ctx, r)
}

func (d *deferredAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return d.handler().WithAttrs(attrs)
}

func (d *deferredAttrs) WithGroup(name string) slog.Handler {
	return d.handler().WithGroup(name)
}
