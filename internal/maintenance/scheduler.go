package maintenance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tasker-go/tasker/internal/cronexpr"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// DefaultMisfireGrace is the default of Scheduler.Grace.
const DefaultMisfireGrace = time.Minute

// MaxCatchUpLimit is the largest catch-up limit of a schedule.
const MaxCatchUpLimit = 1000

// maxScan bounds the fire times of one cron schedule scanned in a round
// (after a long downtime); older ones beyond it are dropped as missed.
const maxScan = 100_000

// ErrFireRejected marks an error of Scheduler.Create that no retry can
// cure (the template is not registered, the context no longer matches its
// schema): the fire time is then skipped and logged, not retried.
var ErrFireRejected = errors.New("fire rejected")

// Fire is one fire of a schedule that the scheduler asks to create.
type Fire struct {
	Schedule *taskertype.Schedule
	At       time.Time
	// CatchUp is true for a fire time handled later than the grace.
	CatchUp bool
}

// Scheduler is the leader-only service that fires schedules: at each fire
// time of a schedule that is not paused, it creates one task (through
// Create), in a transaction that also records the fire time (a unique key
// per schedule and fire time: Executor.ScheduleFireInsertMany) and
// advances the schedule's next fire time by compare-and-set. Two
// schedulers at once (a leader that lost its term without knowing) cannot
// both create a fire's task: the second waits on the fire's key, finds it
// taken, and its compare-and-set fails.
//
// A fire time handled within Grace of it is on time; the others were
// missed (no scheduler ran) and follow the schedule's catch-up policy:
// none drops them, one fires the most recent, all fires the most recent
// CatchUpLimit. With overlap skip, a fire while the task of the
// schedule's last fire is pending or in progress creates nothing, and a
// round creates at most one task of the schedule.
type Scheduler struct {
	Driver taskerdriver.Driver
	Logger *slog.Logger
	// Grace defaults to DefaultMisfireGrace.
	Grace time.Duration
	// Batch is the most schedules handled per round. Defaults to 100.
	Batch int
	// KeepFires is how long fire records are kept. Defaults to 7 days.
	KeepFires time.Duration
	// Create creates the task of a fire inside tx and returns it with the
	// events to publish once tx commits (their outbox rows written in tx).
	Create func(ctx context.Context, tx taskerdriver.ExecutorTx, f *Fire) (*taskertype.Task, []*taskertype.Event, error)

	mu        sync.Mutex
	lastPrune time.Time
}

// Name implements Service.
func (s *Scheduler) Name() string { return "scheduler" }

func (s *Scheduler) logger() *slog.Logger { return cmp.Or(s.Logger, slog.New(slog.DiscardHandler)) }

// NextRun implements Timed: the earliest next fire time of the schedules
// not paused (zero: none).
func (s *Scheduler) NextRun(ctx context.Context) (time.Time, error) {
	l, err := s.Driver.Executor().ScheduleList(ctx, &taskerdriver.ScheduleListParams{Active: true, Limit: 1})
	if err != nil || len(l) == 0 {
		return time.Time{}, err
	}
	return l[0].NextFireAt, nil
}

// Run implements Service: it handles every schedule due at now, each in
// its own transaction.
func (s *Scheduler) Run(ctx context.Context, now time.Time) ([]*taskertype.Event, error) {
	due, err := s.Driver.Executor().ScheduleList(ctx, &taskerdriver.ScheduleListParams{DueAt: now, Limit: cmp.Or(s.Batch, 100)})
	if err != nil {
		return nil, err
	}
	var events []*taskertype.Event
	var errs []error
	for _, sc := range due {
		evs, err := s.fire(ctx, sc, now)
		events = append(events, evs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: %w", sc.Name, err))
		}
	}
	if err := s.prune(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return events, errors.Join(errs...)
}

func (s *Scheduler) prune(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	due := now.Sub(s.lastPrune) >= time.Hour
	if due {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	_, err := s.Driver.Executor().ScheduleFirePrune(ctx, &taskerdriver.ScheduleFirePruneParams{Before: now.Add(-cmp.Or(s.KeepFires, 7*24*time.Hour))})
	return err
}

// Plan returns the fire times of sc to fire at now, whether each is a
// catch-up, and the next fire time after now, by sc's policies (overlap
// aside). An expression that does not parse is an error.
func Plan(sc *taskertype.Schedule, now time.Time, grace time.Duration) (fires []time.Time, catchUp []bool, next time.Time, err error) {
	expr, err := cronexpr.Parse(sc.Cron)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("cron: %w", err)
	}
	loc, err := cronexpr.LoadLocation(sc.TimeZone)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("time_zone: %w", err)
	}
	// The due fire times: on time (within grace) and missed; of the missed
	// only the most recent keep are kept.
	keep := 0
	switch sc.CatchUp {
	case taskertype.CatchUpOne:
		keep = 1
	case taskertype.CatchUpAll:
		keep = min(max(sc.CatchUpLimit, 0), MaxCatchUpLimit)
	}
	var missed, onTime []time.Time
	t := sc.NextFireAt
	if d := expr.Every(); d > 0 && now.Sub(t) > grace+time.Duration(keep+1)*d {
		// Skip to the last fire times that matter, arithmetically.
		t = expr.Next(now.Add(-grace-time.Duration(keep+1)*d), loc)
	}
	for n := 0; !t.IsZero() && !t.After(now); n++ {
		if n == maxScan && now.Sub(t) > grace {
			// A long downtime of a frequent cron: drop the rest as missed.
			t = expr.Next(now.Add(-grace-time.Second), loc)
			continue
		}
		if now.Sub(t) <= grace {
			onTime = append(onTime, t)
		} else if keep > 0 {
			missed = append(missed, t)
			if len(missed) > keep {
				missed = missed[1:]
			}
		}
		t = expr.Next(t, loc)
	}
	for _, m := range missed {
		fires, catchUp = append(fires, m), append(catchUp, true)
	}
	for _, o := range onTime {
		fires, catchUp = append(fires, o), append(catchUp, false)
	}
	if t.IsZero() {
		// No fire time within decades: park the schedule far ahead.
		t = now.AddDate(100, 0, 0)
	}
	return fires, catchUp, t, nil
}

