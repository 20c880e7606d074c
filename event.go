package tasker

import (
	"path"
	"sync"
	"sync/atomic"

	"github.com/tasker-go/tasker/taskertype"
)

// Event is one published fact, such as "task.completed" or "step.failed".
// Events are delivered after the transaction that records the fact commits.
type Event = taskertype.Event

// subscriberBuffer is how many events a slow subscriber may fall behind
// before events to it are dropped (and counted, see Client.DroppedEvents).
const subscriberBuffer = 1024

type eventBus struct {
	mu      sync.RWMutex
	subs    map[*subscription]struct{}
	dropped atomic.Int64
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

func newEventBus() *eventBus { return &eventBus{subs: map[*subscription]struct{}{}} }

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
			b.dropped.Add(1)
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
