package taskerpgx

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const outboxCols = driverkit.OutboxColumns

func scanOutbox(r pgx.Row) (*taskertype.OutboxMessage, error) {
	var m taskertype.OutboxMessage
	var payload []byte
	var delivered *time.Time
	if err := r.Scan(&m.ID, &m.Subscription, &m.EventName, &payload, &m.State, &m.Attempts, &m.NextAttemptAt, &m.LastError, &m.CreatedAt, &delivered); err != nil {
		return nil, err
	}
	m.Payload = payload
	m.NextAttemptAt = m.NextAttemptAt.UTC()
	m.CreatedAt = m.CreatedAt.UTC()
	m.DeliveredAt = fromPGPtr(delivered)
	return &m, nil
}

func (e *executor) OutboxInsert(ctx context.Context, ps []*taskerdriver.OutboxInsertParams) error {
	if len(ps) == 0 {
		return nil
	}
	subs, names, payloads := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		subs[i], names[i], payloads[i] = p.Subscription, p.EventName, string(p.Payload)
	}
	now := ps[0].Now.UTC()
	return e.write(ctx, func(x *executor) error {
		if _, err := x.q.Exec(ctx, `INSERT INTO tasker_event_outbox (subscription, event_name, payload, next_attempt_at, created_at)
			SELECT s, n, p::jsonb, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(s, n, p)`, subs, names, payloads, now); err != nil {
			return fmt.Errorf("postgres: outbox insert: %w", err)
		}
		return x.Notify(ctx, taskerdriver.TopicOutbox)
	})
}

func (e *executor) OutboxClaim(ctx context.Context, p *taskerdriver.OutboxClaimParams) ([]*taskertype.OutboxMessage, error) {
	var subs []string
	if len(p.Subscriptions) > 0 {
		subs = p.Subscriptions
	}
	out, err := queryAll(ctx, e.q, `WITH due AS (
			SELECT id FROM tasker_event_outbox WHERE state = 'pending' AND next_attempt_at <= $1
				AND (lease_expires_at IS NULL OR lease_expires_at < $1) AND ($5::text[] IS NULL OR subscription = ANY($5))
			ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE tasker_event_outbox o SET lease_owner = $3, lease_expires_at = $4 FROM due WHERE o.id = due.id
		RETURNING o.id, o.subscription, o.event_name, o.payload, o.state, o.attempts, o.next_attempt_at,
			coalesce(o.last_error, ''), o.created_at, o.delivered_at`, []any{p.Now.UTC(), p.Limit, p.Owner, p.LeaseExpiresAt.UTC(), subs}, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("postgres: outbox claim: %w", err)
	}
	return out, nil
}

func (e *executor) OutboxFinish(ctx context.Context, p *taskerdriver.OutboxFinishParams) error {
	state := "pending"
	var delivered *time.Time
	now := p.Now.UTC()
	switch {
	case p.Delivered:
		state, delivered = "delivered", &now
	case p.Dead:
		state = "dead"
	}
	var lastErr *string
	if p.Error != "" {
		lastErr = &p.Error
	}
	tag, err := e.q.Exec(ctx, `UPDATE tasker_event_outbox SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
		last_error = $3, delivered_at = $4, lease_owner = NULL, lease_expires_at = NULL WHERE id = $5 AND lease_owner = $6`,
		state, pgTime(p.NextAttemptAt), lastErr, delivered, p.ID, p.Owner)
	if err != nil {
		return valueRejected(fmt.Errorf("postgres: outbox finish: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: outbox message %d", taskerdriver.ErrLeaseLost, p.ID)
	}
	return nil
}

func (e *executor) OutboxList(ctx context.Context, p *taskerdriver.OutboxListParams) ([]*taskertype.OutboxMessage, error) {
	limit := driverkit.Limit(p.Limit, 100)
	out, err := queryAll(ctx, e.q, `SELECT `+outboxCols+` FROM tasker_event_outbox WHERE state = $1 AND ($2 = '' OR subscription = $2)
		ORDER BY id DESC LIMIT $3`, []any{p.State, p.Subscription, limit}, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("postgres: outbox list: %w", err)
	}
	return out, nil
}

func (e *executor) OutboxReplay(ctx context.Context, p *taskerdriver.OutboxReplayParams) (int, error) {
	var ids []int64
	if len(p.IDs) > 0 {
		ids = p.IDs
	}
	var n int
	err := e.write(ctx, func(x *executor) error {
		tag, err := x.q.Exec(ctx, `UPDATE tasker_event_outbox SET state = 'pending', attempts = 0, next_attempt_at = $1, last_error = NULL
			WHERE state = 'dead' AND ($2::bigint[] IS NULL OR id = ANY($2))`, p.Now.UTC(), ids)
		if err != nil {
			return fmt.Errorf("postgres: outbox replay: %w", err)
		}
		n = int(tag.RowsAffected())
		if n > 0 {
			return x.Notify(ctx, taskerdriver.TopicOutbox)
		}
		return nil
	})
	return n, err
}
