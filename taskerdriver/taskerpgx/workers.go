package taskerpgx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func scanWorker(r pgx.Row) (*taskertype.Worker, error) {
	var w taskertype.Worker
	var kind string
	var handlers, namespaces, queues []byte
	if err := r.Scan(&w.ID, &kind, &w.Host, &w.PID, &w.Version, &handlers, &namespaces, &queues, &w.StartedAt, &w.LastSeenAt); err != nil {
		return nil, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	w.Kind = taskertype.WorkerKind(kind)
	w.StartedAt, w.LastSeenAt = w.StartedAt.UTC(), w.LastSeenAt.UTC()
	return &w, driverkit.ScannedWorker(&w, handlers, namespaces, queues)
}

func (e *executor) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	handlers, namespaces, queues, err := driverkit.WorkerNames(p)
	if err != nil {
		return err
	}
	_, err = e.q.Exec(ctx, `INSERT INTO tasker_workers (`+driverkit.WorkerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, coalesce($9::timestamptz, $10::timestamptz), $10)
		ON CONFLICT (worker_id) DO UPDATE SET kind = excluded.kind, host = excluded.host, pid = excluded.pid,
			version = excluded.version, handlers = excluded.handlers, namespaces = excluded.namespaces,
			queues = CASE WHEN $11 THEN tasker_workers.queues ELSE excluded.queues END, started_at = coalesce($9::timestamptz, tasker_workers.started_at),
			last_seen_at = greatest(tasker_workers.last_seen_at, excluded.last_seen_at)`,
		p.ID, string(p.Kind), p.Host, p.PID, p.Version, handlers, namespaces, queues, nullTime(p.StartedAt), p.Now.UTC(), p.KeepQueues)
	if err != nil {
		return valueRejected(fmt.Errorf("postgres: worker seen: %w", err))
	}
	return nil
}

func (e *executor) WorkerList(ctx context.Context, p *taskerdriver.WorkerListParams) ([]*taskertype.Worker, error) {
	out, err := queryAll(ctx, e.q, `SELECT `+driverkit.WorkerColumns+` FROM tasker_workers WHERE last_seen_at >= $1
		ORDER BY last_seen_at DESC, worker_id LIMIT $2`, []any{p.Since.UTC(), driverkit.Limit(p.Limit, driverkit.DefaultWorkerListLimit)}, scanWorker)
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: worker list: %w", err))
	}
	return out, nil
}

func (e *executor) WorkerDeleteStale(ctx context.Context, p *taskerdriver.WorkerDeleteStaleParams) (int, error) {
	tag, err := e.q.Exec(ctx, `DELETE FROM tasker_workers WHERE last_seen_at < $1`, p.Before.UTC())
	if err != nil {
		return 0, valueRejected(fmt.Errorf("postgres: worker delete stale: %w", err))
	}
	return int(tag.RowsAffected()), nil
}
