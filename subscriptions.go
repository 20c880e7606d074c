package tasker

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/tasker-go/tasker/internal/delivery"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskersub"
)

// Subscription sends events to an outside system (see package taskersub).
type Subscription = taskersub.Subscription

// OutboxMessage is an event held for a durable subscription, as
// DeadLetters lists it.
type OutboxMessage = taskersub.Message

// LoadSubscriptions reads a YAML subscriptions file (see taskersub.Load).
//
// Deprecated: use taskersub.Load.
func LoadSubscriptions(file string) ([]Subscription, error) { return taskersub.Load(file) }

// ValidateSubscriptions checks names, types, event patterns and configs.
//
// Deprecated: use taskersub.Validate.
func ValidateSubscriptions(subs []Subscription) error { return taskersub.Validate(subs) }

// durable returns the enabled durable subscriptions (webhook, nats, ...).
func (c *Client) durable() []Subscription {
	var out []Subscription
	for _, s := range c.cfg.Subscriptions {
		if s.IsEnabled() && s.IsDurable() {
			out = append(out, s)
		}
	}
	return out
}

// outboxFor maps events to outbox messages for the durable subscriptions.
func (c *Client) outboxFor(events []*Event) []*taskerdriver.OutboxInsertParams {
	subs := c.durable()
	if len(subs) == 0 {
		return nil
	}
	var out []*taskerdriver.OutboxInsertParams
	for _, ev := range events {
		var payload json.RawMessage
		for _, s := range subs {
			if !s.Matches(ev.Name) {
				continue
			}
			if payload == nil {
				b, err := json.Marshal(ev)
				if err != nil {
					continue
				}
				payload = b
			}
			out = append(out, &taskerdriver.OutboxInsertParams{Subscription: s.Name, EventName: ev.Name, Payload: payload, Now: ev.At})
		}
	}
	return out
}

// writeOutbox writes the events' outbox messages in tx.
func (c *Client) writeOutbox(ctx context.Context, tx taskerdriver.Executor, events []*Event) error {
	rows := c.outboxFor(events)
	if len(rows) == 0 {
		return nil
	}
	return tx.OutboxInsert(ctx, rows)
}

// startSubscriptions starts the log subscriptions and the deliverer of the
// durable ones; the returned function stops them.
func (c *Client) startSubscriptions(workerID string) func() {
	var stops []func()
	targets := map[string]delivery.Target{}
	for _, s := range c.cfg.Subscriptions {
		if !s.IsEnabled() {
			continue
		}
		switch s.Type {
		case "log":
			name := s.Name
			stops = append(stops, c.SubscribeFunc(func(ctx context.Context, ev *Event) error {
				attrs := []any{"subscription", name, "event", ev.Name}
				if ev.Task != nil {
					attrs = append(attrs, "task_id", ev.Task.ID, "task", ev.Task.FullName())
				}
				if ev.Step != nil {
					attrs = append(attrs, "step", ev.Step.Name, "attempt", ev.Attempt)
				}
				if ev.Error != nil {
					attrs = append(attrs, "error", ev.Error.Message)
				}
				c.eventLog.InfoContext(ctx, "tasker event", attrs...)
				return nil
			}, s.Events...))
		default:
			t, err := s.Target()
			if err != nil {
				c.logger.Error("tasker: subscription not started", "subscription", s.Name, "error", err)
				continue
			}
			targets[s.Name] = delivery.Target{Sender: t.Sender, MaxAttempts: t.MaxAttempts, Backoff: t.Backoff}
		}
	}
	if len(targets) > 0 {
		d := delivery.New(delivery.Config{Driver: c.driver, Targets: targets, Now: c.cfg.Now, Logger: c.logger, ID: workerID})
		d.Start()
		stops = append(stops, d.Stop)
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// DeadLetters lists the events a durable subscription gave up on (all
// subscriptions when subscription is empty), newest first.
func (c *Client) DeadLetters(ctx context.Context, subscription string, limit int) ([]*OutboxMessage, error) {
	if fields := nulFields(map[string]any{"subscription": subscription}); fields != nil {
		return nil, &ValidationError{Message: "invalid dead letter filter", Fields: fields}
	}
	return c.exec.OutboxList(ctx, &taskerdriver.OutboxListParams{State: "dead", Subscription: subscription, Limit: limit})
}

// ReplayDeadLetters sends dead events again with fresh attempts (the given
// ids, or all when none) and returns how many.
func (c *Client) ReplayDeadLetters(ctx context.Context, ids ...int64) (int, error) {
	return c.exec.OutboxReplay(ctx, &taskerdriver.OutboxReplayParams{IDs: ids, Now: c.cfg.Now().UTC()})
}

// Subscriptions returns the configured subscriptions, sorted by name.
func (c *Client) Subscriptions() []Subscription {
	out := append([]Subscription(nil), c.cfg.Subscriptions...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
