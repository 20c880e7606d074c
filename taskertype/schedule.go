package taskertype

import (
	"encoding/json"
	"time"
)

// Overlap policies of a schedule: what a fire does while the task of the
// schedule's previous fire is unfinished (pending or in_progress).
const (
	// OverlapAllow creates the task anyway.
	OverlapAllow = "allow"
	// OverlapSkip skips the fire.
	OverlapSkip = "skip"
)

// Catch-up policies of a schedule: what the scheduler does with the fire
// times it missed (by more than the misfire grace) while no scheduler ran.
const (
	// CatchUpNone skips the missed fire times.
	CatchUpNone = "none"
	// CatchUpOne fires the most recent missed fire time only.
	CatchUpOne = "one"
	// CatchUpAll fires every missed fire time, the most recent
	// CatchUpLimit of them.
	CatchUpAll = "all"
)

// Where a schedule was defined (Schedule.Source).
const (
	ScheduleSourceAPI      = "api"
	ScheduleSourceTemplate = "template"
)

// SourceSystemSchedule is the source_system of the tasks that schedules
// create; their reason is "<schedule name>@<fire time, RFC 3339 UTC>".
const SourceSystemSchedule = "schedule"

// Schedule creates a task of a template at each fire time of a cron
// expression.
type Schedule struct {
	ID int64 `json:"schedule_id"`
	// Name is unique among schedules.
	Name string `json:"name"`
	// Namespace, TaskName and Version name the template; an empty Version
	// is the highest registered version at each fire.
	Namespace string `json:"namespace"`
	TaskName  string `json:"task_name"`
	Version   string `json:"version,omitempty"`
	// Cron is the expression (internal/cronexpr): 5 or 6 fields, a
	// descriptor such as @daily, or @every DURATION.
	Cron string `json:"cron"`
	// TimeZone is the IANA zone of the cron expression's wall clock.
	TimeZone string `json:"time_zone"`
	// Context is the context of each task (a JSON object).
	Context      json.RawMessage `json:"context"`
	Overlap      string          `json:"overlap"`
	CatchUp      string          `json:"catch_up"`
	CatchUpLimit int             `json:"catch_up_limit"`
	Paused       bool            `json:"paused"`
	// Source is "api" or "template".
	Source string `json:"source"`
	// NextFireAt is the next fire time the scheduler will handle: the
	// fire times before it are done (fired, skipped or missed).
	NextFireAt time.Time `json:"next_fire_at"`
	// LastFireAt and LastTaskID are the last fire's time and task (zero
	// before the first fire).
	LastFireAt time.Time `json:"last_fire_at,omitzero"`
	LastTaskID int64     `json:"last_task_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}
