package tasker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/tasker-go/tasker/internal/cronexpr"
	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Schedule is a stored schedule: it creates a task of a template at each
// fire time of its cron expression (see docs/schedules.md).
type Schedule = taskertype.Schedule

// The policies of a schedule.
const (
	OverlapAllow = taskertype.OverlapAllow
	OverlapSkip  = taskertype.OverlapSkip
	CatchUpNone  = taskertype.CatchUpNone
	CatchUpOne   = taskertype.CatchUpOne
	CatchUpAll   = taskertype.CatchUpAll
	// SourceSystemSchedule is the source_system of scheduled tasks.
	SourceSystemSchedule = taskertype.SourceSystemSchedule
	// EventTaskScheduled is published when a schedule fires a task.
	EventTaskScheduled = taskertype.EventTaskScheduled
)

// DefaultCatchUpLimit is the catch-up limit of a schedule that names none.
const DefaultCatchUpLimit = 10

// MaxCatchUpLimit is the largest catch-up limit.
const MaxCatchUpLimit = maintenance.MaxCatchUpLimit

// ErrScheduleExists is returned when a schedule of the name exists.
var ErrScheduleExists = errors.New("schedule exists")

// scheduleNameRE is the shape of schedule names (as template names, at
// most 128 bytes).
var scheduleNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ScheduleTemplate declares a schedule in a template (YAML schedules:):
// the template's highest registered version is created at each fire time.
type ScheduleTemplate struct {
	Name         string
	Cron         string
	TimeZone     string
	Context      map[string]any
	Overlap      string
	CatchUp      string
	CatchUpLimit int
}

// ScheduleRequest asks for a new schedule (Client.CreateSchedule).
type ScheduleRequest struct {
	// Name is unique among schedules: letters, digits, "_", "." and "-",
	// at most 128 bytes (required).
	Name string `json:"name"`
	// Namespace, TaskName and Version name the template; Namespace
	// defaults to "default", an empty Version is the highest registered
	// version at each fire.
	Namespace string `json:"namespace,omitempty"`
	TaskName  string `json:"task_name"`
	Version   string `json:"version,omitempty"`
	// Cron: 5 fields (minute hour day-of-month month day-of-week), 6 with
	// seconds first, a descriptor (@hourly, @daily, @weekly, @monthly,
	// @yearly) or @every DURATION (required).
	Cron string `json:"cron"`
	// TimeZone is an IANA zone for the cron expression's wall clock;
	// default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Context of each task: a JSON object (as TaskRequest.Context).
	Context any `json:"context,omitempty"`
	// Overlap is "allow" (default) or "skip".
	Overlap string `json:"overlap,omitempty"`
	// CatchUp is "none" (default), "one" or "all"; CatchUpLimit bounds
	// "all" (default DefaultCatchUpLimit, at most MaxCatchUpLimit).
	CatchUp      string `json:"catch_up,omitempty"`
	CatchUpLimit int    `json:"catch_up_limit,omitempty"`
	// Paused creates the schedule paused.
	Paused bool `json:"paused,omitempty"`
}

