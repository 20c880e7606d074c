package taskersqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const outboxCols = driverkit.OutboxColumns

func scanOutbox(r rowScanner) (*taskertype.OutboxMessage, error) {
	var m taskertype.OutboxMessage
	var payload string
	var next, created int64
	var delivered sql.NullInt64
	if err := r.Scan(&m.ID, &m.Subscription, &m.EventName, &payload, &m.State, &m.Attempts, &next, &m.LastError, &created, &delivered); err != nil {
		return nil, err
	}
	m.Payload = json.RawMessage(payload)
	m.NextAttemptAt = time.UnixMicro(next).UTC()
	m.CreatedAt = time.UnixMicro(created).UTC()
	m.DeliveredAt = fromUS(delivered)
	return &m, nil
}

func (e *executor) OutboxInsert(ctx context.Context, ps []*taskerdriver.OutboxInsertParams) error {
	if len(ps) == 0 {
		return nil
	}
	return e.write(ctx, func(x *executor) error {
		for _, p := range ps {
			now := us(p.Now)
			if _, err := x.w.ExecContext(ctx, `INSERT INTO tasker_event_outbox (subscription, event_name, payload, next_attempt_at, created_at)
				VALUES (?, ?, ?, ?, ?)`, p.Subscription, p.EventName, string(p.Payload), now, now); err != nil {
				return fmt.Errorf("sqlite: outbox insert: %w", err)
			}
		}
		x.topics = append(x.topics, taskerdriver.TopicOutbox)
		return nil
	})
}

func (e *executor) OutboxClaim(ctx context.Context, p *taskerdriver.OutboxClaimParams) ([]*taskertype.OutboxMessage, error) {
	var out []*taskertype.OutboxMessage
	err := e.write(ctx, func(x *executor) error {
		subs, err := jsonListOrNull(p.Subscriptions)
		if err != nil {
			return err
		}
		now := us(p.Now)
		out, err = queryAll(ctx, x.w, `UPDATE tasker_event_outbox SET lease_owner = ?, lease_expires_at = ?
			WHERE id IN (SELECT id FROM tasker_event_outbox WHERE state = 'pending' AND next_attempt_at <= ?
				AND (lease_expires_at IS NULL OR lease_expires_at < ?)
				AND (? = 'null' OR subscription IN (SELECT value FROM json_each(?)))
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING `+outboxCols, []any{p.Owner, us(p.LeaseExpiresAt), now, now, string(subs), string(subs), p.Limit}, scanOutbox)
		if err != nil {
			return fmt.Errorf("sqlite: outbox claim: %w", err)
		}
		return nil
	})
	return out, err
}

func (e *executor) OutboxFinish(ctx context.Context, p *taskerdriver.OutboxFinishParams) error {
	return e.write(ctx, func(x *executor) error {
		state := "pending"
		var delivered any
		switch {
		case p.Delivered:
			state, delivered = "delivered", us(p.Now)
		case p.Dead:
			state = "dead"
		}
		res, err := x.w.ExecContext(ctx, `UPDATE tasker_event_outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?,
			last_error = ?, delivered_at = ?, lease_owner = NULL, lease_expires_at = NULL
			WHERE id = ? AND lease_owner = ?`, state, us(p.NextAttemptAt), nullString(p.Error), delivered, p.ID, p.Owner)
		if err != nil {
			return fmt.Errorf("sqlite: outbox finish: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: outbox message %d", taskerdriver.ErrLeaseLost, p.ID)
		}
		return nil
	})
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *executor) OutboxList(ctx context.Context, p *taskerdriver.OutboxListParams) ([]*taskertype.OutboxMessage, error) {
	limit := driverkit.Limit(p.Limit, 100)
	out, err := queryAll(ctx, e.r, `SELECT `+outboxCols+` FROM tasker_event_outbox WHERE state = ? AND (? = '' OR subscription = ?)
		ORDER BY id DESC LIMIT ?`, []any{p.State, p.Subscription, p.Subscription, limit}, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("sqlite: outbox list: %w", err)
	}
	return out, nil
}

func (e *executor) OutboxReplay(ctx context.Context, p *taskerdriver.OutboxReplayParams) (int, error) {
	var n int
	err := e.write(ctx, func(x *executor) error {
		ids, err := jsonListOrNull(p.IDs)
		if err != nil {
			return err
		}
		res, err := x.w.ExecContext(ctx, `UPDATE tasker_event_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL
			WHERE state = 'dead' AND (? = 'null' OR id IN (SELECT value FROM json_each(?)))`, us(p.Now), string(ids), string(ids))
		if err != nil {
			return fmt.Errorf("sqlite: outbox replay: %w", err)
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		if n > 0 {
			x.topics = append(x.topics, taskerdriver.TopicOutbox)
		}
		return err
	})
	return n, err
}

// jsonListOrNull encodes a list for json_each, or "null" when it is empty
// (meaning: no filter).
func jsonListOrNull[T any](list []T) ([]byte, error) {
	if len(list) == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(list)
}
