package taskerpgx

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

// listener holds one connection that LISTENs to the notification topics and
// fans notifications out to in-process subscribers. It starts with the first
// subscription and reconnects, with backoff, when the connection is lost;
// subscribers get a wake-up after a reconnection, since notifications sent
// while it was down are lost.
type listener struct {
	pool *pgxpool.Pool

	hub driverkit.Hub

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func newListener(pool *pgxpool.Pool) *listener {
	return &listener{pool: pool}
}

var topics = []string{taskerdriver.TopicStepsReady, taskerdriver.TopicTaskChanged, taskerdriver.TopicOutbox}

func (l *listener) CrossProcess() bool { return true }

// Subscribe implements taskerdriver.Listener; the first subscription starts
// listening.
func (l *listener) Subscribe(topic string) (<-chan struct{}, func()) {
	l.mu.Lock()
	if !l.started {
		l.started = true
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel = cancel
		l.done = make(chan struct{})
		go l.run(ctx)
	}
	l.mu.Unlock()
	return l.hub.Subscribe(topic)
}

// notify wakes the in-process subscribers of topic.
func (l *listener) notify(topic string) { l.hub.Notify(topic) }

func (l *listener) notifyAll() {
	for _, t := range topics {
		l.notify(t)
	}
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	delay := listenRetryMin
	for first := true; ctx.Err() == nil; first = false {
		listened, _ := l.listen(ctx, !first) // the error is the lost connection; workers log their own failures
		if ctx.Err() != nil {
			return
		}
		if listened {
			delay = listenRetryMin // it worked for a while: retry soon
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(delay*2, listenRetryMax)
	}
}

// listen LISTENs on one connection until it fails or ctx ends. After a
// reconnection it wakes every subscriber: notifications sent while the
// connection was down are lost.
func (l *listener) listen(ctx context.Context, reconnected bool) (listened bool, err error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		// A connection that LISTENed must not go back to the pool.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}()
	for _, t := range topics {
		if _, err := conn.Exec(ctx, `LISTEN `+t); err != nil {
			return false, err
		}
	}
	if reconnected {
		l.notifyAll()
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		l.notify(n.Channel)
	}
}

func (l *listener) close() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
