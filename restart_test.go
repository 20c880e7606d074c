package tasker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testio"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// TestPostgresRestart restarts PostgreSQL while an in-process worker runs 50
// tasks: the worker must survive the outage (log, back off, reconnect), no
// result may be lost (written again after the restart, or rescued and run
// again), every task must complete and the audit trail must stay exact.
//
// It needs the throwaway cluster of internal/pgtest (pgtest.Restart skips
// with TASKER_TEST_DATABASE_URL); .ci/run runs it without that variable. It
// does not run in parallel: the cluster is shared by the package's tests.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		// pgtest.Restart would skip as well, but only after the tasks ran.
		t.Skipf("restarts the server: needs the throwaway cluster (unset %s)", pgtest.EnvDatabaseURL)
	}
	testStart := time.Now()
	url := pgtest.URL(t)
	ctx := t.Context()

	// The test's own pool, for polling; its queries may fail during the
	// restart.
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	logs := &testio.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	defer func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	}()

	// The handler records each run in memory (the database may be down) and
	// fails "branch_b" on its first attempt, so that retries cross the
	// restart too.
	rec := newRunRecorder()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("restart_step", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
		end := rec.start(s.Step.ID, s.Attempt)
		timer := time.NewTimer(150 * time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			end("cancelled")
			return nil, ctx.Err()
		}
		if s.Step.Name == "branch_b" && s.Attempt == 1 {
			end("fail")
			return nil, fmt.Errorf("branch_b fails on its first attempt")
		}
		end("ok")
		return map[string]any{"step": s.Step.Name, "attempt": s.Attempt}, nil
	}))
	step := func(name string, deps ...string) tasker.StepTemplate {
		return tasker.StepTemplate{Name: name, Handler: "restart_step", DependsOn: deps, RetryLimit: 5}
	}
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "restart_diamond", Version: "1.0.0", Steps: []tasker.StepTemplate{
		step("start"), step("branch_a", "start"), step("branch_b", "start"), step("finish", "branch_a", "branch_b"),
	}}, tasker.RegisterOptions{}))

	drv, err := taskerpgx.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close() })
	client, err := tasker.NewClient(ctx, drv, &tasker.Config{
		Registry: reg, Logger: logger,
		Backoff: tasker.Backoff{Base: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Worker: tasker.WorkerConfig{
			ID: "restart-worker", Concurrency: 8,
			LeaseDuration: 3 * time.Second, RescueInterval: 500 * time.Millisecond,
			// No fallback poll within the test: the worker must be woken by
			// LISTEN/NOTIFY, so its listener must reconnect after the restart.
			PollInterval: time.Hour,
		},
	})
	require.NoError(t, err)

	const n = 50
	ids := make([]int64, n)
	for i := range ids {
		res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "restart_diamond", Context: map[string]int{"i": i}})
		require.NoError(t, err)
		ids[i] = res.Task.ID
	}
	require.NoError(t, client.Start(context.Background()))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(sctx)
		}
	})

	// Restart once some tasks are done and some steps are running.
	var doneBefore int
	waitFor(t, 30*time.Second, "some tasks complete and some steps running", func() (bool, error) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state = 'complete'`).Scan(&doneBefore); err != nil {
			return false, err
		}
		return doneBefore >= 5 && doneBefore < n && rec.running() > 0, nil
	})
	inFlight := rec.running()
	restartAt := time.Now()
	pgtest.Restart(t)
	restarted := time.Now()
	t.Logf("%s: restarted PostgreSQL in %s with %d/%d tasks complete and %d handlers running; %d runs ended during the restart",
		time.Since(testStart).Round(time.Millisecond), restarted.Sub(restartAt).Round(time.Millisecond), doneBefore, n, inFlight, rec.endedBetween(restartAt, restarted))

	waitFor(t, 60*time.Second, "every task final after the restart", func() (bool, error) {
		var unfinished int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state NOT IN ('complete','error','cancelled','resolved_manually')`).Scan(&unfinished)
		return err == nil && unfinished == 0, err
	})
	t.Logf("all tasks final %s after the restart", time.Since(restarted).Round(time.Millisecond))

	// Tasks created by another process (here: another pool) reach the idle
	// worker only through NOTIFY: its listener reconnected.
	other, err := taskerpgx.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	otherClient, err := tasker.NewClient(ctx, other, &tasker.Config{Registry: reg, SkipMigrate: true})
	require.NoError(t, err)
	const more = 5
	for i := range more {
		res, err := otherClient.CreateTask(ctx, &tasker.TaskRequest{Name: "restart_diamond", Context: map[string]int{"i": n + i}})
		require.NoError(t, err)
		ids = append(ids, res.Task.ID)
	}
	notified := time.Now()
	waitFor(t, 20*time.Second, "tasks created by another process complete (LISTEN/NOTIFY after the restart)", func() (bool, error) {
		var open int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state <> 'complete'`).Scan(&open)
		return err == nil && open == 0, err
	})
	t.Logf("%d tasks created by another process completed in %s", more, time.Since(notified).Round(time.Millisecond))

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stopStart := time.Now()
	require.NoError(t, client.Stop(sctx), "the worker survived the restart and stops cleanly")
	t.Logf("Stop took %s", time.Since(stopStart).Round(time.Millisecond))
	stopped = true

	var complete int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state = 'complete'`).Scan(&complete))
	require.Equal(t, len(ids), complete, "every task completes")

	// Every step is complete with a result, its attempts are exactly its
	// handler runs (a result written again after the restart adds none; a
	// step rescued after a lost commit adds the lost attempt and its rerun),
	// and its runs never overlap.
	rows, err := pool.Query(ctx, `SELECT s.workflow_step_id, s.name, s.state, s.attempts, s.results IS NOT NULL AND s.results <> 'null'::jsonb,
		(SELECT count(*) FROM tasker_workflow_step_transitions x WHERE x.workflow_step_id = s.workflow_step_id AND x.metadata->>'error_kind' = 'worker_lost')
		FROM tasker_workflow_steps s ORDER BY 1`)
	require.NoError(t, err)
	var problems []string
	steps, lost := 0, 0
	for rows.Next() {
		var (
			id              int64
			name, state     string
			attempts, nLost int
			hasResult       bool
		)
		require.NoError(t, rows.Scan(&id, &name, &state, &attempts, &hasResult, &nLost))
		steps++
		lost += nLost
		runs := rec.runs(id)
		switch {
		case state != "complete":
			problems = append(problems, fmt.Sprintf("step %d (%s) is %s", id, name, state))
		case !hasResult:
			problems = append(problems, fmt.Sprintf("step %d (%s) is complete without results: a result was lost", id, name))
		case attempts != len(runs):
			problems = append(problems, fmt.Sprintf("step %d (%s): attempts %d but %d handler runs %v", id, name, attempts, len(runs), runs))
		case runs[len(runs)-1].outcome != "ok":
			problems = append(problems, fmt.Sprintf("step %d (%s): last run %v is not a success", id, name, runs[len(runs)-1]))
		}
		for i := 1; i < len(runs); i++ {
			if runs[i].start.Before(runs[i-1].end) {
				problems = append(problems, fmt.Sprintf("step %d (%s): runs overlap: %v and %v", id, name, runs[i-1], runs[i]))
			}
		}
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(ids)*4, steps)
	if lost > 0 {
		t.Logf("%d attempts were rescued as worker_lost (commits lost in the restart, or leases expired during the outage)", lost)
	}
	t.Logf("worker log: %d failed passes, %d rescues, %d dropped results",
		strings.Count(logs.String(), "worker pass failed"), strings.Count(logs.String(), "rescued step"),
		strings.Count(logs.String(), "no longer owned dropped"))
	for _, p := range problems {
		t.Error(p)
	}

	for _, p := range auditTrailProblems(t, pool) {
		t.Error(p)
	}
}

