package taskersub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// The types of durable subscriptions this module provides.
const (
	// TypeWebhook is the type of webhook subscriptions (built in).
	TypeWebhook = "webhook"
	// TypeNATS is the type of NATS JetStream subscriptions, registered by
	// package taskersub/taskernats.
	TypeNATS = "nats"
)

// Message is one event for one durable subscription, as the outbox holds
// it (and as tasker.Client.DeadLetters lists it): the one outbox message
// type, taskertype.OutboxMessage, which the drivers read too.
type Message = taskertype.OutboxMessage

// Body returns the JSON body senders send for m:
// {"id": "<subscription>-<outbox id>", "name": "...", "payload": {...}}.
func Body(m *Message) ([]byte, error) {
	return json.Marshal(map[string]any{"id": m.DeliveryID(), "name": m.EventName, "payload": m.Payload})
}

// Sender sends one message to one subscriber; an error makes the attempt
// fail (it is retried with backoff). A Sender that is an io.Closer is
// closed when the workers stop.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// Target is a durable subscription ready to deliver: its sender and retry
// limits (zero: 10 attempts, 1s backoff doubling up to 5m).
type Target struct {
	Sender      Sender
	MaxAttempts int
	Backoff     time.Duration
}

// TypeFunc builds the Target of a subscription of its type from the
// subscription's config, or says what is wrong with the config.
type TypeFunc func(config map[string]any) (Target, error)

var (
	typesMu sync.RWMutex
	types   = map[string]TypeFunc{TypeWebhook: webhookTarget}
)

// RegisterType makes a durable subscription type available, as
// database/sql.Register does for drivers; packages such as taskernats call
// it from init. It panics if name is empty, "log", or already registered.
func RegisterType(name string, build TypeFunc) {
	typesMu.Lock()
	defer typesMu.Unlock()
	if name == "" || name == "log" || build == nil {
		panic("taskersub: RegisterType: invalid type " + strconv.Quote(name))
	}
	if _, dup := types[name]; dup {
		panic("taskersub: RegisterType: type " + strconv.Quote(name) + " is already registered")
	}
	types[name] = build
}

func lookupType(name string) TypeFunc {
	typesMu.RLock()
	defer typesMu.RUnlock()
	return types[name]
}

// ConfigDuration reads config[key] as a positive duration: a Go duration
// string such as "10s", or a number of seconds. Absent is zero.
func ConfigDuration(config map[string]any, key string) (time.Duration, error) {
	switch v := config[key].(type) {
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

// ConfigLimits reads the retry limits every durable type accepts,
// max_attempts and backoff, into t.
func ConfigLimits(config map[string]any, t *Target) error {
	if v, ok := config["max_attempts"]; ok {
		n, ok := v.(int)
		if !ok || n < 1 {
			return errors.New("config.max_attempts must be a whole number, 1 or more")
		}
		t.MaxAttempts = n
	}
	var err error
	t.Backoff, err = ConfigDuration(config, "backoff")
	return err
}
