package taskerdriver

import (
	"encoding/json"
	"time"
)

// ScheduleDefinition is what a user defines of a schedule.
type ScheduleDefinition struct {
	Name                         string
	Namespace, TaskName, Version string
	Cron, TimeZone               string
	// Context is a JSON object.
	Context          json.RawMessage
	Overlap, CatchUp string
	CatchUpLimit     int
	// Source is "api" or "template".
	Source string
}

// ScheduleInsertParams describes a new schedule.
type ScheduleInsertParams struct {
	ScheduleDefinition
	Paused     bool
	NextFireAt time.Time
	Now        time.Time
}

// ScheduleUpdateParams changes a schedule. Zero values keep what is stored.
type ScheduleUpdateParams struct {
	ID int64
	// Definition replaces the definition (its Name is ignored: a schedule
	// keeps its name).
	Definition *ScheduleDefinition
	Paused     *bool
	NextFireAt time.Time
	// ExpectNextFireAt, when set, makes the update a compare-and-set on the
	// stored next fire time.
	ExpectNextFireAt time.Time
	LastFireAt       time.Time
	LastTaskID       int64
	Now              time.Time
}

// ScheduleListParams selects schedules: by Names when not empty, else the
// schedules due at DueAt (not paused, next fire time at or before it,
// earliest first) when it is set, else all by name; with Active, only
// those not paused, earliest next fire time first. Limit 0 is no limit.
type ScheduleListParams struct {
	Names  []string
	DueAt  time.Time
	Active bool
	Limit  int
}

// ScheduleFireParams is one fire time of a schedule.
type ScheduleFireParams struct {
	ScheduleID int64
	FireAt     time.Time
	Now        time.Time
}

// ScheduleFirePruneParams selects the fire records to forget.
type ScheduleFirePruneParams struct {
	Before time.Time
}
