package taskertype

import (
	"encoding/json"
	"strconv"
	"time"
)

// OutboxMessage is one event for one durable subscription, as the outbox
// holds it: what a driver reads (taskerdriver), a sender sends
// (taskersub.Message) and tasker.Client.DeadLetters lists.
type OutboxMessage struct {
	ID            int64           `json:"id"`
	Subscription  string          `json:"subscription"`
	EventName     string          `json:"event_name"`
	Payload       json.RawMessage `json:"payload"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	DeliveredAt   time.Time       `json:"delivered_at,omitzero"`
}

// DeliveryID is the message's stable delivery id, "<subscription>-<id>": a
// receiver drops a message it has seen with this id.
func (m *OutboxMessage) DeliveryID() string {
	return m.Subscription + "-" + strconv.FormatInt(m.ID, 10)
}
