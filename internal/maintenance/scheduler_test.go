package maintenance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

var seq atomic.Int64

// schedulerOn returns a scheduler on d whose Create makes a one-step task
// with the schedule's source system and reason.
func schedulerOn(d taskerdriver.Driver, grace time.Duration) *maintenance.Scheduler {
	return &maintenance.Scheduler{Driver: d, Grace: grace, Create: func(ctx context.Context, tx taskerdriver.ExecutorTx, f *maintenance.Fire) (*taskertype.Task, []*taskertype.Event, error) {
		reason := f.Schedule.Name + "@" + f.At.UTC().Format(time.RFC3339)
		res, err := tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{
			Namespace: f.Schedule.Namespace, Name: f.Schedule.TaskName, Version: "1.0.0", Context: f.Schedule.Context,
			Initiator: "scheduler", SourceSystem: taskertype.SourceSystemSchedule, Reason: reason, Tags: []string{},
			IdentityHash: fmt.Sprintf("%s-%d", reason, seq.Add(1)), RequestedAt: f.At, Now: f.At, // never deduplicated here
			Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", RetryLimit: 1}},
		})
		if err != nil {
			return nil, nil, err
		}
		return res.Task, []*taskertype.Event{{Name: taskertype.EventTaskScheduled, Task: res.Task, At: f.At}}, nil
	}}
}

func insertSchedule(t *testing.T, d taskerdriver.Driver, name, cron, zone string, next time.Time, overlap, catchUp string, limit int) *taskertype.Schedule {
	t.Helper()
	got, err := d.Executor().ScheduleInsertMany(t.Context(), []*taskerdriver.ScheduleInsertParams{{ScheduleDefinition: taskerdriver.ScheduleDefinition{
		Name: name, Namespace: "default", TaskName: "t", Cron: cron, TimeZone: zone, Context: json.RawMessage(`{}`),
		Overlap: overlap, CatchUp: catchUp, CatchUpLimit: limit, Source: taskertype.ScheduleSourceAPI,
	}, NextFireAt: next, Now: next}})
	require.NoError(t, err)
	return got[0]
}

// reasons lists the reasons of the schedule tasks, sorted.
func reasons(t *testing.T, d taskerdriver.Driver) []string {
	t.Helper()
	tasks, _, err := d.Executor().TaskList(t.Context(), &taskerdriver.TaskListParams{SourceSystem: taskertype.SourceSystemSchedule, Limit: 10000})
	require.NoError(t, err)
	out := make([]string, len(tasks))
	for i, task := range tasks {
		out[i] = task.Reason
	}
	sort.Strings(out)
	return out
}

func at(ts ...string) []string {
	out := make([]string, len(ts))
	copy(out, ts)
	sort.Strings(out)
	return out
}