// scheduleDefinition validates a request and returns its stored form and
// its parsed expression and zone. The template is looked up as CreateTask
// does: in the client's registry, else among those registered in the
// database.
func (c *Client) scheduleDefinition(ctx context.Context, req *ScheduleRequest, source string) (*taskerdriver.ScheduleDefinition, *cronexpr.Schedule, *time.Location, error) {
	fields := map[string]string{}
	if req == nil {
		req = &ScheduleRequest{}
	}
	if !scheduleNameRE.MatchString(req.Name) {
		fields["name"] = `is required: letters, digits, "_", "." and "-", starting with a letter, digit or "_", at most 128 bytes`
	}
	expr, err := cronexpr.Parse(req.Cron)
	if err != nil {
		fields["cron"] = err.Error()
	}
	loc, err := cronexpr.LoadLocation(req.TimeZone)
	if err != nil {
		fields["time_zone"] = err.Error()
	}
	d := &taskerdriver.ScheduleDefinition{
		Name: req.Name, Namespace: cmpOr(req.Namespace, "default"), TaskName: req.TaskName, Version: req.Version, Cron: req.Cron,
		TimeZone: cmpOr(req.TimeZone, "UTC"), Overlap: cmpOr(req.Overlap, OverlapAllow), CatchUp: cmpOr(req.CatchUp, CatchUpNone),
		CatchUpLimit: req.CatchUpLimit, Source: source,
	}
	if d.Overlap != OverlapAllow && d.Overlap != OverlapSkip {
		fields["overlap"] = fmt.Sprintf("%q is not an overlap policy: use %q or %q", d.Overlap, OverlapAllow, OverlapSkip)
	}
	if d.CatchUp != CatchUpNone && d.CatchUp != CatchUpOne && d.CatchUp != CatchUpAll {
		fields["catch_up"] = fmt.Sprintf("%q is not a catch-up policy: use %q, %q or %q", d.CatchUp, CatchUpNone, CatchUpOne, CatchUpAll)
	}
	switch {
	case d.CatchUpLimit < 0 || d.CatchUpLimit > MaxCatchUpLimit:
		fields["catch_up_limit"] = fmt.Sprintf("is %d: use 1 to %d", d.CatchUpLimit, MaxCatchUpLimit)
	case d.CatchUpLimit == 0 && d.CatchUp == CatchUpAll:
		d.CatchUpLimit = DefaultCatchUpLimit
	}
	raw, err := contextJSON(req.Context)
	if err != nil {
		fields["context"] = err.Error()
	}
	if f := nulFields(map[string]any{"context": raw, "task_name": req.TaskName, "namespace": req.Namespace, "version": req.Version}); f != nil {
		for k, v := range f {
			fields[k] = v
		}
	}
	switch {
	case len(fields) > 0:
	case req.TaskName == "":
		fields["task_name"] = "is required: give the name of a registered task template"
	default:
		tmpl, err := c.Template(ctx, d.Namespace, d.TaskName, d.Version)
		switch {
		case errors.Is(err, ErrNotFound):
			fields["task_name"] = err.Error()
		case err != nil:
			return nil, nil, nil, err
		default:
			if _, err := tmpl.schema.Validate(raw); err != nil {
				fields["context"] = fmt.Sprintf("does not match the schema of %s: %v", tmpl.FullName(), err)
			}
		}
	}
	if len(fields) > 0 {
		return nil, nil, nil, &ValidationError{Message: "invalid schedule", Fields: fields}
	}
	d.Context = raw
	return d, expr, loc, nil
}

// CreateSchedule stores a new schedule; its first fire time is the first
// after now. A name that exists is an ErrScheduleExists.
func (c *Client) CreateSchedule(ctx context.Context, req *ScheduleRequest) (*Schedule, error) {
	d, expr, loc, err := c.scheduleDefinition(ctx, req, taskertype.ScheduleSourceAPI)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now().UTC()
	got, err := c.exec.ScheduleInsertMany(ctx, []*taskerdriver.ScheduleInsertParams{{ScheduleDefinition: *d, Paused: req.Paused,
		NextFireAt: expr.Next(now, loc), Now: now}})
	if errors.Is(err, taskerdriver.ErrAlreadyExists) {
		return nil, fmt.Errorf("%w: a schedule named %q exists: delete it first or choose another name", ErrScheduleExists, req.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("tasker: create schedule: %w", err)
	}
	c.wakeScheduler()
	return got[0], nil
}

// Schedules lists the schedules by name, each with its next fire time.
func (c *Client) Schedules(ctx context.Context) ([]*Schedule, error) {
	return c.exec.ScheduleList(ctx, &taskerdriver.ScheduleListParams{})
}

// GetSchedule returns the schedule of a name, or an ErrNotFound.
func (c *Client) GetSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.schedule(ctx, c.exec, name)
}

func (c *Client) schedule(ctx context.Context, ex taskerdriver.Executor, name string) (*Schedule, error) {
	if !scheduleNameRE.MatchString(name) { // no schedule has such a name: never ask the database
		return nil, fmt.Errorf("%w: no schedule named %q", ErrNotFound, name)
	}
	l, err := ex.ScheduleList(ctx, &taskerdriver.ScheduleListParams{Names: []string{name}})
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("%w: no schedule named %q", ErrNotFound, name)
	}
	return l[0], nil
}

// PauseSchedule pauses a schedule: it fires nothing until resumed.
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.setPaused(ctx, name, true)
}

// ResumeSchedule resumes a paused schedule from now: the fire times it
// missed while paused are not caught up.
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	s, err := c.setPaused(ctx, name, false)
	if err == nil {
		c.wakeScheduler()
	}
	return s, err
}

