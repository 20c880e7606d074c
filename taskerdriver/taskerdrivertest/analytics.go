package taskerdrivertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// SeedAnalytics writes, through ex, the known history that the analytics
// goldens describe, on a timeline starting at t0 (every time is t0 plus
// whole seconds):
//
//   - task 1, shop/order@1.0.0 (a → b), created t0: a runs 1–3 s, b 4–10 s;
//     complete at 10 s.
//   - task 2, shop/order@1.0.0, created 60 s: a runs 61–65 s; b fails
//     (retryable) 66–67 s, runs again 70–78 s; complete at 78 s.
//   - task 3, shop/order@1.0.0, created 120 s: a fails (permanent) 121–122
//     s; the task is in error at 122 s, b still waits for a.
//   - task 4, shop/refund@2.0.0 (one step r), created 180 s: r runs
//     190–220 s; complete at 220 s.
//   - outside the hour [t0, t0+1h): a pending other/x@1 task created an
//     hour before t0, and a pending shop/order@1.0.0 task two hours after.
//
// It returns the ids of tasks 1 to 4.
func SeedAnalytics(ctx context.Context, t *testing.T, ex taskerdriver.Executor, t0 time.Time) []int64 {
	t.Helper()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	create := func(ns, name, version string, s int, steps ...taskerdriver.StepCreateParams) int64 {
		t.Helper()
		res, err := ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: ns, Name: name, Version: version,
			Context: json.RawMessage(`{}`), IdentityHash: fmt.Sprintf("analytics-%d", hashSeq.Add(1)),
			RequestedAt: at(s), Now: at(s), Steps: steps})
		require.NoError(t, err)
		return res.Task.ID
	}
	order := func(s int) int64 {
		return create("shop", "order", "1.0.0", s,
			taskerdriver.StepCreateParams{Name: "a", Handler: "h", RetryLimit: 3, Retryable: true},
			taskerdriver.StepCreateParams{Name: "b", Handler: "h", RetryLimit: 3, Retryable: true, Parents: []int{0}})
	}
	run := func(start int) *taskerdriver.ClaimedStep {
		t.Helper()
		cs, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: at(start), Limit: 1, Owner: "seed", LeaseExpiresAt: at(start + 600)})
		require.NoError(t, err)
		require.Len(t, cs, 1, "one ready step at %d s", start)
		return cs[0]
	}
	finish := func(c *taskerdriver.ClaimedStep, end int, kind string, next int) {
		t.Helper()
		p := &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "seed", Attempt: c.Step.Attempts,
			State: taskertype.StateComplete, Results: json.RawMessage(`{}`), Now: at(end)}
		if kind != "" {
			p.State, p.Results = taskertype.StateError, nil
			p.Error = &taskertype.StepError{Message: "failed", Kind: kind, Attempt: c.Step.Attempts, At: at(end)}
			p.Blocked = kind == "permanent"
			if !p.Blocked {
				p.NextAttemptAt = at(next)
			}
			p.Metadata = json.RawMessage(`{"reason":"attempt_failed","error_kind":"` + kind + `"}`)
		}
		_, err := finishOne(ctx, ex, p)
		require.NoError(t, err)
	}
	done := func(id int64, state taskertype.State, s int) {
		t.Helper()
		_, err := setTaskState(ctx, ex, &taskerdriver.TaskSetStateParams{ID: id, To: state, Now: at(s)})
		require.NoError(t, err)
	}

	t1 := order(0)
	finish(run(1), 3, "", 0)
	finish(run(4), 10, "", 0)
	done(t1, taskertype.StateComplete, 10)

	t2 := order(60)
	finish(run(61), 65, "", 0)
	finish(run(66), 67, "retryable", 70)
	finish(run(70), 78, "", 0)
	done(t2, taskertype.StateComplete, 78)

	t3 := order(120)
	finish(run(121), 122, "permanent", 0)
	done(t3, taskertype.StateError, 122)

	t4 := create("shop", "refund", "2.0.0", 180, taskerdriver.StepCreateParams{Name: "r", Handler: "h", RetryLimit: 1})
	finish(run(190), 220, "", 0)
	done(t4, taskertype.StateComplete, 220)

	create("other", "x", "1", -3600, taskerdriver.StepCreateParams{Name: "x", Handler: "h", RetryLimit: 1})
	order(7200)
	return []int64{t1, t2, t3, t4}
}

// dist is a distribution of the goldens.
func dist(n int, avg, p50, p95, p99, maxV float64) taskerdriver.AnalyticsDistribution {
	return taskerdriver.AnalyticsDistribution{Count: n, Avg: avg, P50: p50, P95: p95, P99: p99, Max: maxV}
}

