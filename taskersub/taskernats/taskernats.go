package taskernats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tasker-go/tasker/taskersub"
)

func init() { taskersub.RegisterType(taskersub.TypeNATS, target) }

// target builds the sender of a nats subscription.
func target(cfg map[string]any) (taskersub.Target, error) {
	for k := range cfg {
		switch k {
		case "url", "subject", "stream", "timeout", "max_attempts", "backoff":
		default:
			return taskersub.Target{}, fmt.Errorf("config.%s is unknown: use url, subject, stream, timeout, max_attempts, backoff", k)
		}
	}
	n := &Sender{}
	n.URL, _ = cfg["url"].(string)
	n.Subject, _ = cfg["subject"].(string)
	n.Stream, _ = cfg["stream"].(string)
	if n.URL != "" && !strings.HasPrefix(n.URL, "nats://") && !strings.HasPrefix(n.URL, "tls://") {
		return taskersub.Target{}, errors.New("config.url must be a nats:// or tls:// URL")
	}
	var err error
	if n.Timeout, err = taskersub.ConfigDuration(cfg, "timeout"); err != nil {
		return taskersub.Target{}, err
	}
	t := taskersub.Target{Sender: n}
	if err := taskersub.ConfigLimits(cfg, &t); err != nil {
		return taskersub.Target{}, err
	}
	return t, nil
}

// Sender publishes each message to a NATS JetStream subject and waits for the
// stream's acknowledgement. The message id (Nats-Msg-Id) is the delivery id,
// so the stream drops a duplicate sent again within its duplicate window.
type Sender struct {
	// URL of the server. Defaults to nats://127.0.0.1:4222.
	URL string
	// Subject to publish to; "{name}" is replaced by the event name.
	// Defaults to "tasker.events.{name}".
	Subject string
	// Stream, when set, is created (or updated) to capture the subjects.
	Stream string
	// Timeout of one publish. Defaults to 10s.
	Timeout time.Duration

	mu sync.Mutex
	nc *nats.Conn
	js jetstream.JetStream
}

func (n *Sender) subject(event string) string {
	return strings.ReplaceAll(cmp.Or(n.Subject, "tasker.events.{name}"), "{name}", event)
}

func (n *Sender) connect(ctx context.Context) (jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.js != nil && n.nc.IsConnected() {
		return n.js, nil
	}
	if n.nc != nil {
		n.nc.Close()
		n.nc, n.js = nil, nil
	}
	nc, err := nats.Connect(cmp.Or(n.URL, nats.DefaultURL), nats.Name("tasker"), nats.Timeout(cmp.Or(n.Timeout, 10*time.Second)))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", cmp.Or(n.URL, nats.DefaultURL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if n.Stream != "" {
		subject := strings.ReplaceAll(cmp.Or(n.Subject, "tasker.events.{name}"), "{name}", ">")
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: n.Stream, Subjects: []string{subject}}); err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats stream %s: %w", n.Stream, err)
		}
	}
	n.nc, n.js = nc, js
	return js, nil
}

// Send implements taskersub.Sender.
func (n *Sender) Send(ctx context.Context, m *taskersub.Message) error {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(n.Timeout, 10*time.Second))
	defer cancel()
	js, err := n.connect(ctx)
	if err != nil {
		return err
	}
	body, err := taskersub.Body(m)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(n.subject(m.EventName))
	msg.Data = body
	msg.Header.Set("X-Tasker-Event", m.EventName)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.DeliveryID())); err != nil {
		return fmt.Errorf("nats publish %s: %w", msg.Subject, err)
	}
	return nil
}

// Close closes the connection.
func (n *Sender) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc, n.js = nil, nil
	}
	return nil
}
