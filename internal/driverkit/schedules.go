package driverkit

import (
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// ScheduleColumns are the columns of tasker_schedules every schedule query
// selects, in the order the drivers scan them.
const ScheduleColumns = `schedule_id, name, namespace, task_name, version, cron, time_zone, context, overlap, catch_up,
	catch_up_limit, paused, source, next_fire_at, last_fire_at, last_task_id, created_at, updated_at`

// ScheduleNameTaken is the error of a ScheduleInsertMany whose name a
// schedule has.
func ScheduleNameTaken(name string) error {
	return fmt.Errorf("%w: a schedule named %q", taskerdriver.ErrAlreadyExists, name)
}

// InsertSchedules is ScheduleInsertMany's procedure: insert writes one
// new schedule (NewSchedule of its params) and returns it as stored; an
// error that taken recognises as the name's uniqueness is
// ScheduleNameTaken; the driver names its errors with driver.
func InsertSchedules(driver string, ps []*taskerdriver.ScheduleInsertParams, insert func(n *taskertype.Schedule) (*taskertype.Schedule, error),
	taken func(error) bool,
) ([]*taskertype.Schedule, error) {
	out := make([]*taskertype.Schedule, 0, len(ps))
	for _, p := range ps {
		s, err := insert(NewSchedule(p))
		if taken(err) {
			return nil, ScheduleNameTaken(p.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: schedule insert: %w", driver, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// NewSchedule is the row ScheduleInsertMany stores for p.
func NewSchedule(p *taskerdriver.ScheduleInsertParams) *taskertype.Schedule {
	s := &taskertype.Schedule{Name: p.Name, Paused: p.Paused, NextFireAt: p.NextFireAt.UTC(), CreatedAt: p.Now.UTC(), UpdatedAt: p.Now.UTC()}
	defineSchedule(s, &p.ScheduleDefinition)
	return s
}

func defineSchedule(s *taskertype.Schedule, d *taskerdriver.ScheduleDefinition) {
	s.Namespace, s.TaskName, s.Version = d.Namespace, d.TaskName, d.Version
	s.Cron, s.TimeZone, s.Context = d.Cron, d.TimeZone, d.Context
	s.Overlap, s.CatchUp, s.CatchUpLimit, s.Source = d.Overlap, d.CatchUp, d.CatchUpLimit, d.Source
}

// ScheduleUpdateMany is Executor.ScheduleUpdateMany, in the driver's
// transaction: get reads a schedule by id (locking it where the database
// locks rows; ErrNotFound when there is none), put writes its changed row
// and returns it as stored; the driver names its errors with driver.
func ScheduleUpdateMany(driver string, ps []*taskerdriver.ScheduleUpdateParams, get func(id int64) (*taskertype.Schedule, error),
	put func(s *taskertype.Schedule) (*taskertype.Schedule, error),
) ([]*taskertype.Schedule, error) {
	out, err := updateSchedules(ps, get, put)
	if err != nil {
		return nil, fmt.Errorf("%s: schedule update: %w", driver, err)
	}
	return out, nil
}

func updateSchedules(ps []*taskerdriver.ScheduleUpdateParams, get func(id int64) (*taskertype.Schedule, error),
	put func(s *taskertype.Schedule) (*taskertype.Schedule, error),
) ([]*taskertype.Schedule, error) {
	out := make([]*taskertype.Schedule, 0, len(ps))
	for _, p := range ps {
		s, err := get(p.ID)
		if err != nil {
			return nil, fmt.Errorf("schedule %d: %w", p.ID, err)
		}
		if !p.ExpectNextFireAt.IsZero() && !s.NextFireAt.Equal(p.ExpectNextFireAt) {
			return nil, fmt.Errorf("%w: schedule %q's next fire time is %s, not %s", taskerdriver.ErrStateConflict, s.Name,
				s.NextFireAt.UTC().Format("2006-01-02T15:04:05.999999Z"), p.ExpectNextFireAt.UTC().Format("2006-01-02T15:04:05.999999Z"))
		}
		if p.Definition != nil {
			defineSchedule(s, p.Definition)
		}
		if p.Paused != nil {
			s.Paused = *p.Paused
		}
		if !p.NextFireAt.IsZero() {
			s.NextFireAt = p.NextFireAt.UTC()
		}
		if !p.LastFireAt.IsZero() {
			s.LastFireAt = p.LastFireAt.UTC()
		}
		if p.LastTaskID != 0 {
			s.LastTaskID = p.LastTaskID
		}
		s.UpdatedAt = p.Now.UTC()
		if s, err = put(s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// InsertFires is ScheduleFireInsertMany's procedure: insert records one
// fire and reports whether it is new (false: the fire was recorded
// before); the driver names its errors with driver.
func InsertFires(driver string, ps []*taskerdriver.ScheduleFireParams, insert func(p *taskerdriver.ScheduleFireParams) (bool, error)) ([]bool, error) {
	out := make([]bool, len(ps))
	for i, p := range ps {
		added, err := insert(p)
		if err != nil {
			return nil, fmt.Errorf("%s: schedule fire insert: %w", driver, err)
		}
		out[i] = added
	}
	return out, nil
}

// NamesJSON encodes names as a JSON array (for SQLite's json_each).
func NamesJSON(names []string) string {
	s, _ := listJSON(names) // strings always encode
	return s
}
