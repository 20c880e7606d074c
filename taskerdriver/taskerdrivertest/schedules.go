package taskerdrivertest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func scheduleDef(name string) taskerdriver.ScheduleDefinition {
	return taskerdriver.ScheduleDefinition{Name: name, Namespace: "default", TaskName: "report", Version: "1.0.0", Cron: "*/5 * * * *",
		TimeZone: "Europe/Paris", Context: json.RawMessage(`{"region": "eu", "n": 1}`), Overlap: taskertype.OverlapSkip,
		CatchUp: taskertype.CatchUpAll, CatchUpLimit: 10, Source: taskertype.ScheduleSourceAPI}
}

// schedules exercises the schedule storage: insert, list (by name, due,
// active), the compare-and-set update, delete, and the unique fire
// records.
func (s *suite) schedules(t *testing.T) {
	s.run(t, "ScheduleLifecycle", func(t *testing.T, b *bundle) {
		got, err := b.ex.ScheduleInsertMany(b.ctx, []*taskerdriver.ScheduleInsertParams{
			{ScheduleDefinition: scheduleDef("nightly"), NextFireAt: base.Add(time.Hour), Now: base},
			{ScheduleDefinition: scheduleDef("hourly"), NextFireAt: base.Add(time.Minute), Paused: true, Now: base},
		})
		require.NoError(t, err)
		require.Len(t, got, 2)
		n := got[0]
		require.NotZero(t, n.ID)
		require.Equal(t, "nightly", n.Name)
		require.Equal(t, "report", n.TaskName)
		require.Equal(t, "1.0.0", n.Version)
		require.Equal(t, "Europe/Paris", n.TimeZone)
		require.JSONEq(t, `{"region": "eu", "n": 1}`, string(n.Context))
		require.Equal(t, taskertype.OverlapSkip, n.Overlap)
		require.Equal(t, taskertype.CatchUpAll, n.CatchUp)
		require.Equal(t, 10, n.CatchUpLimit)
		require.False(t, n.Paused)
		require.Equal(t, base.Add(time.Hour), n.NextFireAt)
		require.True(t, n.LastFireAt.IsZero())
		require.Zero(t, n.LastTaskID)
		require.Equal(t, base, n.CreatedAt)
		require.True(t, got[1].Paused)

		// A taken name fails the whole call.
		_, err = b.ex.ScheduleInsertMany(b.ctx, []*taskerdriver.ScheduleInsertParams{
			{ScheduleDefinition: scheduleDef("weekly"), NextFireAt: base, Now: base},
			{ScheduleDefinition: scheduleDef("nightly"), NextFireAt: base, Now: base},
		})
		require.ErrorIs(t, err, taskerdriver.ErrAlreadyExists)
		all, err := b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{})
		require.NoError(t, err)
		require.Equal(t, []string{"hourly", "nightly"}, scheduleNames(all), "all by name, weekly not inserted")

		byName, err := b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{Names: []string{"nightly", "nope"}})
		require.NoError(t, err)
		require.Len(t, byName, 1)
		require.Equal(t, n.ID, byName[0].ID)
		require.JSONEq(t, string(n.Context), string(byName[0].Context))

		due, err := b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{DueAt: base.Add(2 * time.Hour)})
		require.NoError(t, err)
		require.Equal(t, []string{"nightly"}, scheduleNames(due), "a paused schedule is never due")
		due, err = b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{DueAt: base.Add(time.Hour - time.Microsecond)})
		require.NoError(t, err)
		require.Empty(t, due)

		// Resume, then the active ones come earliest first.
		resume := false
		upd, err := b.ex.ScheduleUpdateMany(b.ctx, []*taskerdriver.ScheduleUpdateParams{{ID: got[1].ID, Paused: &resume, Now: base.Add(time.Second)}})
		require.NoError(t, err)
		require.False(t, upd[0].Paused)
		require.Equal(t, base.Add(time.Minute), upd[0].NextFireAt, "kept")
		require.Equal(t, base.Add(time.Second), upd[0].UpdatedAt)
		active, err := b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{Active: true, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{"hourly"}, scheduleNames(active))

		// The compare-and-set on the next fire time.
		upd, err = b.ex.ScheduleUpdateMany(b.ctx, []*taskerdriver.ScheduleUpdateParams{{ID: n.ID, ExpectNextFireAt: base.Add(time.Hour),
			NextFireAt: base.Add(2 * time.Hour), LastFireAt: base.Add(time.Hour), LastTaskID: 42, Now: base.Add(time.Hour)}})
		require.NoError(t, err)
		require.Equal(t, base.Add(2*time.Hour), upd[0].NextFireAt)
		require.Equal(t, base.Add(time.Hour), upd[0].LastFireAt)
		require.Equal(t, int64(42), upd[0].LastTaskID)
		_, err = b.ex.ScheduleUpdateMany(b.ctx, []*taskerdriver.ScheduleUpdateParams{{ID: n.ID, ExpectNextFireAt: base.Add(time.Hour),
			NextFireAt: base.Add(3 * time.Hour), Now: base.Add(time.Hour)}})
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict, "another scheduler moved it first")
		_, err = b.ex.ScheduleUpdateMany(b.ctx, []*taskerdriver.ScheduleUpdateParams{{ID: 999999, Now: base}})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)

		// A new definition keeps the name, the pause and the fire state.
		def := scheduleDef("ignored")
		def.Cron, def.TimeZone, def.Context, def.Overlap, def.CatchUp, def.CatchUpLimit, def.Version = "@every 10s", "UTC",
			json.RawMessage(`{}`), taskertype.OverlapAllow, taskertype.CatchUpNone, 0, ""
		def.Source = taskertype.ScheduleSourceTemplate
		upd, err = b.ex.ScheduleUpdateMany(b.ctx, []*taskerdriver.ScheduleUpdateParams{{ID: n.ID, Definition: &def, Now: base.Add(2 * time.Hour)}})
		require.NoError(t, err)
		require.Equal(t, "nightly", upd[0].Name)
		require.Equal(t, "@every 10s", upd[0].Cron)
		require.Equal(t, "UTC", upd[0].TimeZone)
		require.Empty(t, upd[0].Version)
		require.JSONEq(t, `{}`, string(upd[0].Context))
		require.Equal(t, taskertype.CatchUpNone, upd[0].CatchUp)
		require.Equal(t, taskertype.ScheduleSourceTemplate, upd[0].Source)
		require.Equal(t, int64(42), upd[0].LastTaskID)

		// Delete, with the fire records.
		fired, err := b.ex.ScheduleFireInsertMany(b.ctx, []*taskerdriver.ScheduleFireParams{{ScheduleID: n.ID, FireAt: base, Now: base}})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fired)
		deleted, err := b.ex.ScheduleDeleteMany(b.ctx, []string{"nightly", "nope"})
		require.NoError(t, err)
		require.Equal(t, 1, deleted)
		all, err = b.ex.ScheduleList(b.ctx, &taskerdriver.ScheduleListParams{})
		require.NoError(t, err)
		require.Equal(t, []string{"hourly"}, scheduleNames(all))
		pruned, err := b.ex.ScheduleFirePrune(b.ctx, &taskerdriver.ScheduleFirePruneParams{Before: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Zero(t, pruned, "the fires went with their schedule")
	})

	s.run(t, "ScheduleFireOncePerTime", func(t *testing.T, b *bundle) {
		sc, err := b.ex.ScheduleInsertMany(b.ctx, []*taskerdriver.ScheduleInsertParams{{ScheduleDefinition: scheduleDef("s"), NextFireAt: base, Now: base}})
		require.NoError(t, err)
		id := sc[0].ID
		got, err := b.ex.ScheduleFireInsertMany(b.ctx, []*taskerdriver.ScheduleFireParams{
			{ScheduleID: id, FireAt: base, Now: base}, {ScheduleID: id, FireAt: base.Add(time.Second), Now: base},
			{ScheduleID: id, FireAt: base, Now: base},
		})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false}, got)

		// Concurrent records of one fire time: exactly one wins, in
		// transactions (the second waits for the first to end).
		const n = 6
		var wg sync.WaitGroup
		wins := make(chan bool, n)
		for range n {
			wg.Go(func() {
				tx, err := b.ex.Begin(b.ctx)
				if !assertNoError(t, err) {
					return
				}
				defer func() { _ = tx.Rollback(b.ctx) }()
				got, err := tx.ScheduleFireInsertMany(b.ctx, []*taskerdriver.ScheduleFireParams{{ScheduleID: id, FireAt: base.Add(time.Minute), Now: base}})
				if !assertNoError(t, err) {
					return
				}
				if assertNoError(t, tx.Commit(b.ctx)) {
					wins <- got[0]
				}
			})
		}
		wg.Wait()
		close(wins)
		won := 0
		for w := range wins {
			if w {
				won++
			}
		}
		require.Equal(t, 1, won)

		pruned, err := b.ex.ScheduleFirePrune(b.ctx, &taskerdriver.ScheduleFirePruneParams{Before: base.Add(time.Second)})
		require.NoError(t, err)
		require.Equal(t, 1, pruned)
		got, err = b.ex.ScheduleFireInsertMany(b.ctx, []*taskerdriver.ScheduleFireParams{{ScheduleID: id, FireAt: base.Add(time.Second), Now: base}})
		require.NoError(t, err)
		require.Equal(t, []bool{false}, got, "a fire after the prune's bound is kept")
	})
}

func scheduleNames(ss []*taskertype.Schedule) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

// assertNoError reports an error from a goroutine (require may not stop
// the test there).
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}