func TestSchedulerFiresEachFireTimeOnce(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		clock := testdb.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		insertSchedule(t, d, "minutely", "* * * * *", "UTC", clock.Now().Add(time.Minute), taskertype.OverlapAllow, taskertype.CatchUpNone, 0)
		s := schedulerOn(d, time.Minute)

		next, err := s.NextRun(t.Context())
		require.NoError(t, err)
		require.Equal(t, clock.Now().Add(time.Minute), next)
		evs, err := s.Run(t.Context(), clock.Now())
		require.NoError(t, err)
		require.Empty(t, evs, "nothing due yet")

		now := clock.Advance(time.Minute)
		evs, err = s.Run(t.Context(), now)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, taskertype.EventTaskScheduled, evs[0].Name)
		require.Equal(t, taskertype.SourceSystemSchedule, evs[0].Task.SourceSystem)
		require.Equal(t, "minutely@2026-05-01T12:01:00Z", evs[0].Task.Reason)
		evs, err = s.Run(t.Context(), now.Add(30*time.Second))
		require.NoError(t, err)
		require.Empty(t, evs, "a fire time fires once")

		// Two schedulers (two leaders at once) on the same due fire times.
		now = clock.Advance(5 * time.Minute) // 12:02 ... 12:06 due; within the 1m grace: 12:05, 12:06
		var wg sync.WaitGroup
		for range 4 {
			other := schedulerOn(d, time.Minute)
			wg.Go(func() {
				_, err := other.Run(context.WithoutCancel(t.Context()), now)
				if err != nil {
					t.Errorf("rival scheduler: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, at("minutely@2026-05-01T12:01:00Z", "minutely@2026-05-01T12:05:00Z", "minutely@2026-05-01T12:06:00Z"), reasons(t, d),
			"each fire time once; 12:02-12:04 missed beyond the grace (catch_up none)")
		l, err := d.Executor().ScheduleList(t.Context(), &taskerdriver.ScheduleListParams{Names: []string{"minutely"}})
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 5, 1, 12, 7, 0, 0, time.UTC), l[0].NextFireAt)
		require.Equal(t, time.Date(2026, 5, 1, 12, 6, 0, 0, time.UTC), l[0].LastFireAt)
		require.NotZero(t, l[0].LastTaskID)

		// Paused: never due.
		paused := true
		_, err = d.Executor().ScheduleUpdateMany(t.Context(), []*taskerdriver.ScheduleUpdateParams{{ID: l[0].ID, Paused: &paused, Now: now}})
		require.NoError(t, err)
		evs, err = s.Run(t.Context(), clock.Advance(time.Hour))
		require.NoError(t, err)
		require.Empty(t, evs)
		next, err = s.NextRun(t.Context())
		require.NoError(t, err)
		require.True(t, next.IsZero())
	})
}

func TestSchedulerCatchUp(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		for _, c := range []struct{ name, policy string }{{"none", taskertype.CatchUpNone}, {"one", taskertype.CatchUpOne}, {"all", taskertype.CatchUpAll}} {
			insertSchedule(t, d, c.name, "@every 10m", "UTC", start.Add(10*time.Minute), taskertype.OverlapAllow, c.policy, 3)
		}
		s := schedulerOn(d, time.Minute)
		// Down from 12:00 to 13:00:30: 12:10 ... 12:50 missed, 13:00 on time.
		_, err := s.Run(t.Context(), start.Add(time.Hour+30*time.Second))
		require.NoError(t, err)
		require.Equal(t, at(
			"none@2026-05-01T13:00:00Z",
			"one@2026-05-01T12:50:00Z", "one@2026-05-01T13:00:00Z",
			"all@2026-05-01T12:30:00Z", "all@2026-05-01T12:40:00Z", "all@2026-05-01T12:50:00Z", "all@2026-05-01T13:00:00Z",
		), reasons(t, d))
	})
}

func TestSchedulerOverlapSkip(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		insertSchedule(t, d, "skip", "@every 1m", "UTC", start.Add(time.Minute), taskertype.OverlapSkip, taskertype.CatchUpAll, 10)
		insertSchedule(t, d, "allow", "@every 1m", "UTC", start.Add(time.Minute), taskertype.OverlapAllow, taskertype.CatchUpNone, 0)
		s := schedulerOn(d, time.Minute)
		for i := 1; i <= 3; i++ {
			_, err := s.Run(t.Context(), start.Add(time.Duration(i)*time.Minute))
			require.NoError(t, err)
		}
		require.Equal(t, at("allow@2026-05-01T12:01:00Z", "allow@2026-05-01T12:02:00Z", "allow@2026-05-01T12:03:00Z",
			"skip@2026-05-01T12:01:00Z"), reasons(t, d), "skip's first task is still pending")

		// The previous task finishes: the next fire creates a task.
		l, err := d.Executor().ScheduleList(t.Context(), &taskerdriver.ScheduleListParams{Names: []string{"skip"}})
		require.NoError(t, err)
		_, err = d.Executor().TaskSetStateMany(t.Context(), []*taskerdriver.TaskSetStateParams{{ID: l[0].LastTaskID,
			From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: start}})
		require.NoError(t, err)
		_, err = s.Run(t.Context(), start.Add(4*time.Minute))
		require.NoError(t, err)
		require.Contains(t, reasons(t, d), "skip@2026-05-01T12:04:00Z")
	})
}

