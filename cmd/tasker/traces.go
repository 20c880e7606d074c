package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/taskerotel"
)

// traceFlushTimeout bounds the export of the last spans at exit.
const traceFlushTimeout = 5 * time.Second

// startTraces configures tracing from the OTEL_* environment (see package
// taskerotel) for the commands that run steps; the client made after it
// uses the provider. The returned function flushes and stops the
// exporters: call it after the client stopped, so that the last spans go.
func (a *app) startTraces(ctx context.Context, command string) (func(), error) {
	traces, err := taskerotel.NewTraces(ctx, &taskerotel.Options{ServiceName: "tasker", Console: a.out})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	a.tracing = traces
	if names := traces.Exporters(); len(names) > 0 {
		a.logger().Info("tasker "+command+": exporting traces", "exporters", names)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
		defer cancel()
		if err := traces.Shutdown(sctx); err != nil {
			a.logger().Warn("tasker "+command+": exporting the last spans failed", "error", err)
		}
	}, nil
}
