package taskerotel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// batcher is the span processor of NewTraces: a batch span processor with
// the SDK's settings (OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT,
// OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, read as
// sdktrace.NewBatchSpanProcessor reads them, with its defaults) that costs
// less per span: an ended span is appended to a slice under a mutex, and
// the export goroutine is woken once per full batch (or by the schedule
// delay), where the SDK's processor hands every span to its goroutine
// through a channel, waking it for each. Spans that find the queue full
// are dropped, as the SDK's processor drops them, and counted; the count
// goes to the OpenTelemetry error handler (otel.Handle) at the next export.
type batcher struct {
	exp                spanExporter
	maxQueue, maxBatch int
	delay, timeout     time.Duration

	mu       sync.Mutex
	queue    []spanData // ended, not yet taken for export
	kicked   bool       // a full batch was signalled, not yet taken
	closed   bool
	dropped  uint64
	reported uint64 // dropped spans already reported

	kick       chan struct{} // a full batch waits
	stop, done chan struct{}
	stopOnce   sync.Once

	exportMu sync.Mutex // one export at a time
	batch    []spanData // under exportMu
}

// bspSettings are the batch processor's settings from the environment,
// with the SDK's defaults and rules.
type bspSettings struct {
	maxQueue, maxBatch int
	delay, timeout     time.Duration
}

func bspFromEnv() bspSettings {
	s := bspSettings{
		maxQueue: envInt("OTEL_BSP_MAX_QUEUE_SIZE", sdktrace.DefaultMaxQueueSize),
		maxBatch: envInt("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", sdktrace.DefaultMaxExportBatchSize),
		delay:    time.Duration(envInt("OTEL_BSP_SCHEDULE_DELAY", sdktrace.DefaultScheduleDelay)) * time.Millisecond,
		timeout:  time.Duration(envInt("OTEL_BSP_EXPORT_TIMEOUT", sdktrace.DefaultExportTimeout)) * time.Millisecond,
	}
	// Values the SDK's processor would panic on (a negative queue size),
	// drop every span with (0), export span by span with (a batch size of
	// 0 or less) or spin with (a delay of 0 or less).
	if s.maxQueue <= 0 {
		s.maxQueue = sdktrace.DefaultMaxQueueSize
	}
	if s.maxBatch <= 0 {
		s.maxBatch = sdktrace.DefaultMaxExportBatchSize
	}
	if s.maxBatch > s.maxQueue { // the SDK's rule
		s.maxBatch = min(sdktrace.DefaultMaxExportBatchSize, s.maxQueue)
	}
	if s.delay <= 0 {
		s.delay = time.Millisecond
	}
	return s
}

// envInt is the integer value of the variable key, def when it is unset or
// not an integer (as the SDK reads OTEL_BSP_*: silently).
func envInt(key string, def int) int {
	n, err := strconv.Atoi(os.Getenv(key))
	if err != nil {
		return def
	}
	return n
}

func newBatcher(exp spanExporter, s bspSettings) *batcher {
	b := &batcher{
		exp: exp, maxQueue: s.maxQueue, maxBatch: s.maxBatch, delay: s.delay, timeout: s.timeout,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.loop()
	return b
}

// enqueue queues an ended span for export, or drops it when the queue is
// full; an unsampled span is not exported.
func (b *batcher) enqueue(s spanData) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if len(b.queue) >= b.maxQueue {
		b.dropped++
		b.mu.Unlock()
		return
	}
	b.queue = append(b.queue, s)
	signal := len(b.queue) >= b.maxBatch && !b.kicked
	if signal {
		b.kicked = true
	}
	b.mu.Unlock()
	if signal {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *batcher) loop() {
	defer close(b.done)
	timer := time.NewTimer(b.delay)
	defer timer.Stop()
	for {
		var err error
		select {
		case <-b.stop:
			return
		case <-timer.C:
			err = b.export(context.Background(), false)
		case <-b.kick:
			err = b.export(context.Background(), true)
		}
		if err != nil {
			otel.Handle(err)
		}
		timer.Reset(b.delay)
	}
}

// export exports the queued spans in batches of at most maxBatch: all of
// them, or (fullOnly) as long as a whole batch is queued.
func (b *batcher) export(ctx context.Context, fullOnly bool) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	var errs []error
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.maxBatch)
		if n == 0 || (fullOnly && n < b.maxBatch) {
			b.kicked = false
			dropped := b.dropped - b.reported
			b.reported = b.dropped
			b.mu.Unlock()
			if dropped > 0 {
				otel.Handle(fmt.Errorf("taskerotel: %d spans dropped: the batch span processor's queue was full (OTEL_BSP_MAX_QUEUE_SIZE=%d)", dropped, b.maxQueue))
			}
			return errors.Join(errs...)
		}
		b.batch = append(b.batch[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()

		ectx, cancel := ctx, context.CancelFunc(func() {})
		if b.timeout > 0 {
			ectx, cancel = context.WithTimeoutCause(ctx, b.timeout, errors.New("processor export timeout"))
		}
		err := b.exp.ExportSpans(ectx, b.batch)
		cancel()
		clear(b.batch)
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
}

// ForceFlush exports every span ended before it.
func (b *batcher) ForceFlush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.export(ctx, false)
}

// Shutdown stops queueing spans, exports those queued and shuts the
// exporter down. Calls after the first do nothing.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.stop)
		select {
		case <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		err = errors.Join(b.export(ctx, false), b.exp.Shutdown(ctx))
	})
	return err
}