// Daylight saving time through the scheduler: a daily 02:30 in New York
// fires once on the day clocks go forward (at 03:30 EDT) and once on the
// day they go back.
func TestSchedulerDaylightSavingTime(t *testing.T) {
	t.Parallel()
	sc := &taskertype.Schedule{Name: "d", Cron: "30 2 * * *", TimeZone: "America/New_York", CatchUp: taskertype.CatchUpNone,
		NextFireAt: time.Date(2026, 3, 7, 7, 30, 0, 0, time.UTC)}
	var got []string
	for range 3 {
		fires, _, next, err := maintenance.Plan(sc, sc.NextFireAt, time.Minute)
		require.NoError(t, err)
		require.Len(t, fires, 1)
		got = append(got, fires[0].UTC().Format(time.RFC3339))
		sc.NextFireAt = next
	}
	require.Equal(t, []string{"2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}, got)
}

// The maintainer runs its timed scheduler at the fire times between its
// rounds, while it leads.
func TestMaintainerRunsTheSchedulerAtFireTimes(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		clock := testdb.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		insertSchedule(t, d, "tick", "@every 1s", "UTC", clock.Now().Add(time.Second), taskertype.OverlapAllow, taskertype.CatchUpNone, 0)
		var mu sync.Mutex
		var published []*taskertype.Event
		m := maintenance.New(maintenance.Config{Driver: d, ID: "m", Now: clock.Now, Interval: time.Hour, Services: []maintenance.Service{schedulerOn(d, time.Minute)},
			Publish: func(evs []*taskertype.Event) { mu.Lock(); published = append(published, evs...); mu.Unlock() }})
		defer m.Stop()
		require.NoError(t, m.RunDue(t.Context())) // the round: leads
		require.True(t, m.IsLeader())
		for range 3 {
			clock.Advance(time.Second)
			require.NoError(t, m.RunDue(t.Context()), "no round is due, the scheduler is")
		}
		require.Equal(t, at("tick@2026-05-01T12:00:01Z", "tick@2026-05-01T12:00:02Z", "tick@2026-05-01T12:00:03Z"), reasons(t, d))
		mu.Lock()
		require.Len(t, published, 3)
		mu.Unlock()

		// A process that does not lead runs nothing between rounds.
		other := maintenance.New(maintenance.Config{Driver: d, ID: "other", Now: clock.Now, Interval: time.Hour, Services: []maintenance.Service{schedulerOn(d, time.Minute)}})
		require.NoError(t, other.RunDue(t.Context()))
		require.False(t, other.IsLeader())
		clock.Advance(time.Second)
		require.NoError(t, other.RunDue(t.Context()))
		require.Len(t, reasons(t, d), 3)
	})
}

// A fire whose task cannot be created (ErrFireRejected) is skipped, not
// retried forever; another error rolls the fire back for a retry.
func TestSchedulerRejectedFire(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		insertSchedule(t, d, "r", "@every 1m", "UTC", start.Add(time.Minute), taskertype.OverlapAllow, taskertype.CatchUpNone, 0)
		var fail error
		s := schedulerOn(d, time.Minute)
		create := s.Create
		s.Create = func(ctx context.Context, tx taskerdriver.ExecutorTx, f *maintenance.Fire) (*taskertype.Task, []*taskertype.Event, error) {
			if fail != nil {
				return nil, nil, fail
			}
			return create(ctx, tx, f)
		}
		fail = fmt.Errorf("%w: no template", maintenance.ErrFireRejected)
		_, err := s.Run(t.Context(), start.Add(time.Minute))
		require.NoError(t, err)
		fail = errors.New("transient")
		_, err = s.Run(t.Context(), start.Add(2*time.Minute))
		require.ErrorContains(t, err, "transient")
		fail = nil
		_, err = s.Run(t.Context(), start.Add(2*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at("r@2026-05-01T12:02:00Z"), reasons(t, d), "12:01 rejected and skipped, 12:02 retried after the transient error")
	})
}
