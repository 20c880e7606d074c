package tasker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/delivery"
	"github.com/tasker-go/tasker/taskerdriver"
)

// Subscription sends events to an outside system. "log" subscriptions log
// events in-process; "webhook" and "nats" subscriptions are durable: their events are
// written to an outbox in the same transaction as the facts, delivered at
// least once, retried with backoff, and kept as dead letters after
// max_attempts (see Client.DeadLetters and Client.ReplayDeadLetters).
type Subscription struct {
	// Name identifies the subscription (required, unique).
	Name string `yaml:"name" json:"name"`
	// Type is "log", "webhook" or "nats".
	Type string `yaml:"type" json:"type"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Events are names or patterns ("task.*", "*"); empty means all.
	Events []string `yaml:"events" json:"events,omitempty"`
	// Config of the type. webhook: url (required), secret, timeout (Go
	// duration, default 10s), headers (map), max_attempts (default 10),
	// backoff (default 1s, doubling up to 5m). nats: url (default
	// nats://127.0.0.1:4222), subject ("{name}" is the event name; default
	// tasker.events.{name}), stream (created if set), timeout, max_attempts,
	// backoff. log: no config.
	Config map[string]any `yaml:"config" json:"config,omitempty"`
}

type subscriptionsFile struct {
	Subscriptions []Subscription `yaml:"subscriptions"`
}

// LoadSubscriptions reads a YAML subscriptions file:
//
//	subscriptions:
//	  - name: ops-webhook
//	    type: webhook
//	    events: ["task.failed", "step.max_retries_reached"]
//	    config: {url: https://ops.example.com/hooks/tasker, secret: ${TASKER_WEBHOOK_SECRET}}
//
// ${VAR} in values is replaced from the environment.
func LoadSubscriptions(file string) ([]Subscription, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	data = []byte(os.Expand(string(data), func(k string) string { return os.Getenv(k) }))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f subscriptionsFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("subscriptions %s: %w (keys: subscriptions[].name, type, enabled, events, config)", file, err)
	}
	if err := ValidateSubscriptions(f.Subscriptions); err != nil {
		return nil, fmt.Errorf("subscriptions %s: %w", file, err)
	}
	return f.Subscriptions, nil
}

// ValidateSubscriptions checks names, types, event patterns and configs.
func ValidateSubscriptions(subs []Subscription) error {
	seen := map[string]bool{}
	for i, s := range subs {
		where := fmt.Sprintf("subscription #%d", i+1)
		if s.Name != "" {
			where = fmt.Sprintf("subscription %q", s.Name)
		}
		switch {
		case s.Name == "":
			return fmt.Errorf("%s: name is missing", where)
		case seen[s.Name]:
			return fmt.Errorf("%s is declared twice: names must be unique", where)
		case s.Type != "log" && s.Type != "webhook" && s.Type != "nats":
			return fmt.Errorf("%s: type %q is unknown: use log, webhook or nats", where, s.Type)
		}
		seen[s.Name] = true
		for _, p := range s.Events {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("%s: event pattern %q is malformed: %w", where, p, err)
			}
		}
		if s.Type != "log" {
			if _, err := durableTarget(s); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

func (s Subscription) enabled() bool { return s.Enabled == nil || *s.Enabled }

func (s Subscription) matches(name string) bool {
	if len(s.Events) == 0 {
		return true
	}
	for _, p := range s.Events {
		if ok, _ := path.Match(p, name); ok || p == "*" {
			return true
		}
	}
	return false
}

func configDuration(cfg map[string]any, key string) (time.Duration, error) {
	switch v := cfg[key].(type) {
	case nil:
		return 0, nil
	case string:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("config.%s %q is not a positive duration: use a value such as \"10s\"", key, v)
		}
		return d, nil
	case int:
		return time.Duration(v) * time.Second, nil
	case float64:
		return time.Duration(v * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("config.%s must be a duration such as \"10s\"", key)
}

// durableTarget builds the sender of a webhook or nats subscription.
func durableTarget(s Subscription) (delivery.Target, error) {
	if s.Type == "nats" {
		return natsTarget(s)
	}
	return webhookTarget(s)
}

func natsTarget(s Subscription) (delivery.Target, error) {
	cfg := s.Config
	for k := range cfg {
		switch k {
		case "url", "subject", "stream", "timeout", "max_attempts", "backoff":
		default:
			return delivery.Target{}, fmt.Errorf("config.%s is unknown: use url, subject, stream, timeout, max_attempts, backoff", k)
		}
	}
	n := &delivery.NATS{}
	n.URL, _ = cfg["url"].(string)
	n.Subject, _ = cfg["subject"].(string)
	n.Stream, _ = cfg["stream"].(string)
	if n.URL != "" && !strings.HasPrefix(n.URL, "nats://") && !strings.HasPrefix(n.URL, "tls://") {
		return delivery.Target{}, errors.New("config.url must be a nats:// or tls:// URL")
	}
	var err error
	if n.Timeout, err = configDuration(cfg, "timeout"); err != nil {
		return delivery.Target{}, err
	}
	t := delivery.Target{Sender: n}
	if err := limits(cfg, &t); err != nil {
		return delivery.Target{}, err
	}
	return t, nil
}

// limits reads max_attempts and backoff.
func limits(cfg map[string]any, t *delivery.Target) error {
	if v, ok := cfg["max_attempts"]; ok {
		n, ok := v.(int)
		if !ok || n < 1 {
			return errors.New("config.max_attempts must be a whole number, 1 or more")
		}
		t.MaxAttempts = n
	}
	var err error
	t.Backoff, err = configDuration(cfg, "backoff")
	return err
}

func webhookTarget(s Subscription) (delivery.Target, error) {
	cfg := s.Config
	url, _ := cfg["url"].(string)
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return delivery.Target{}, errors.New("config.url must be an http(s) URL")
	}
	for k := range cfg {
		switch k {
		case "url", "secret", "timeout", "headers", "max_attempts", "backoff":
		default:
			return delivery.Target{}, fmt.Errorf("config.%s is unknown: use url, secret, timeout, headers, max_attempts, backoff", k)
		}
	}
	wh := &delivery.Webhook{URL: url, Headers: map[string]string{}}
	wh.Secret, _ = cfg["secret"].(string)
	var err error
	if wh.Timeout, err = configDuration(cfg, "timeout"); err != nil {
		return delivery.Target{}, err
	}
	if h, ok := cfg["headers"].(map[string]any); ok {
		for k, v := range h {
			wh.Headers[k] = fmt.Sprint(v)
		}
	}
	t := delivery.Target{Sender: wh}
	if err := limits(cfg, &t); err != nil {
		return delivery.Target{}, err
	}
	return t, nil
}

// durable returns the enabled webhook and nats subscriptions.
func (c *Client) durable() []Subscription {
	var out []Subscription
	for _, s := range c.cfg.Subscriptions {
		if s.enabled() && (s.Type == "webhook" || s.Type == "nats") {
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
			if !s.matches(ev.Name) {
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
		if !s.enabled() {
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
				c.logger.InfoContext(ctx, "tasker event", attrs...)
				return nil
			}, s.Events...))
		case "webhook", "nats":
			t, err := durableTarget(s)
			if err != nil {
				c.logger.Error("tasker: subscription not started", "subscription", s.Name, "error", err)
				continue
			}
			targets[s.Name] = t
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
func (c *Client) DeadLetters(ctx context.Context, subscription string, limit int) ([]*taskerdriver.OutboxMessage, error) {
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
