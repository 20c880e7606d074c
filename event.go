package tasker

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/tasker-go/tasker/taskertype"
)

// Event is one published fact, such as "task.completed" or "step.failed".
// Events are delivered after the transaction that records the fact commits.
type Event = taskertype.Event

// The names of the system events (Event.Name); SystemEvents describes each.
const (
	EventTaskInitializeRequested       = taskertype.EventTaskInitializeRequested
	EventTaskStartRequested            = taskertype.EventTaskStartRequested
	EventTaskCompleted                 = taskertype.EventTaskCompleted
	EventTaskFailed                    = taskertype.EventTaskFailed
	EventTaskCancelled                 = taskertype.EventTaskCancelled
	EventTaskRetryRequested            = taskertype.EventTaskRetryRequested
	EventTaskResolvedManually          = taskertype.EventTaskResolvedManually
	EventTaskBlocked                   = taskertype.EventTaskBlocked
	EventWorkflowViableStepsDiscovered = taskertype.EventWorkflowViableStepsDiscovered
	EventWorkflowNoViableSteps         = taskertype.EventWorkflowNoViableSteps
	EventStepInitializeRequested       = taskertype.EventStepInitializeRequested
	EventStepExecutionRequested        = taskertype.EventStepExecutionRequested
	EventStepCompleted                 = taskertype.EventStepCompleted
	EventStepFailed                    = taskertype.EventStepFailed
	EventStepBackoff                   = taskertype.EventStepBackoff
	EventStepMaxRetriesReached         = taskertype.EventStepMaxRetriesReached
	EventStepRetryRequested            = taskertype.EventStepRetryRequested
	EventStepCancelled                 = taskertype.EventStepCancelled
	EventStepResolvedManually          = taskertype.EventStepResolvedManually
)

// subscriberBuffer is how many events a slow subscriber may fall behind
// before events to it are dropped (and counted, see Client.DroppedEvents).
const subscriberBuffer = 1024

type eventBus struct {
	mu      sync.RWMutex
	subs    map[*subscription]struct{}
	dropped atomic.Int64
	logger  *slog.Logger
}

type subscription struct {
	patterns []string
	ch       chan *Event
}

func (s *subscription) matches(name string) bool {
	if len(s.patterns) == 0 {
		return true
	}
	for _, p := range s.patterns {
		if ok, _ := path.Match(p, name); ok || p == "*" {
			return true
		}
	}
	return false
}

func newEventBus(logger *slog.Logger) *eventBus {
	return &eventBus{subs: map[*subscription]struct{}{}, logger: logger}
}

// publish never blocks: a subscriber whose buffer is full loses the event.
func (b *eventBus) publish(ev *Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if !s.matches(ev.Name) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			// Log the first loss and then every 1,000th, so that a stuck
			// subscriber cannot flood the log.
			if n := b.dropped.Add(1); n == 1 || n%1000 == 0 {
				b.logger.Warn("tasker: a slow event subscriber lost events (its buffer of 1,024 is full)",
					"event", ev.Name, "dropped_total", n)
			}
		}
	}
}

func (b *eventBus) subscribe(patterns []string) (<-chan *Event, func()) {
	s := &subscription{patterns: patterns, ch: make(chan *Event, subscriberBuffer)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			close(s.ch)
		})
	}
}

// SubscribeFunc calls fn, in a goroutine of its own, for every event whose
// name matches one of patterns (as Subscribe). An error returned by fn, or a
// panic in it, is logged and does not affect the engine or later events.
// The returned function ends the subscription and waits for fn to return.
func (c *Client) SubscribeFunc(fn func(ctx context.Context, ev *Event) error, patterns ...string) func() {
	ch, unsub := c.bus.subscribe(patterns)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if err := c.callSubscriber(ctx, fn, ev); err != nil {
				c.logger.Warn("tasker: event subscriber failed", "event", ev.Name, "error", err)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			unsub()
			<-done
			cancel()
		})
	}
}

func (c *Client) callSubscriber(ctx context.Context, fn func(context.Context, *Event) error, ev *Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, ev)
}
