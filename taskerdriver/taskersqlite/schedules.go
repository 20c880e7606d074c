package taskersqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const scheduleCols = driverkit.ScheduleColumns

func scanSchedule(r rowScanner) (*taskertype.Schedule, error) {
	var s taskertype.Schedule
	var ctxJSON string
	var next, created, updated int64
	var last, lastTask sql.NullInt64
	if err := r.Scan(&s.ID, &s.Name, &s.Namespace, &s.TaskName, &s.Version, &s.Cron, &s.TimeZone, &ctxJSON, &s.Overlap, &s.CatchUp,
		&s.CatchUpLimit, &s.Paused, &s.Source, &next, &last, &lastTask, &created, &updated); err != nil {
		return nil, driverkit.NoRows(err, sql.ErrNoRows)
	}
	s.Context = []byte(ctxJSON)
	s.NextFireAt = fromUS(sql.NullInt64{Int64: next, Valid: true})
	s.LastFireAt = fromUS(last)
	s.LastTaskID = lastTask.Int64
	s.CreatedAt = fromUS(sql.NullInt64{Int64: created, Valid: true})
	s.UpdatedAt = fromUS(sql.NullInt64{Int64: updated, Valid: true})
	return &s, nil
}

func scheduleNameTaken(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), "tasker_schedules.name")
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (e *executor) ScheduleInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleInsertParams) ([]*taskertype.Schedule, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskertype.Schedule, error) {
		return driverkit.InsertSchedules(driverName, ps, func(n *taskertype.Schedule) (*taskertype.Schedule, error) {
			return scanSchedule(x.w.QueryRowContext(ctx, `INSERT INTO tasker_schedules (name, namespace, task_name, version, cron, time_zone,
				context, overlap, catch_up, catch_up_limit, paused, source, next_fire_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+scheduleCols,
				n.Name, n.Namespace, n.TaskName, n.Version, n.Cron, n.TimeZone, string(n.Context), n.Overlap, n.CatchUp, n.CatchUpLimit,
				n.Paused, n.Source, us(n.NextFireAt), us(n.CreatedAt), us(n.UpdatedAt)))
		}, scheduleNameTaken)
	})
}

func (e *executor) ScheduleUpdateMany(ctx context.Context, ps []*taskerdriver.ScheduleUpdateParams) ([]*taskertype.Schedule, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]*taskertype.Schedule, error) {
		return driverkit.ScheduleUpdateMany(driverName, ps, func(id int64) (*taskertype.Schedule, error) {
			return scanSchedule(x.w.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM tasker_schedules WHERE schedule_id = ?`, id))
		}, func(s *taskertype.Schedule) (*taskertype.Schedule, error) {
			return scanSchedule(x.w.QueryRowContext(ctx, `UPDATE tasker_schedules SET namespace = ?, task_name = ?, version = ?, cron = ?,
				time_zone = ?, context = ?, overlap = ?, catch_up = ?, catch_up_limit = ?, paused = ?, source = ?, next_fire_at = ?,
				last_fire_at = ?, last_task_id = ?, updated_at = ? WHERE schedule_id = ? RETURNING `+scheduleCols,
				s.Namespace, s.TaskName, s.Version, s.Cron, s.TimeZone, string(s.Context), s.Overlap, s.CatchUp, s.CatchUpLimit, s.Paused,
				s.Source, us(s.NextFireAt), nullUS(s.LastFireAt), nullID(s.LastTaskID), us(s.UpdatedAt), s.ID))
		})
	})
}

func (e *executor) ScheduleList(ctx context.Context, p *taskerdriver.ScheduleListParams) ([]*taskertype.Schedule, error) {
	var where, order string
	var args []any
	switch {
	case len(p.Names) > 0:
		where, order = `name IN (SELECT value FROM json_each(?))`, `name`
		args = append(args, driverkit.NamesJSON(p.Names))
	case !p.DueAt.IsZero():
		where, order = `paused = 0 AND next_fire_at <= ?`, `next_fire_at, schedule_id`
		args = append(args, us(p.DueAt))
	case p.Active:
		where, order = `paused = 0`, `next_fire_at, schedule_id`
	default:
		where, order = `1`, `name`
	}
	q := `SELECT ` + scheduleCols + ` FROM tasker_schedules WHERE ` + where + ` ORDER BY ` + order
	if p.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, p.Limit)
	}
	out, err := queryAll(ctx, e.r, q, args, scanSchedule)
	if err != nil {
		return nil, fmt.Errorf("sqlite: schedule list: %w", err)
	}
	return out, nil
}

func (e *executor) ScheduleDeleteMany(ctx context.Context, names []string) (int, error) {
	return e.execCount(ctx, "schedule delete", `DELETE FROM tasker_schedules WHERE name IN (SELECT value FROM json_each(?))`, driverkit.NamesJSON(names))
}

func (e *executor) ScheduleFireInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleFireParams) ([]bool, error) {
	return driverkit.Write(ctx, e.write, func(x *executor) ([]bool, error) {
		return driverkit.InsertFires(driverName, ps, func(p *taskerdriver.ScheduleFireParams) (bool, error) {
			res, err := x.w.ExecContext(ctx, `INSERT INTO tasker_schedule_fires (schedule_id, fire_at, created_at) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, p.ScheduleID, us(p.FireAt), us(p.Now))
			if err != nil {
				return false, err
			}
			n, err := res.RowsAffected()
			return n == 1, err
		})
	})
}

func (e *executor) ScheduleFirePrune(ctx context.Context, p *taskerdriver.ScheduleFirePruneParams) (int, error) {
	return e.execCount(ctx, "schedule fire prune", `DELETE FROM tasker_schedule_fires WHERE fire_at < ?`, us(p.Before))
}
