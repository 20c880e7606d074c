package taskersqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func scanWorker(r rowScanner) (*taskertype.Worker, error) {
	var w taskertype.Worker
	var kind, handlers, namespaces, queues string
	var started, seen int64
	if err := r.Scan(&w.ID, &kind, &w.Host, &w.PID, &w.Version, &handlers, &namespaces, &queues, &started, &seen); err != nil {
		return nil, driverkit.NoRows(err, sql.ErrNoRows)
	}
	w.Kind = taskertype.WorkerKind(kind)
	w.StartedAt = time.UnixMicro(started).UTC()
	w.LastSeenAt = time.UnixMicro(seen).UTC()
	return &w, driverkit.ScannedWorker(&w, []byte(handlers), []byte(namespaces), []byte(queues))
}

func (e *executor) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	handlers, namespaces, queues, err := driverkit.WorkerNames(p)
	if err != nil {
		return err
	}
	return e.write(ctx, func(x *executor) error {
		_, err := x.w.ExecContext(ctx, `INSERT INTO tasker_workers (`+driverkit.WorkerColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, ?), ?)
			ON CONFLICT (worker_id) DO UPDATE SET kind = excluded.kind, host = excluded.host, pid = excluded.pid,
				version = excluded.version, handlers = excluded.handlers, namespaces = excluded.namespaces,
				queues = CASE WHEN ? THEN tasker_workers.queues ELSE excluded.queues END, started_at = coalesce(?, tasker_workers.started_at),
				last_seen_at = max(tasker_workers.last_seen_at, excluded.last_seen_at)`,
			p.ID, string(p.Kind), p.Host, p.PID, p.Version, string(handlers), string(namespaces), string(queues),
			nullUS(p.StartedAt), us(p.Now), us(p.Now), p.KeepQueues, nullUS(p.StartedAt))
		if err != nil {
			return fmt.Errorf("sqlite: worker seen: %w", err)
		}
		return nil
	})
}

func (e *executor) WorkerList(ctx context.Context, p *taskerdriver.WorkerListParams) ([]*taskertype.Worker, error) {
	out, err := queryAll(ctx, e.r, `SELECT `+driverkit.WorkerColumns+` FROM tasker_workers WHERE last_seen_at >= ?
		ORDER BY last_seen_at DESC, worker_id LIMIT ?`, []any{us(p.Since), driverkit.Limit(p.Limit, driverkit.DefaultWorkerListLimit)}, scanWorker)
	if err != nil {
		return nil, fmt.Errorf("sqlite: worker list: %w", err)
	}
	return out, nil
}

func (e *executor) WorkerDeleteStale(ctx context.Context, p *taskerdriver.WorkerDeleteStaleParams) (int, error) {
	return e.execCount(ctx, "worker delete stale", `DELETE FROM tasker_workers WHERE last_seen_at < ?`, us(p.Before))
}
