package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/delivery"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskersub"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var base = testdb.Base

// inbox is a subscriber that keeps what it is sent, fails while failing
// is set, and reports each delivery attempt.
type inbox struct {
	mu       sync.Mutex
	got      []*taskersub.Message
	failing  error
	attempts chan string
	closed   bool
}

func newInbox() *inbox { return &inbox{attempts: make(chan string, 64)} }

func (b *inbox) Send(_ context.Context, m *taskersub.Message) error {
	b.mu.Lock()
	err := b.failing
	if err == nil {
		b.got = append(b.got, m)
	}
	b.mu.Unlock()
	b.attempts <- m.EventName
	return err
}

func (b *inbox) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func (b *inbox) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failing = err
}

func (b *inbox) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, len(b.got))
	for i, m := range b.got {
		names[i] = m.EventName
	}
	return names
}

type env struct {
	t     *testing.T
	drv   taskerdriver.Driver
	ex    taskerdriver.Executor
	clock *testdb.Clock
	box   *inbox
	d     *delivery.Deliverer
}

func newEnv(t *testing.T, target delivery.Target) *env {
	t.Helper()
	drv := testdb.Open(t)
	require.NoError(t, drv.Migrate(t.Context()))
	e := &env{t: t, drv: drv, ex: drv.Executor(), clock: testdb.NewClock(base), box: newInbox()}
	target.Sender = e.box
	e.d = delivery.New(delivery.Config{
		Driver: drv, Targets: map[string]delivery.Target{"hook": target, "other": {Sender: newInbox()}},
		Now: e.clock.Now, ID: "d1", PollInterval: time.Hour,
	})
	t.Cleanup(e.d.Stop)
	return e
}

// insert writes messages for subscription sub.
func (e *env) insert(sub string, events ...string) {
	e.t.Helper()
	ps := make([]*taskerdriver.OutboxInsertParams, len(events))
	for i, name := range events {
		ps[i] = &taskerdriver.OutboxInsertParams{Subscription: sub, EventName: name, Payload: json.RawMessage(`{"n":1}`), Now: e.clock.Now()}
	}
	require.NoError(e.t, e.ex.OutboxInsert(e.t.Context(), ps))
}

// list returns the messages of the hook subscription in state.
func (e *env) list(state string) []*taskertype.OutboxMessage {
	e.t.Helper()
	ms, err := e.ex.OutboxList(e.t.Context(), &taskerdriver.OutboxListParams{State: state, Subscription: "hook"})
	require.NoError(e.t, err)
	return ms
}

func (e *env) pass() int {
	e.t.Helper()
	n, err := e.d.Pass(e.t.Context())
	require.NoError(e.t, err)
	return n
}

func TestDeliveredMessagesFinish(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, delivery.Target{})
		e.insert("hook", "task.completed", "step.failed")
		require.Equal(t, 2, e.pass())
		require.ElementsMatch(t, []string{"task.completed", "step.failed"}, e.box.received())
		delivered := e.list("delivered")
		require.Len(t, delivered, 2)
		for _, m := range delivered {
			require.Equal(t, 1, m.Attempts)
			require.Equal(t, base, m.DeliveredAt.UTC())
		}
		require.Empty(t, e.list("pending"))
		require.Zero(t, e.pass(), "a delivered message is not sent again")
	})
}

func TestOnlyConfiguredSubscriptionsAreClaimed(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, delivery.Target{})
		e.insert("gone", "task.completed") // a subscription no longer configured
		require.Zero(t, e.pass())
		ms, err := e.ex.OutboxList(t.Context(), &taskerdriver.OutboxListParams{State: "pending", Subscription: "gone"})
		require.NoError(t, err)
		require.Len(t, ms, 1, "kept for when it is configured again")
	})
}

func TestFailuresBackOffThenDeadLetter(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, delivery.Target{MaxAttempts: 3, Backoff: 10 * time.Second, MaxBackoff: 15 * time.Second})
		e.box.fail(errors.New("503 from the receiver"))
		e.insert("hook", "task.completed")

		// Attempt 1 fails: retried after Backoff (+ up to 10 % jitter).
		require.Equal(t, 1, e.pass())
		m := e.list("pending")[0]
		require.Equal(t, 1, m.Attempts)
		require.Equal(t, "503 from the receiver", m.LastError)
		wait := m.NextAttemptAt.Sub(e.clock.Now())
		require.GreaterOrEqual(t, wait, 10*time.Second)
		require.LessOrEqual(t, wait, 11*time.Second)
		require.Zero(t, e.pass(), "not before its retry time")

		// Attempt 2 fails: the doubled delay is capped at MaxBackoff.
		e.clock.Advance(wait)
		require.Equal(t, 1, e.pass())
		m = e.list("pending")[0]
		require.Equal(t, 2, m.Attempts)
		wait = m.NextAttemptAt.Sub(e.clock.Now())
		require.GreaterOrEqual(t, wait, 15*time.Second)
		require.LessOrEqual(t, wait, 16500*time.Millisecond)

		// Attempt 3 is the last: the message is dead.
		e.clock.Advance(wait)
		require.Equal(t, 1, e.pass())
		require.Empty(t, e.list("pending"))
		dead := e.list("dead")
		require.Len(t, dead, 1)
		require.Equal(t, 3, dead[0].Attempts)
		require.Equal(t, "503 from the receiver", dead[0].LastError)
		e.clock.Advance(time.Hour)
		require.Zero(t, e.pass(), "a dead message is not retried")
		require.Empty(t, e.box.received())
	})
}

func TestReplayedDeadMessagesAreDelivered(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, delivery.Target{MaxAttempts: 1})
		e.box.fail(errors.New("connection refused"))
		e.insert("hook", "task.completed", "task.failed")
		require.Equal(t, 2, e.pass())
		dead := e.list("dead")
		require.Len(t, dead, 2)

		// The receiver is back; replay one of them.
		e.box.fail(nil)
		e.clock.Advance(time.Minute)
		n, err := e.ex.OutboxReplay(t.Context(), &taskerdriver.OutboxReplayParams{IDs: []int64{dead[0].ID}, Now: e.clock.Now()})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, 1, e.pass())
		require.Equal(t, []string{dead[0].EventName}, e.box.received())
		delivered := e.list("delivered")
		require.Len(t, delivered, 1)
		require.Equal(t, dead[0].ID, delivered[0].ID)
		require.Len(t, e.list("dead"), 1, "the other stays dead")
	})
}

func TestLoopDeliversOnNotificationAndStopClosesSenders(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, delivery.Target{})
		e.d.Start()
		// The poll interval is an hour: the insert's notification wakes the loop.
		e.insert("hook", "task.completed")
		select {
		case name := <-e.box.attempts:
			require.Equal(t, "task.completed", name)
		case <-time.After(30 * time.Second):
			t.Fatal("the loop did not deliver a new message")
		}
		e.d.Stop()
		require.Len(t, e.list("delivered"), 1, "Stop waits for the message being sent")
		e.box.mu.Lock()
		defer e.box.mu.Unlock()
		require.True(t, e.box.closed, "Stop closes senders that are io.Closers")
	})
}
