//go:build unix

package tasker_test

import (
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testworker/mixeddag"
)

// TestMultiProcessSchedule runs a schedule "@every 1s" on two worker
// processes (internal/testworker) sharing one PostgreSQL database for about
// ten seconds; the process leading the maintenance (so firing the
// schedule) is SIGKILLed midway and restarted. Every fire time from the
// first to the last has exactly one task (catch_up all: the fire times
// missed while no leader ran are created by the next leader), and the
// fire records match the tasks one to one.
func TestMultiProcessSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker processes for ~15s: skipped in -short mode")
	}
	ctx := t.Context()
	mp := newMultiProcess(t)
	url, bin, pool, client := mp.url, mp.bin, mp.pool, mp.client

	env := []string{"TASKER_DATABASE_URL=" + url, "TESTWORKER_SLEEP=10ms", "TESTWORKER_CONCURRENCY=4",
		"TESTWORKER_LEASE=2s", "TESTWORKER_RESCUE=500ms", "TESTWORKER_POLL=200ms"}
	workers := map[string]*testWorker{"A": startTestWorker(t, bin, "A", env), "B": startTestWorker(t, bin, "B", env)}
	for _, w := range workers {
		w.waitLine(t, "READY "+w.id, 60*time.Second)
	}
	_, err := client.CreateSchedule(ctx, &tasker.ScheduleRequest{Name: "tick", TaskName: mixeddag.TemplateName, Cron: "@every 1s",
		Context: map[string]any{"fail_c": false}, CatchUp: tasker.CatchUpAll, CatchUpLimit: 100})
	require.NoError(t, err)
	start := time.Now()

	fires := func() (int, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE source_system = 'schedule'`).Scan(&n)
		return n, err
	}
	waitFor(t, 20*time.Second, "3 fires", func() (bool, error) { n, err := fires(); return n >= 3, err })

	// SIGKILL the leader (the process that fires), then restart it.
	var leader string
	require.NoError(t, pool.QueryRow(ctx, `SELECT leader_id FROM tasker_leaders WHERE name = 'maintenance'`).Scan(&leader))
	require.Contains(t, workers, leader)
	workers[leader].kill(t)
	killed := time.Now()
	t.Logf("killed the leader %s (SIGKILL) %s after the schedule's creation", leader, killed.Sub(start).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "a fire after the kill by the other process", func() (bool, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE source_system = 'schedule' AND created_at > $1`, killed).Scan(&n)
		return n > 0, err
	})
	restarted := startTestWorker(t, bin, leader+"2", env)
	restarted.waitLine(t, "READY "+leader+"2", 60*time.Second)
	waitFor(t, 30*time.Second, "10 s of fires", func() (bool, error) { return time.Since(start) > 10*time.Second, nil })

	// Stop firing, let a fire in flight commit, then count.
	_, err = client.PauseSchedule(ctx, "tick")
	require.NoError(t, err)
	stable, last := 0, -1
	waitFor(t, 10*time.Second, "the fires to settle", func() (bool, error) {
		n, err := fires()
		if n == last {
			stable++
		} else {
			stable, last = 0, n
		}
		return stable >= 5, err
	})

	rows, err := pool.Query(ctx, `SELECT reason FROM tasker_tasks WHERE source_system = 'schedule' ORDER BY reason`)
	require.NoError(t, err)
	var at []time.Time
	seen := map[string]bool{}
	for rows.Next() {
		var reason string
		require.NoError(t, rows.Scan(&reason))
		require.False(t, seen[reason], "one task per fire time: %s twice", reason)
		seen[reason] = true
		name, ts, ok := strings.Cut(reason, "@")
		require.True(t, ok)
		require.Equal(t, "tick", name)
		fire, err := time.Parse(time.RFC3339, ts)
		require.NoError(t, err)
		at = append(at, fire)
	}
	require.NoError(t, rows.Err())
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	require.GreaterOrEqual(t, len(at), 8, "about ten seconds of fires")
	for i := 1; i < len(at); i++ {
		require.Equal(t, time.Second, at[i].Sub(at[i-1]), "no fire time missing between %s and %s", at[i-1], at[i])
	}
	var recorded int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasker_schedule_fires`).Scan(&recorded))
	require.Equal(t, len(at), recorded, "a fire record per task")
	t.Logf("%d fires, %s to %s, one task each", len(at), at[0].Format(time.RFC3339), at[len(at)-1].Format(time.RFC3339))

	for _, w := range []*testWorker{workers[otherThan(leader)], restarted} {
		w.signal(t, syscall.SIGTERM)
	}
	for _, w := range []*testWorker{workers[otherThan(leader)], restarted} {
		w.waitExit(t, 30*time.Second)
		require.NoError(t, w.Err, "worker %s stops gracefully", w.id)
	}
}

func otherThan(id string) string {
	if id == "A" {
		return "B"
	}
	return "A"
}
