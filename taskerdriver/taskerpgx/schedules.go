package taskerpgx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const scheduleCols = driverkit.ScheduleColumns

func scanSchedule(r pgx.Row) (*taskertype.Schedule, error) {
	var s taskertype.Schedule
	var ctxJSON []byte
	var last *time.Time
	var lastTask *int64
	if err := r.Scan(&s.ID, &s.Name, &s.Namespace, &s.TaskName, &s.Version, &s.Cron, &s.TimeZone, &ctxJSON, &s.Overlap, &s.CatchUp,
		&s.CatchUpLimit, &s.Paused, &s.Source, &s.NextFireAt, &last, &lastTask, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	s.Context = rawJSON(ctxJSON)
	s.NextFireAt, s.CreatedAt, s.UpdatedAt = s.NextFireAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.LastFireAt = fromPGPtr(last)
	if lastTask != nil {
		s.LastTaskID = *lastTask
	}
	return &s, nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func (e *executor) ScheduleInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleInsertParams) ([]*taskertype.Schedule, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskertype.Schedule, error) {
		return driverkit.InsertSchedules(driverName, ps, func(n *taskertype.Schedule) (*taskertype.Schedule, error) {
			return scanSchedule(x.q.QueryRow(ctx, `INSERT INTO tasker_schedules (name, namespace, task_name, version, cron, time_zone,
				context, overlap, catch_up, catch_up_limit, paused, source, next_fire_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING `+scheduleCols,
				n.Name, n.Namespace, n.TaskName, n.Version, n.Cron, n.TimeZone, string(n.Context), n.Overlap, n.CatchUp, n.CatchUpLimit,
				n.Paused, n.Source, n.NextFireAt, n.CreatedAt, n.UpdatedAt))
		}, func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "tasker_schedules_name_key"
		})
	})
}

func (e *executor) ScheduleUpdateMany(ctx context.Context, ps []*taskerdriver.ScheduleUpdateParams) ([]*taskertype.Schedule, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskertype.Schedule, error) {
		return driverkit.ScheduleUpdateMany(driverName, ps, func(id int64) (*taskertype.Schedule, error) {
			return scanSchedule(x.q.QueryRow(ctx, `SELECT `+scheduleCols+` FROM tasker_schedules WHERE schedule_id = $1 FOR UPDATE`, id))
		}, func(s *taskertype.Schedule) (*taskertype.Schedule, error) {
			return scanSchedule(x.q.QueryRow(ctx, `UPDATE tasker_schedules SET namespace = $1, task_name = $2, version = $3, cron = $4,
				time_zone = $5, context = $6::jsonb, overlap = $7, catch_up = $8, catch_up_limit = $9, paused = $10, source = $11,
				next_fire_at = $12, last_fire_at = $13, last_task_id = $14, updated_at = $15 WHERE schedule_id = $16 RETURNING `+scheduleCols,
				s.Namespace, s.TaskName, s.Version, s.Cron, s.TimeZone, string(s.Context), s.Overlap, s.CatchUp, s.CatchUpLimit, s.Paused,
				s.Source, s.NextFireAt, nullTime(s.LastFireAt), nullID(s.LastTaskID), s.UpdatedAt, s.ID))
		})
	})
}

func (e *executor) ScheduleList(ctx context.Context, p *taskerdriver.ScheduleListParams) ([]*taskertype.Schedule, error) {
	var where, order string
	var args sqlArgs
	switch {
	case len(p.Names) > 0:
		where, order = `name = ANY(`+args.add(p.Names)+`)`, `name`
	case !p.DueAt.IsZero():
		where, order = `NOT paused AND next_fire_at <= `+args.add(p.DueAt.UTC()), `next_fire_at, schedule_id`
	case p.Active:
		where, order = `NOT paused`, `next_fire_at, schedule_id`
	default:
		where, order = `true`, `name`
	}
	q := `SELECT ` + scheduleCols + ` FROM tasker_schedules WHERE ` + where + ` ORDER BY ` + order
	if p.Limit > 0 {
		q += ` LIMIT ` + args.add(p.Limit)
	}
	out, err := queryAll(ctx, e.q, q, args, scanSchedule)
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: schedule list: %w", err))
	}
	return out, nil
}

func (e *executor) ScheduleDeleteMany(ctx context.Context, names []string) (int, error) {
	tag, err := e.q.Exec(ctx, `DELETE FROM tasker_schedules WHERE name = ANY($1)`, names)
	if err != nil {
		return 0, valueRejected(fmt.Errorf("postgres: schedule delete: %w", err))
	}
	return int(tag.RowsAffected()), nil
}

func (e *executor) ScheduleFireInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleFireParams) ([]bool, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]bool, error) {
		return driverkit.InsertFires(driverName, ps, func(p *taskerdriver.ScheduleFireParams) (bool, error) {
			tag, err := x.q.Exec(ctx, `INSERT INTO tasker_schedule_fires (schedule_id, fire_at, created_at) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, p.ScheduleID, p.FireAt.UTC(), p.Now.UTC())
			return tag.RowsAffected() == 1, err
		})
	})
}

func (e *executor) ScheduleFirePrune(ctx context.Context, p *taskerdriver.ScheduleFirePruneParams) (int, error) {
	tag, err := e.q.Exec(ctx, `DELETE FROM tasker_schedule_fires WHERE fire_at < $1`, p.Before.UTC())
	if err != nil {
		return 0, valueRejected(fmt.Errorf("postgres: schedule fire prune: %w", err))
	}
	return int(tag.RowsAffected()), nil
}
