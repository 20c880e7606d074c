package taskerpgx

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

	// own are the notifications this driver's own transactions are about
	// to commit, by backend pid and topic: at their commit the driver wakes
	// this process's subscribers itself, so the server's echo of each is
	// dropped, once (a pid belongs to one live backend at a time; a closed
	// connection's entries are forgotten).
	ownMu sync.Mutex
	own   map[uint32]*ownNotes
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
		if l.echo(n.PID, n.Channel) {
			continue
		}
		l.notify(n.Channel)
	}
}

// ownNotes are the topics a connection's transaction notified.
type ownNotes struct {
	conn   *pgconn.PgConn
	topics map[string]int
}

// notifying records that c is about to commit notifications of topics,
// whose subscribers in this process the driver wakes itself.
func (l *listener) notifying(c *pgconn.PgConn, topics []string) {
	l.mu.Lock()
	listening := l.started
	l.mu.Unlock()
	if !listening { // no echo will be read
		return
	}
	l.ownMu.Lock()
	defer l.ownMu.Unlock()
	if l.own == nil {
		l.own = map[uint32]*ownNotes{}
	}
	o := l.own[c.PID()]
	if o == nil || o.conn != c {
		o = &ownNotes{conn: c, topics: map[string]int{}}
		l.own[c.PID()] = o
	}
	for _, t := range topics {
		o.topics[t]++
	}
}

// closed reports whether c is closed (safe while another goroutine uses
// it).
func closed(c *pgconn.PgConn) bool {
	select {
	case <-c.CleanupDone():
		return true
	default:
		return false
	}
}

// notCommitted undoes notifying: the transaction did not commit, so no
// echo comes.
func (l *listener) notCommitted(c *pgconn.PgConn, topics []string) {
	l.ownMu.Lock()
	defer l.ownMu.Unlock()
	o := l.own[c.PID()]
	if o == nil || o.conn != c {
		return
	}
	for _, t := range topics {
		if o.topics[t] > 0 {
			if o.topics[t]--; o.topics[t] == 0 {
				delete(o.topics, t)
			}
		}
	}
}

// echo reports whether a notification of topic from backend pid is one of
// those notifying recorded, and forgets it.
func (l *listener) echo(pid uint32, topic string) bool {
	l.ownMu.Lock()
	defer l.ownMu.Unlock()
	o := l.own[pid]
	switch {
	case o == nil:
		return false
	case closed(o.conn):
		delete(l.own, pid)
		return false
	case o.topics[topic] == 0:
		return false
	}
	if o.topics[topic]--; o.topics[topic] == 0 {
		delete(o.topics, topic)
	}
	return true
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