// fire handles one due schedule in one transaction.
func (s *Scheduler) fire(ctx context.Context, sc *taskertype.Schedule, now time.Time) ([]*taskertype.Event, error) {
	fires, catchUp, next, err := Plan(sc, now, cmp.Or(s.Grace, DefaultMisfireGrace))
	if err != nil {
		return nil, err
	}
	var events []*taskertype.Event
	var created, skipped, taken int
	var rejected []error
	err = recorder.InTx(ctx, s.Driver.Executor(), func(tx taskerdriver.ExecutorTx) error {
		events, created, skipped, taken, rejected = nil, 0, 0, 0, nil
		if sc.Overlap == taskertype.OverlapSkip && len(fires) > 0 {
			busy, err := unfinished(ctx, tx, sc.LastTaskID)
			if err != nil {
				return err
			}
			if busy {
				skipped, fires = len(fires), nil
			} else if len(fires) > 1 { // at most one task per round
				skipped, fires, catchUp = len(fires)-1, fires[len(fires)-1:], catchUp[len(catchUp)-1:]
			}
		}
		upd := &taskerdriver.ScheduleUpdateParams{ID: sc.ID, ExpectNextFireAt: sc.NextFireAt, NextFireAt: next, Now: now}
		if len(fires) > 0 {
			ps := make([]*taskerdriver.ScheduleFireParams, len(fires))
			for i, at := range fires {
				ps[i] = &taskerdriver.ScheduleFireParams{ScheduleID: sc.ID, FireAt: at, Now: now}
			}
			recorded, err := tx.ScheduleFireInsertMany(ctx, ps)
			if err != nil {
				return err
			}
			for i, at := range fires {
				if !recorded[i] { // fired already (another scheduler, or a trigger in that second)
					taken++
					continue
				}
				task, evs, err := s.Create(ctx, tx, &Fire{Schedule: sc, At: at, CatchUp: catchUp[i]})
				if errors.Is(err, ErrFireRejected) { // checked before any write: the transaction goes on
					rejected = append(rejected, err)
					continue
				}
				if err != nil {
					return fmt.Errorf("create the task of the fire at %s: %w", at.UTC().Format(time.RFC3339), err)
				}
				events = append(events, evs...)
				upd.LastFireAt, upd.LastTaskID = at, task.ID
				created++
			}
		}
		_, err := tx.ScheduleUpdateMany(ctx, []*taskerdriver.ScheduleUpdateParams{upd})
		return err
	})
	if errors.Is(err, taskerdriver.ErrStateConflict) || errors.Is(err, taskerdriver.ErrNotFound) {
		// Another scheduler handled these fire times, or the schedule was
		// deleted meanwhile: nothing to do.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rejected {
		s.logger().ErrorContext(ctx, "scheduler: a fire could not create its task; skipped", "schedule", sc.Name, "error", r)
	}
	if skipped > 0 || taken > 0 {
		s.logger().InfoContext(ctx, "scheduler: fire times not fired", "schedule", sc.Name, "skipped_overlap", skipped,
			"fired_already", taken, "next_fire_at", next)
	}
	if created > 0 {
		s.logger().DebugContext(ctx, "scheduler: fired", "schedule", sc.Name, "tasks", created, "next_fire_at", next)
	}
	return events, nil
}

// unfinished reports whether the task id (0: none) is pending or in
// progress.
func unfinished(ctx context.Context, tx taskerdriver.ExecutorTx, id int64) (bool, error) {
	if id == 0 {
		return false, nil
	}
	t, err := tx.TaskGet(ctx, id)
	if errors.Is(err, taskerdriver.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.State == taskertype.StatePending || t.State == taskertype.StateInProgress, nil
}
