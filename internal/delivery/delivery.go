package delivery

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskersub"
	"github.com/tasker-go/tasker/taskertype"
)

// Target is a durable subscriber: its sender and retry limits.
type Target struct {
	Sender taskersub.Sender
	// MaxAttempts before a message is dead. Defaults to 10.
	MaxAttempts int
	// Backoff is the first retry delay, doubled each attempt up to
	// MaxBackoff. Defaults to 1s and 5m.
	Backoff, MaxBackoff time.Duration
}

// Config configures a Deliverer.
type Config struct {
	Driver  taskerdriver.Driver
	Targets map[string]Target // by subscription name
	Now     func() time.Time
	Logger  *slog.Logger
	ID      string
	// PollInterval bounds the sleep between passes. Defaults to 1s.
	PollInterval time.Duration
	// Lease is how long a claimed message is held. Defaults to 1m.
	Lease time.Duration
}

// Deliverer runs the delivery loop.
type Deliverer struct {
	cfg    Config
	exec   taskerdriver.Executor
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New returns a Deliverer.
func New(cfg Config) *Deliverer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, time.Second)
	cfg.Lease = cmp.Or(cfg.Lease, time.Minute)
	for name, t := range cfg.Targets {
		t.MaxAttempts = cmp.Or(t.MaxAttempts, 10)
		t.Backoff = cmp.Or(t.Backoff, time.Second)
		t.MaxBackoff = cmp.Or(t.MaxBackoff, 5*time.Minute)
		cfg.Targets[name] = t
	}
	return &Deliverer{cfg: cfg, exec: cfg.Driver.Executor()}
}

// Start runs the loop in the background until Stop.
func (d *Deliverer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.done = make(chan struct{})
	go d.loop(ctx)
}

// Stop ends the loop and waits for it; messages being sent finish first.
// Senders that are io.Closers are closed.
func (d *Deliverer) Stop() {
	d.once.Do(func() {
		if d.cancel != nil {
			d.cancel()
			<-d.done
		}
		for _, t := range d.cfg.Targets {
			if c, ok := t.Sender.(io.Closer); ok {
				_ = c.Close()
			}
		}
	})
}

func (d *Deliverer) loop(ctx context.Context) {
	defer close(d.done)
	wake, unsub := d.cfg.Driver.Listener().Subscribe(taskerdriver.TopicOutbox)
	defer unsub()
	for {
		n, err := d.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.WarnContext(ctx, "delivery: pass failed", "error", err)
		}
		if n > 0 && err == nil {
			continue
		}
		timer := time.NewTimer(d.cfg.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Pass claims due messages and delivers them; it returns how many it
// handled.
func (d *Deliverer) Pass(ctx context.Context) (int, error) {
	names := make([]string, 0, len(d.cfg.Targets))
	for name := range d.cfg.Targets {
		names = append(names, name)
	}
	if len(names) == 0 {
		return 0, nil
	}
	now := d.cfg.Now()
	msgs, err := d.exec.OutboxClaim(context.WithoutCancel(ctx), &taskerdriver.OutboxClaimParams{
		Now: now, Limit: 32, Owner: d.cfg.ID, LeaseExpiresAt: now.Add(d.cfg.Lease), Subscriptions: names,
	})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() { d.deliver(context.WithoutCancel(ctx), m) })
	}
	wg.Wait()
	return len(msgs), nil
}

func (d *Deliverer) deliver(ctx context.Context, m *taskertype.OutboxMessage) {
	t := d.cfg.Targets[m.Subscription]
	err := t.Sender.Send(ctx, m)
	now := d.cfg.Now()
	p := &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: d.cfg.ID, Now: now}
	switch {
	case err == nil:
		p.Delivered = true
	case m.Attempts+1 >= t.MaxAttempts:
		p.Dead, p.Error = true, err.Error()
		d.cfg.Logger.WarnContext(ctx, "delivery: message is dead after its last attempt; replay it with tasker events replay",
			"subscription", m.Subscription, "event", m.EventName, "outbox_id", m.ID, "attempts", m.Attempts+1, "error", err)
	default:
		delay := min(t.Backoff<<min(m.Attempts, 20), t.MaxBackoff)
		delay += time.Duration(rand.Int64N(int64(delay)/10 + 1)) // up to 10 % jitter
		p.Error, p.NextAttemptAt = err.Error(), now.Add(delay)
		d.cfg.Logger.InfoContext(ctx, "delivery: attempt failed; will retry",
			"subscription", m.Subscription, "event", m.EventName, "outbox_id", m.ID, "retry_in", delay, "error", err)
	}
	if err := d.exec.OutboxFinish(ctx, p); err != nil {
		d.cfg.Logger.WarnContext(ctx, "delivery: record attempt", "outbox_id", m.ID, "error", err)
	}
}