func (c *Client) setPaused(ctx context.Context, name string, paused bool) (*Schedule, error) {
	var out *Schedule
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		s, err := c.schedule(ctx, tx, name)
		if err != nil {
			return err
		}
		now := c.cfg.Now().UTC()
		p := &taskerdriver.ScheduleUpdateParams{ID: s.ID, Paused: &paused, Now: now}
		if !paused && s.Paused {
			if p.NextFireAt, err = nextFire(s, now); err != nil {
				return err
			}
		}
		got, err := tx.ScheduleUpdateMany(ctx, []*taskerdriver.ScheduleUpdateParams{p})
		if err != nil {
			return err
		}
		out = got[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nextFire is the first fire time of s after now.
func nextFire(s *Schedule, now time.Time) (time.Time, error) {
	expr, err := cronexpr.Parse(s.Cron)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %q: cron: %w", s.Name, err)
	}
	loc, err := cronexpr.LoadLocation(s.TimeZone)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %q: time_zone: %w", s.Name, err)
	}
	return expr.Next(now, loc), nil
}

// DeleteSchedule deletes a schedule (its tasks stay), or returns an
// ErrNotFound. A schedule declared by a template comes back when a
// process that loads the template starts, unless the template drops it.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	if !scheduleNameRE.MatchString(name) {
		return fmt.Errorf("%w: no schedule named %q", ErrNotFound, name)
	}
	n, err := c.exec.ScheduleDeleteMany(ctx, []string{name})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: no schedule named %q", ErrNotFound, name)
	}
	return nil
}

// TriggerSchedule fires a schedule now, paused or not and whatever its
// overlap policy: a task with reason "<name>@<now, to the second>". A
// second trigger within the same second (or a trigger in the second of a
// fire time) finds the fire time taken: ErrInvalidState.
func (c *Client) TriggerSchedule(ctx context.Context, name string) (*CreateResult, error) {
	var res *CreateResult
	var events []*Event
	now := c.cfg.Now().UTC()
	at := now.Truncate(time.Second)
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		s, err := c.schedule(ctx, tx, name)
		if err != nil {
			return err
		}
		recorded, err := tx.ScheduleFireInsertMany(ctx, []*taskerdriver.ScheduleFireParams{{ScheduleID: s.ID, FireAt: at, Now: now}})
		if err != nil {
			return err
		}
		if !recorded[0] {
			return fmt.Errorf("%w: schedule %q already fired at %s: trigger it again in a second", ErrInvalidState, name, at.Format(time.RFC3339))
		}
		res, events, err = c.fireTask(ctx, tx, &maintenance.Fire{Schedule: s, At: at}, "manual")
		if err != nil {
			return err
		}
		_, err = tx.ScheduleUpdateMany(ctx, []*taskerdriver.ScheduleUpdateParams{{ID: s.ID, LastFireAt: at, LastTaskID: res.Task.ID, Now: now}})
		return err
	})
	if err != nil {
		return nil, err
	}
	c.publish(events)
	return res, nil
}

// fireTask creates the task of a fire in tx and returns it with the events
// to publish after commit (their outbox rows written in tx).
func (c *Client) fireTask(ctx context.Context, tx taskerdriver.ExecutorTx, f *maintenance.Fire, trigger string) (*CreateResult, []*Event, error) {
	s := f.Schedule
	req := &TaskRequest{
		Namespace: s.Namespace, Name: s.TaskName, Version: s.Version, Context: s.Context,
		Initiator: cmpOr(ActorFrom(ctx), "scheduler"), SourceSystem: SourceSystemSchedule,
		Reason: s.Name + "@" + f.At.UTC().Format(time.RFC3339), RequestedAt: f.At,
	}
	res, err := c.createTask(ctx, tx, req, false)
	if err != nil {
		return nil, nil, err
	}
	payload, _ := json.Marshal(map[string]any{"schedule": jsonclean.String(s.Name), "fire_at": f.At.UTC().Format(time.RFC3339),
		"catch_up": f.CatchUp, "trigger": trigger})
	events := []*Event{{Name: EventTaskScheduled, Task: res.Task, Payload: payload, At: c.cfg.Now().UTC()}}
	if !res.Duplicate {
		events = append([]*Event{{Name: EventTaskInitializeRequested, Task: res.Task, At: c.cfg.Now().UTC()}}, events...)
	}
	if err := c.writeOutbox(ctx, tx, events[len(events)-1:]); err != nil {
		return nil, nil, err
	}
	return res, events, nil
}

