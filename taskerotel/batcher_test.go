package taskerotel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// recordingExporter keeps the names of the spans of each export call.
type recordingExporter struct {
	mu       sync.Mutex
	batches  [][]string
	shutdown bool
	block    chan struct{} // when set, ExportSpans waits for it
}

func (e *recordingExporter) ExportSpans(ctx context.Context, spans []spanData) error {
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, names)
	return nil
}

func (e *recordingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown = true
	return nil
}

func (e *recordingExporter) exported() (names []string, sizes []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		names = append(names, b...)
		sizes = append(sizes, len(b))
	}
	return names, sizes
}

func endSpans(tp *tracerProvider, from, n int) {
	tr := tp.Tracer("test")
	for i := from; i < from+n; i++ {
		_, s := tr.Start(context.Background(), fmt.Sprint(i))
		s.End()
	}
}

// testProvider is a provider of spans that go to b.
func testProvider(sampler sdktrace.Sampler, b *batcher) *tracerProvider {
	return newTracerProvider(sampler, resource.Empty(), []*batcher{b})
}

func spanNames(from, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint(from + i)
	}
	return names
}

func TestBatcherSettingsFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want bspSettings
	}{
		{nil, bspSettings{maxQueue: 2048, maxBatch: 512, delay: 5 * time.Second, timeout: 30 * time.Second}},
		{[]string{"OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50", "OTEL_BSP_SCHEDULE_DELAY", "250", "OTEL_BSP_EXPORT_TIMEOUT", "0"},
			bspSettings{maxQueue: 100, maxBatch: 50, delay: 250 * time.Millisecond}},
		// A batch larger than the queue: the SDK's rule, min(512, queue).
		{[]string{"OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"},
			bspSettings{maxQueue: 100, maxBatch: 100, delay: 5 * time.Second, timeout: 30 * time.Second}},
		{[]string{"OTEL_BSP_MAX_QUEUE_SIZE", "9000", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10000"},
			bspSettings{maxQueue: 9000, maxBatch: 512, delay: 5 * time.Second, timeout: 30 * time.Second}},
		// Not numbers: the defaults, as the SDK reads them.
		{[]string{"OTEL_BSP_MAX_QUEUE_SIZE", "many", "OTEL_BSP_SCHEDULE_DELAY", "5s"},
			bspSettings{maxQueue: 2048, maxBatch: 512, delay: 5 * time.Second, timeout: 30 * time.Second}},
		{[]string{"OTEL_BSP_MAX_QUEUE_SIZE", "-1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0", "OTEL_BSP_SCHEDULE_DELAY", "0"},
			bspSettings{maxQueue: 2048, maxBatch: 512, delay: time.Millisecond, timeout: 30 * time.Second}},
	} {
		for _, k := range []string{"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT"} {
			t.Setenv(k, "")
		}
		for i := 0; i+1 < len(c.env); i += 2 {
			t.Setenv(c.env[i], c.env[i+1])
		}
		require.Equal(t, c.want, bspFromEnv(), "%v", c.env)
	}
}

// TestBatcherExportsFullBatchesInOrder: full batches go without waiting for
// the schedule delay, every span once and in order; the rest goes at
// Shutdown, which also shuts the exporter down.
func TestBatcherExportsFullBatchesInOrder(t *testing.T) {
	exp := &recordingExporter{}
	b := newBatcher(exp, bspSettings{maxQueue: 1000, maxBatch: 10, delay: time.Hour})
	tp := testProvider(sdktrace.AlwaysSample(), b)
	endSpans(tp, 0, 35)
	require.Eventually(t, func() bool { _, sizes := exp.exported(); return len(sizes) == 3 }, 5*time.Second, time.Millisecond)
	names, sizes := exp.exported()
	require.Equal(t, []int{10, 10, 10}, sizes)
	require.Equal(t, spanNames(0, 30), names)
	require.NoError(t, tp.Shutdown(t.Context()))
	names, sizes = exp.exported()
	require.Equal(t, []int{10, 10, 10, 5}, sizes)
	require.Equal(t, spanNames(0, 35), names)
	require.True(t, exp.shutdown)
	endSpans(tp, 35, 1) // after Shutdown: not exported
	names, _ = exp.exported()
	require.Len(t, names, 35)
	require.NoError(t, b.Shutdown(t.Context()), "a second Shutdown does nothing")
}

func TestBatcherScheduleDelayAndForceFlush(t *testing.T) {
	exp := &recordingExporter{}
	tp := testProvider(sdktrace.AlwaysSample(), newBatcher(exp, bspSettings{maxQueue: 100, maxBatch: 50, delay: 20 * time.Millisecond}))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	endSpans(tp, 0, 3)
	require.Eventually(t, func() bool { names, _ := exp.exported(); return len(names) == 3 }, 5*time.Second, time.Millisecond,
		"a partial batch goes after the schedule delay")

	exp2 := &recordingExporter{}
	tp2 := testProvider(sdktrace.AlwaysSample(), newBatcher(exp2, bspSettings{maxQueue: 100, maxBatch: 50, delay: time.Hour}))
	defer func() { require.NoError(t, tp2.Shutdown(context.Background())) }()
	endSpans(tp2, 0, 70)
	require.NoError(t, tp2.ForceFlush(t.Context()))
	names, _ := exp2.exported()
	require.Equal(t, spanNames(0, 70), names, "ForceFlush exports every span ended before it")
}

// TestBatcherDropsAndReportsWhenFull: with the exporter stuck, spans beyond
// the queue's size are dropped (not blocking the caller) and the count goes
// to the error handler.
func TestBatcherDropsAndReportsWhenFull(t *testing.T) {
	var (
		mu       sync.Mutex
		reported []error
	)
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }))
	defer otel.SetErrorHandler(prev)

	exp := &recordingExporter{block: make(chan struct{})}
	b := newBatcher(exp, bspSettings{maxQueue: 20, maxBatch: 10, delay: time.Hour})
	tp := testProvider(sdktrace.AlwaysSample(), b)
	endSpans(tp, 0, 10) // a full batch: the export goroutine takes it and blocks
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 0 }, 5*time.Second, time.Millisecond)
	endSpans(tp, 10, 30) // 20 fit in the queue, 10 are dropped
	close(exp.block)
	require.NoError(t, tp.ForceFlush(t.Context()))
	names, _ := exp.exported()
	require.Equal(t, spanNames(0, 30), names)
	require.NoError(t, tp.Shutdown(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, reported)
	require.True(t, strings.Contains(errors.Join(reported...).Error(), "10 spans dropped"), "%v", reported)
}

func TestBatcherSkipsUnsampled(t *testing.T) {
	exp := &recordingExporter{}
	tp := testProvider(sdktrace.NeverSample(), newBatcher(exp, bspSettings{maxQueue: 10, maxBatch: 5, delay: time.Hour}))
	endSpans(tp, 0, 20)
	require.NoError(t, tp.Shutdown(t.Context()))
	names, _ := exp.exported()
	require.Empty(t, names)
}