// requireDist compares distributions to a millionth of a second.
func requireDist(t *testing.T, want, got taskerdriver.AnalyticsDistribution, what string) {
	t.Helper()
	require.Equal(t, want.Count, got.Count, what)
	for _, f := range []struct {
		name   string
		wv, gv float64
	}{{"avg", want.Avg, got.Avg}, {"p50", want.P50, got.P50}, {"p95", want.P95, got.P95}, {"p99", want.P99, got.P99}, {"max", want.Max, got.Max}} {
		require.InDelta(t, f.wv, f.gv, 1e-6, "%s %s", what, f.name)
	}
}

// analytics exercises AnalyticsWindow and AnalyticsOverview on the seeded
// history (SeedAnalytics), with values worked out by hand.
func (s *suite) analytics(t *testing.T) {
	t0 := base
	hour := func(t *testing.T, b *bundle, p *taskerdriver.AnalyticsParams) *taskerdriver.AnalyticsWindow {
		t.Helper()
		if p.Since.IsZero() {
			p.Since, p.Until = t0, t0.Add(time.Hour)
		}
		w, err := b.ex.AnalyticsWindow(b.ctx, p)
		require.NoError(t, err)
		return w
	}

	s.run(t, "AnalyticsWindowGolden", func(t *testing.T, b *bundle) {
		ids := SeedAnalytics(b.ctx, t, b.ex, t0)
		w := hour(t, b, &taskerdriver.AnalyticsParams{Detail: true, Buckets: []float64{10, 30}})
		require.Equal(t, 4, w.Tasks)
		require.Equal(t, 4, w.Analyzed)
		require.Equal(t, map[string]int{"complete": 3, "error": 1}, w.TaskStates)
		require.Equal(t, map[string]int{"complete": 5, "error": 1, "pending": 1}, w.StepStates)
		require.Equal(t, 2, w.TaskTypes)
		requireDist(t, dist(3, 68.0/3, 18, 37.8, 39.56, 40), w.TaskDuration, "task duration")
		requireDist(t, dist(5, 10, 6, 25.6, 29.12, 30), w.StepDuration, "step duration")
		require.Equal(t, []int{1, 1, 1}, w.DurationBuckets)

		require.Len(t, w.Templates, 2)
		require.Equal(t, "order", w.Templates[0].Name)
		require.Equal(t, []int{3, 2, 1}, []int{w.Templates[0].Tasks, w.Templates[0].Complete, w.Templates[0].Error})
		requireDist(t, dist(2, 14, 14, 17.6, 17.92, 18), w.Templates[0].Duration, "order duration")
		require.Equal(t, "refund", w.Templates[1].Name)
		require.Equal(t, "2.0.0", w.Templates[1].Version)
		requireDist(t, dist(1, 40, 40, 40, 40, 40), w.Templates[1].Duration, "refund duration")

		require.Len(t, w.Steps, 3)
		a, bb, r := w.Steps[0], w.Steps[1], w.Steps[2]
		require.Equal(t, []string{"a", "b", "r"}, []string{a.Step, bb.Step, r.Step})
		require.Equal(t, []int{3, 1}, []int{a.Steps, a.FailedAttempts})
		requireDist(t, dist(2, 3, 3, 3.9, 3.98, 4), a.Duration, "a duration")
		requireDist(t, dist(0, 0, 0, 0, 0, 0), a.DependencyWait, "a has no parent")
		require.Equal(t, []int{3, 1}, []int{bb.Steps, bb.FailedAttempts})
		requireDist(t, dist(2, 7, 7, 7.9, 7.98, 8), bb.Duration, "b duration")
		requireDist(t, dist(2, 5, 5, 5.9, 5.98, 6), bb.DependencyWait, "b waits 4 s and 6 s")
		require.Equal(t, []int{1, 0}, []int{r.Steps, r.FailedAttempts})
		requireDist(t, dist(1, 30, 30, 30, 30, 30), r.Duration, "r duration")

		require.Equal(t, 2, w.FailedAttempts)
		require.Equal(t, map[string]int{"retryable": 1, "permanent": 1}, w.ErrorKinds)
		require.Equal(t, 2, w.RetriedSteps, "b of task 2 (completed) and a of task 3 (blocked)")
		require.Equal(t, 1, w.RetriedCompleted)
		requireDist(t, dist(2, 5, 5, 5.9, 5.98, 6), w.DependencyWait, "dependency wait")
		requireDist(t, dist(6, 2.5, 1, 7.75, 9.55, 10), w.QueueWait, "queue wait")
		require.Equal(t, 1, w.WaitingSteps, "b of task 3")

		require.Len(t, w.SlowestTasks, 4)
		require.Equal(t, taskerdriver.AnalyticsSlowTask{TaskID: ids[3], Namespace: "shop", Name: "refund", Version: "2.0.0",
			State: "complete", Duration: 40, Steps: 1, CompleteSteps: 1}, w.SlowestTasks[0])
		require.Equal(t, []int64{ids[3], ids[1], ids[0], ids[2]}, []int64{w.SlowestTasks[0].TaskID, w.SlowestTasks[1].TaskID,
			w.SlowestTasks[2].TaskID, w.SlowestTasks[3].TaskID})
		require.Equal(t, taskerdriver.AnalyticsSlowTask{TaskID: ids[2], Namespace: "shop", Name: "order", Version: "1.0.0",
			State: "error", Duration: 2, Steps: 2, ErrorSteps: 1}, w.SlowestTasks[3])
		require.Len(t, w.SlowestSteps, 5)
		require.Equal(t, []float64{30, 8, 6, 4, 2}, []float64{w.SlowestSteps[0].Duration, w.SlowestSteps[1].Duration,
			w.SlowestSteps[2].Duration, w.SlowestSteps[3].Duration, w.SlowestSteps[4].Duration})
		require.Equal(t, "b", w.SlowestSteps[1].Step)
		require.Equal(t, ids[1], w.SlowestSteps[1].TaskID)
		require.Equal(t, 2, w.SlowestSteps[1].Attempts)
		require.True(t, w.SlowestSteps[1].Retryable)
		require.False(t, w.SlowestSteps[0].Retryable)

		// Top bounds the lists.
		w = hour(t, b, &taskerdriver.AnalyticsParams{Detail: true, Top: 1})
		require.Len(t, w.SlowestTasks, 1)
		require.Len(t, w.SlowestSteps, 1)
		require.Equal(t, []int{3}, w.DurationBuckets, "no bounds: one bucket")
	})

	s.run(t, "AnalyticsWindowScopeAndLimit", func(t *testing.T, b *bundle) {
		SeedAnalytics(b.ctx, t, b.ex, t0)
		w := hour(t, b, &taskerdriver.AnalyticsParams{Namespace: "shop", Name: "refund", Detail: true})
		require.Equal(t, 1, w.Tasks)
		require.Len(t, w.Templates, 1)
		require.Len(t, w.Steps, 1)
		requireDist(t, dist(1, 40, 40, 40, 40, 40), w.TaskDuration, "refund only")

		w = hour(t, b, &taskerdriver.AnalyticsParams{Namespace: "shop", Name: "order", Version: "1.0.0"})
		require.Equal(t, 3, w.Tasks)
		requireDist(t, dist(2, 14, 14, 17.6, 17.92, 18), w.TaskDuration, "order only")
		require.Empty(t, w.Templates, "no detail asked")

		w = hour(t, b, &taskerdriver.AnalyticsParams{Version: "9"})
		require.Equal(t, 0, w.Tasks)

		// The newest two of the window: tasks 4 and 3.
		w = hour(t, b, &taskerdriver.AnalyticsParams{Limit: 2, Detail: true})
		require.Equal(t, 4, w.Tasks)
		require.Equal(t, 2, w.Analyzed)
		require.Equal(t, map[string]int{"complete": 1, "error": 1}, w.TaskStates)

		// The window is [Since, Until): the task two hours later is in the
		// next two hours.
		w = hour(t, b, &taskerdriver.AnalyticsParams{Since: t0.Add(2 * time.Hour), Until: t0.Add(3 * time.Hour)})
		require.Equal(t, 1, w.Tasks)
		require.Equal(t, map[string]int{"pending": 1}, w.TaskStates)
	})

	s.run(t, "AnalyticsEmpty", func(t *testing.T, b *bundle) {
		w := hour(t, b, &taskerdriver.AnalyticsParams{Detail: true, Buckets: []float64{10}})
		require.Equal(t, &taskerdriver.AnalyticsWindow{TaskStates: map[string]int{}, StepStates: map[string]int{},
			DurationBuckets: []int{0, 0}, Templates: []taskerdriver.AnalyticsTemplate{}, Steps: []taskerdriver.AnalyticsStep{},
			SlowestTasks: []taskerdriver.AnalyticsSlowTask{}, SlowestSteps: []taskerdriver.AnalyticsSlowStep{},
			ErrorKinds: map[string]int{}}, w)
		o, err := b.ex.AnalyticsOverview(b.ctx)
		require.NoError(t, err)
		require.Equal(t, &taskerdriver.AnalyticsOverview{}, o)
	})

	s.run(t, "AnalyticsSeriesGolden", func(t *testing.T, b *bundle) {
		SeedAnalytics(b.ctx, t, b.ex, t0)
		// Minutes from t0: task 1 finishes complete at 0:10, task 2 at
		// 1:18, task 3 in error at 2:02, task 4 complete at 3:40; the
		// bucket before t0 and the one after are empty.
		got, err := b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0.Add(-time.Minute), Width: time.Minute, Buckets: 6})
		require.NoError(t, err)
		require.Len(t, got, 6)
		require.Equal(t, taskerdriver.AnalyticsSeriesBucket{}, got[0])
		require.Equal(t, taskerdriver.AnalyticsSeriesBucket{}, got[5])
		type counts struct{ finished, complete, failed, analyzed, steps, attempts int }
		want := []counts{{1, 1, 0, 1, 2, 0}, {1, 1, 0, 1, 2, 1}, {1, 0, 1, 1, 0, 1}, {1, 1, 0, 1, 1, 0}}
		for i, w := range want {
			g := got[i+1]
			require.Equal(t, w, counts{g.Finished, g.Complete, g.Error, g.Analyzed, g.StepsComplete, g.FailedAttempts}, "bucket %d", i+1)
		}
		requireDist(t, dist(2, 4, 4, 5.8, 5.96, 6), got[1].StepDuration, "task 1: a 2 s, b 6 s")
		requireDist(t, dist(2, 6, 6, 7.8, 7.96, 8), got[2].StepDuration, "task 2: a 4 s, b 8 s (its second attempt)")
		requireDist(t, dist(0, 0, 0, 0, 0, 0), got[3].StepDuration, "task 3: no complete step")
		requireDist(t, dist(1, 30, 30, 30, 30, 30), got[4].StepDuration, "task 4: r 30 s")

		// Limit: of tasks 1 and 2 (the first two minutes), the last to
		// finish is analyzed; both are counted.
		got, err = b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0, Width: 2 * time.Minute, Buckets: 2, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []int{2, 2, 1, 2, 1}, []int{got[0].Finished, got[0].Complete, got[0].Analyzed, got[0].StepsComplete, got[0].FailedAttempts})
		requireDist(t, dist(2, 6, 6, 7.8, 7.96, 8), got[0].StepDuration, "task 2 only")
		require.Equal(t, []int{2, 1, 1, 1}, []int{got[1].Finished, got[1].Complete, got[1].Error, got[1].Analyzed})

		// Scope.
		got, err = b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0, Width: time.Hour, Buckets: 1,
			Namespace: "shop", Name: "refund", Version: "2.0.0"})
		require.NoError(t, err)
		require.Equal(t, []int{1, 1, 1, 1}, []int{got[0].Finished, got[0].Complete, got[0].Analyzed, got[0].StepsComplete})
		got, err = b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0, Width: time.Hour, Buckets: 1, Name: "order"})
		require.NoError(t, err)
		require.Equal(t, []int{3, 2, 1, 3, 4, 2}, []int{got[0].Finished, got[0].Complete, got[0].Error, got[0].Analyzed,
			got[0].StepsComplete, got[0].FailedAttempts})
		requireDist(t, dist(4, 5, 5, 7.7, 7.94, 8), got[0].StepDuration, "a 2 s, b 6 s, a 4 s, b 8 s")

		_, err = b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0, Width: time.Hour})
		require.Error(t, err, "no bucket")
	})

	s.run(t, "AnalyticsSeriesEmpty", func(t *testing.T, b *bundle) {
		got, err := b.ex.AnalyticsSeries(b.ctx, &taskerdriver.AnalyticsSeriesParams{Since: t0, Width: 15 * time.Minute, Buckets: 4})
		require.NoError(t, err)
		require.Equal(t, make([]taskerdriver.AnalyticsSeriesBucket, 4), got)
	})

	s.run(t, "AnalyticsOverview", func(t *testing.T, b *bundle) {
		SeedAnalytics(b.ctx, t, b.ex, t0)
		o, err := b.ex.AnalyticsOverview(b.ctx)
		require.NoError(t, err)
		require.Equal(t, &taskerdriver.AnalyticsOverview{ActiveTasks: 2, Namespaces: 2, TaskTypes: 3}, o)
	})
}