// scheduler is the client's leader-only scheduler service.
func (c *Client) scheduler() *maintenance.Scheduler {
	return &maintenance.Scheduler{Driver: c.driver, Logger: c.logger, Grace: c.cfg.Worker.ScheduleGrace,
		Create: func(ctx context.Context, tx taskerdriver.ExecutorTx, f *maintenance.Fire) (*taskertype.Task, []*taskertype.Event, error) {
			trigger := "schedule"
			if f.CatchUp {
				trigger = "catch_up"
			}
			res, events, err := c.fireTask(ctx, tx, f, trigger)
			var ve *ValidationError
			if errors.As(err, &ve) || (errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable)) {
				// Checked before any write: no retry cures it.
				return nil, nil, fmt.Errorf("%w: %w", maintenance.ErrFireRejected, err)
			}
			if err != nil {
				return nil, nil, err
			}
			return res.Task, events, nil
		}}
}

func (c *Client) wakeScheduler() {
	c.mu.Lock()
	m := c.maint
	c.mu.Unlock()
	if m != nil {
		m.Wake()
	}
}

// SyncTemplateSchedules stores the schedules that registered templates
// declare (YAML schedules:): a new one is created (first fire after now);
// a changed one takes its new definition (its fire times start again after
// now when its cron or zone changed), keeping its pause. A schedule of the
// name created through the API is left alone (logged). Start and
// RunUntilIdle call it; schedules that templates no longer declare stay
// until deleted.
func (c *Client) SyncTemplateSchedules(ctx context.Context) error {
	type decl struct {
		t *TaskTemplate
		s ScheduleTemplate
	}
	byName := map[string]decl{}
	for _, t := range c.registry.Templates("") {
		for _, s := range t.Schedules {
			if prev, ok := byName[s.Name]; !ok || prev.t.FullName() > t.FullName() || (prev.t.Namespace == t.Namespace && prev.t.Name == t.Name &&
				compareSemver(t.Version, prev.t.Version) > 0) {
				byName[s.Name] = decl{t, s}
			}
		}
	}
	if len(byName) == 0 {
		return nil
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	now := c.cfg.Now().UTC()
	return c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		stored, err := tx.ScheduleList(ctx, &taskerdriver.ScheduleListParams{Names: names})
		if err != nil {
			return err
		}
		have := map[string]*Schedule{}
		for _, s := range stored {
			have[s.Name] = s
		}
		var inserts []*taskerdriver.ScheduleInsertParams
		var updates []*taskerdriver.ScheduleUpdateParams
		for _, n := range names {
			d := byName[n]
			def, expr, loc, err := c.scheduleDefinition(ctx, &ScheduleRequest{Name: n, Namespace: d.t.Namespace, TaskName: d.t.Name, Cron: d.s.Cron,
				TimeZone: d.s.TimeZone, Context: d.s.Context, Overlap: d.s.Overlap, CatchUp: d.s.CatchUp, CatchUpLimit: d.s.CatchUpLimit},
				taskertype.ScheduleSourceTemplate)
			if err != nil {
				return fmt.Errorf("tasker: schedule %q of template %s: %w", n, d.t.FullName(), err)
			}
			old := have[n]
			switch {
			case old == nil:
				inserts = append(inserts, &taskerdriver.ScheduleInsertParams{ScheduleDefinition: *def, NextFireAt: expr.Next(now, loc), Now: now})
			case old.Source != taskertype.ScheduleSourceTemplate:
				c.logger.WarnContext(ctx, "tasker: a template declares a schedule whose name a schedule created through the API has; keeping the API's",
					"schedule", n, "template", d.t.FullName())
			case !sameDefinition(old, def):
				p := &taskerdriver.ScheduleUpdateParams{ID: old.ID, Definition: def, Now: now}
				if old.Cron != def.Cron || old.TimeZone != def.TimeZone {
					p.NextFireAt = expr.Next(now, loc)
				}
				updates = append(updates, p)
			}
		}
		if len(inserts) > 0 {
			if _, err := tx.ScheduleInsertMany(ctx, inserts); err != nil {
				return fmt.Errorf("tasker: store template schedules: %w", err)
			}
		}
		if len(updates) > 0 {
			if _, err := tx.ScheduleUpdateMany(ctx, updates); err != nil {
				return fmt.Errorf("tasker: update template schedules: %w", err)
			}
		}
		return nil
	})
}

func sameDefinition(s *Schedule, d *taskerdriver.ScheduleDefinition) bool {
	return s.Namespace == d.Namespace && s.TaskName == d.TaskName && s.Version == d.Version && s.Cron == d.Cron &&
		s.TimeZone == d.TimeZone && s.Overlap == d.Overlap && s.CatchUp == d.CatchUp && s.CatchUpLimit == d.CatchUpLimit &&
		string(canonicalJSON(s.Context)) == string(canonicalJSON(d.Context))
}