// runRecorder records handler runs in memory, by step.
type runRecorder struct {
	mu       sync.Mutex
	byStep   map[int64][]*recordedRun
	inFlight atomic.Int32
}

type recordedRun struct {
	attempt    int
	start, end time.Time
	outcome    string
}

func (r recordedRun) String() string {
	return fmt.Sprintf("{attempt %d %s %s..%s}", r.attempt, r.outcome, r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"))
}

func newRunRecorder() *runRecorder { return &runRecorder{byStep: map[int64][]*recordedRun{}} }

// start records the start of a run and returns the function that records
// its end.
func (r *runRecorder) start(stepID int64, attempt int) (end func(outcome string)) {
	run := &recordedRun{attempt: attempt, start: time.Now()}
	r.inFlight.Add(1)
	r.mu.Lock()
	r.byStep[stepID] = append(r.byStep[stepID], run)
	r.mu.Unlock()
	return func(outcome string) {
		r.mu.Lock()
		run.end, run.outcome = time.Now(), outcome
		r.mu.Unlock()
		r.inFlight.Add(-1)
	}
}

func (r *runRecorder) running() int { return int(r.inFlight.Load()) }

// endedBetween counts the runs that ended in [from, to].
func (r *runRecorder) endedBetween(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := 0
	for _, runs := range r.byStep {
		for _, run := range runs {
			if !run.end.IsZero() && !run.end.Before(from) && !run.end.After(to) {
				k++
			}
		}
	}
	return k
}

// runs returns a step's runs in start order.
func (r *runRecorder) runs(stepID int64) []recordedRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recordedRun, 0, len(r.byStep[stepID]))
	for _, run := range r.byStep[stepID] {
		out = append(out, *run)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// waitFor polls cond every 50ms until it holds, failing the test after
// timeout. Errors of cond are tolerated (the server may be restarting) and
// reported if the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s (last error: %v)", timeout, what, lastErr)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for: %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// auditRow is one row of tasker_task_transitions or
// tasker_workflow_step_transitions.
type auditRow struct {
	from       *string
	to         string
	meta       json.RawMessage
	sortKey    int
	mostRecent bool
}

func (r auditRow) String() string {
	from := "NULL"
	if r.from != nil {
		from = *r.from
	}
	return fmt.Sprintf("[%d %s→%s recent=%t %s]", r.sortKey, from, r.to, r.mostRecent, r.meta)
}

// loadAudit reads a transition table, by entity, in sort_key order.
func loadAudit(t *testing.T, pool *pgxpool.Pool, table, idCol string) map[int64][]auditRow {
	t.Helper()
	// most_recent as the API derives it (driverkit.TransitionQuery).
	rows, err := pool.Query(t.Context(), `SELECT `+idCol+`, from_state, to_state, metadata, sort_key,
		sort_key = max(sort_key) OVER (PARTITION BY `+idCol+`) FROM `+table+` ORDER BY `+idCol+`, sort_key, id`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64][]auditRow{}
	for rows.Next() {
		var id int64
		var r auditRow
		require.NoError(t, rows.Scan(&id, &r.from, &r.to, &r.meta, &r.sortKey, &r.mostRecent))
		out[id] = append(out[id], r)
	}
	require.NoError(t, rows.Err())
	return out
}

// auditTrailProblems checks the audit invariants of every task and step in
// the database, directly on the tables: transition sort keys are exactly 0,
// 10, 20, … up to the entity's transition_seq × 10 (no row missing or
// duplicated), the first row goes from NULL to pending, each row starts
// where the previous one ended, exactly the last row is most_recent, and
// the last row ends in the entity's current state.
func auditTrailProblems(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var problems []string
	for _, e := range []struct{ kind, entities, idCol, transitions string }{
		{"task", "tasker_tasks", "task_id", "tasker_task_transitions"},
		{"step", "tasker_workflow_steps", "workflow_step_id", "tasker_workflow_step_transitions"},
	} {
		trails := loadAudit(t, pool, e.transitions, e.idCol)
		rows, err := pool.Query(t.Context(), `SELECT `+e.idCol+`, state, transition_seq FROM `+e.entities)
		require.NoError(t, err)
		seen := map[int64]bool{}
		for rows.Next() {
			var id int64
			var state string
			var seq int
			require.NoError(t, rows.Scan(&id, &state, &seq))
			seen[id] = true
			if p := chainProblem(trails[id], state, seq); p != "" {
				problems = append(problems, fmt.Sprintf("%s %d (state %s, transition_seq %d): %s; trail %v", e.kind, id, state, seq, p, trails[id]))
			}
		}
		require.NoError(t, rows.Err())
		for id := range trails {
			if !seen[id] {
				problems = append(problems, fmt.Sprintf("%s transitions of %s %d, which does not exist", e.kind, e.kind, id))
			}
		}
	}
	return problems
}

// chainProblem describes what is wrong with one entity's trail ("" if
// nothing).
func chainProblem(trail []auditRow, state string, seq int) string {
	if len(trail) == 0 {
		return "no transitions"
	}
	if trail[0].from != nil || trail[0].to != "pending" {
		return "the first transition is not NULL→pending"
	}
	for i, r := range trail {
		if r.sortKey != i*10 {
			return fmt.Sprintf("transition %d has sort_key %d, want %d (a row missing or duplicated)", i, r.sortKey, i*10)
		}
		if r.mostRecent != (i == len(trail)-1) {
			return fmt.Sprintf("transition %d most_recent=%t", i, r.mostRecent)
		}
		if i > 0 && (r.from == nil || *r.from != trail[i-1].to) {
			return fmt.Sprintf("transition %d does not start where transition %d ended (%s)", i, i-1, trail[i-1].to)
		}
	}
	last := trail[len(trail)-1]
	if last.to != state {
		return fmt.Sprintf("the last transition ends in %s, not the current state", last.to)
	}
	if last.sortKey != seq*10 {
		return fmt.Sprintf("the last sort_key is %d but transition_seq is %d (rows missing)", last.sortKey, seq)
	}
	return ""
}

// metaOf decodes transition metadata (nil when it is not an object).
func metaOf(raw json.RawMessage) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// metaInt reads an integer field of decoded metadata (-1 when absent).
func metaInt(m map[string]any, key string) int {
	if f, ok := m[key].(float64); ok {
		return int(f)
	}
	return -1
}

func metaString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}
