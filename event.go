package tasker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/tasker-go/tasker/taskersub"
	"github.com/tasker-go/tasker/taskertype"
)

// Event is one published fact, such as "task.completed" or "step.failed".
// Events are delivered after the transaction that records the fact commits.
type Event = taskertype.Event

// The names of the system events (Event.Name); SystemEvents describes each.
const (
	EventTaskInitializeRequested = taskertype.EventTaskInitializeRequested
	EventTaskStartRequested      = taskertype.EventTaskStartRequested
	EventTaskCompleted           = taskertype.EventTaskCompleted
	EventTaskFailed              = taskertype.EventTaskFailed
	EventTaskCancelled           = taskertype.EventTaskCancelled
	EventTaskRetryRequested      = taskertype.EventTaskRetryRequested
	EventTaskResolvedManually    = taskertype.EventTaskResolvedManually
	EventTaskBlocked             = taskertype.EventTaskBlocked
	// EventTaskScheduled is declared with the schedules (schedule.go).
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
	changes map[chan StateChange]*sync.Once
	// closed is set by closeAll (Client.Close): later subscriptions get a
	// closed channel.
	closed  bool
	hooks   []Hook
	dropped atomic.Int64
	logger  *slog.Logger
}

type subscription struct {
	patterns []string
	ch       chan *Event
	once     sync.Once
}

// end closes the subscription's channel once (its stop function and
// Client.Close may both end it).
func (s *subscription) end() { s.once.Do(func() { close(s.ch) }) }

func (s *subscription) matches(name string) bool { return taskersub.MatchEvent(s.patterns, name) }

func newEventBus(logger *slog.Logger, hooks []Hook) *eventBus {
	return &eventBus{subs: map[*subscription]struct{}{}, changes: map[chan StateChange]*sync.Once{}, hooks: hooks, logger: logger}
}

// publish calls the hooks synchronously, then hands the event to the
// subscribers and the change feeds without blocking: one whose buffer is
// full loses it.
func (b *eventBus) publish(ev *Event) {
	for _, h := range b.hooks {
		b.callHook(h, ev)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.changes) > 0 {
		if ch, ok := StateChangeOf(ev); ok {
			for feed := range b.changes {
				select {
				case feed <- ch:
				default:
					b.lost(ev)
				}
			}
		}
	}
	for s := range b.subs {
		if !s.matches(ev.Name) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			b.lost(ev)
		}
	}
}

// lost counts an event a slow subscriber lost. It logs the first loss and
// then every 1,000th, so that a stuck subscriber cannot flood the log.
func (b *eventBus) lost(ev *Event) {
	if n := b.dropped.Add(1); n == 1 || n%1000 == 0 {
		b.logger.Warn("tasker: a slow event subscriber lost events (its buffer of 1,024 is full)",
			"event", ev.Name, "dropped_total", n)
	}
}

func (b *eventBus) callHook(h Hook, ev *Event) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("tasker: a hook panicked", "event", ev.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	h.OnEvent(ev)
}

func (b *eventBus) subscribeChanges() (<-chan StateChange, func()) {
	feed := make(chan StateChange, subscriberBuffer)
	once := new(sync.Once)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(feed)
		return feed, func() {}
	}
	b.changes[feed] = once
	b.mu.Unlock()
	return feed, func() {
		b.mu.Lock()
		delete(b.changes, feed)
		b.mu.Unlock()
		once.Do(func() { close(feed) })
	}
}

func (b *eventBus) subscribe(patterns []string) (<-chan *Event, func()) {
	s := &subscription{patterns: patterns, ch: make(chan *Event, subscriberBuffer)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.end()
		return s.ch, func() {}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s.ch, func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.end()
	}
}

// closeAll ends every subscription and change feed: their channels are
// closed, and later ones are closed at once. Events published after it
// reach only the hooks.
func (b *eventBus) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		s.end()
	}
	for feed, once := range b.changes {
		delete(b.changes, feed)
		once.Do(func() { close(feed) })
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
