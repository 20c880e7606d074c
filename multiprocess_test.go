//go:build unix

package tasker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/proctest"
	"github.com/tasker-go/tasker/internal/testworker/mixeddag"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// TestMultiProcess runs 200 tasks of a mixed DAG on three worker processes
// (internal/testworker) sharing one PostgreSQL database. Worker A is killed
// with SIGKILL while it runs steps, worker B is stopped gracefully (SIGTERM,
// 20ms drain: the steps it still runs are given back) while work remains and
// replaced by B2, and C runs throughout; B and C run two worker passes at
// once (WorkerConfig.Passes). Then:
//
//   - every task ends as predicted: error exactly when its context asks
//     branch_c to fail permanently (then finish stays pending), complete
//     otherwise;
//   - no step's handler runs overlap in time (a run killed with A ends at
//     the kill);
//   - every claim in the audit trail has its recorded run and every run its
//     claim (only A may have claimed a step and died before its handler
//     recorded the start); a step's attempts are its claims minus the
//     attempts given back by B's graceful stop, which are exactly the runs
//     B's handlers recorded as cancelled;
//   - the steps A was running are rescued with kind worker_lost (and only
//     A's); the graceful stop loses no lease;
//   - the audit trail is exact (see auditTrailProblems).
func TestMultiProcess(t *testing.T) {
	ctx := t.Context()
	// The test process creates the tasks; it runs no worker.
	mp := newMultiProcess(t)
	url, bin, pool, client := mp.url, mp.bin, mp.pool, mp.client

	const n = 200
	failC := map[int64]bool{} // task → its context asks for the permanent failure
	for i := range n {
		fail := i%7 == 3
		res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "mixed_dag", Context: map[string]any{"i": i, "fail_c": fail}})
		require.NoError(t, err)
		failC[res.Task.ID] = fail
	}

	env := []string{"TASKER_DATABASE_URL=" + url, "TESTWORKER_SLEEP=100ms", "TESTWORKER_CONCURRENCY=8",
		"TESTWORKER_LEASE=2s", "TESTWORKER_RESCUE=500ms", "TESTWORKER_POLL=200ms"}
	a := startTestWorker(t, bin, "A", env)
	// B's steps take 300ms and its drain is 20ms: a step it started just
	// before SIGTERM is still running when the drain ends. B and C run two
	// passes at once (WorkerConfig.Passes), A and B2 one.
	b := startTestWorker(t, bin, "B", append(env, "TESTWORKER_SLEEP=300ms", "TESTWORKER_DRAIN=20ms", "TESTWORKER_PASSES=2"))
	c := startTestWorker(t, bin, "C", append(env, "TESTWORKER_PASSES=2"))
	for _, w := range []*testWorker{a, b, c} {
		w.waitLine(t, "READY "+w.id, 60*time.Second)
	}

	// SIGKILL A in the middle of steps: handlers that started a while ago
	// and have not ended.
	waitFor(t, 30*time.Second, "worker A in the middle of steps", func() (bool, error) {
		var running int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM testworker_runs WHERE worker = 'A' AND ended_at IS NULL
			AND started_at < clock_timestamp() - interval '30 milliseconds'`).Scan(&running)
		return running >= 3, err
	})
	a.kill(t)
	var killedAt time.Time // on the database clock, like the runs
	require.NoError(t, pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&killedAt))
	var killedRunning int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM testworker_runs WHERE worker = 'A' AND ended_at IS NULL`).Scan(&killedRunning))
	t.Logf("killed A (SIGKILL) with %d runs in flight", killedRunning)

	// Once A's steps are rescued, stop B gracefully while it has just
	// started a step (so that the 20ms drain gives back at least one), and
	// while work remains; start B2 in its place.
	waitFor(t, 30*time.Second, "a step of A rescued as worker_lost", func() (bool, error) {
		var lost int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_step_transitions WHERE metadata->>'error_kind' = 'worker_lost'`).Scan(&lost)
		return lost > 0, err
	})
	waitFor(t, 30*time.Second, "worker B just started a step", func() (bool, error) {
		var fresh int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM testworker_runs WHERE worker = 'B' AND ended_at IS NULL
			AND started_at > clock_timestamp() - interval '40 milliseconds'`).Scan(&fresh)
		return fresh > 0, err
	})
	b.signal(t, syscall.SIGTERM)
	var unfinished int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state IN ('pending','in_progress')`).Scan(&unfinished))
	require.Positive(t, unfinished, "work remains when B stops (the test must stop B earlier)")
	b.waitExit(t, 30*time.Second)
	require.NoError(t, b.Err, "B stops gracefully with exit status 0")
	b.waitLine(t, "STOPPED B", time.Second)
	t.Logf("stopped B (SIGTERM) with %d tasks unfinished", unfinished)
	b2 := startTestWorker(t, bin, "B2", env)
	b2.waitLine(t, "READY B2", 60*time.Second)

	start := time.Now()
	waitFor(t, 90*time.Second, "all 200 tasks final", func() (bool, error) {
		var open int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE state NOT IN ('complete','error','cancelled','resolved_manually')`).Scan(&open)
		return open == 0, err
	})
	t.Logf("all tasks final %s after B stopped", time.Since(start).Round(time.Millisecond))
	for _, w := range []*testWorker{c, b2} {
		w.signal(t, syscall.SIGTERM)
	}
	for _, w := range []*testWorker{c, b2} {
		w.waitExit(t, 30*time.Second)
		require.NoError(t, w.Err, "worker %s stops gracefully", w.id)
	}
	for _, w := range []*testWorker{a, b, c, b2} {
		if r := w.StderrText(); strings.Contains(r, "DATA RACE") {
			t.Errorf("worker %s reported a data race:\n%s", w.id, r)
		}
	}

	mpCheck(t, pool, failC, killedAt)
	for _, p := range auditTrailProblems(t, pool) {
		t.Error(p)
	}
}

// mpRun is a row of testworker_runs.
type mpRun struct {
	id         int64
	stepID     int64
	attempt    int
	worker     string
	start, end time.Time // end is the kill time for a run killed with A
	killed     bool
	outcome    string
}

func (r mpRun) String() string {
	out := r.outcome
	if r.killed {
		out = "killed"
	}
	return fmt.Sprintf("{run %d attempt %d on %s: %s %s..%s}", r.id, r.attempt, r.worker, out,
		r.start.Format("15:04:05.000000"), r.end.Format("15:04:05.000000"))
}

type mpStep struct {
	id, taskID       int64
	name, state      string
	attempts         int
	blocked          bool
	runs             []mpRun
	trail            []auditRow
	lastErrorKind    string
	lastErrorMessage string
}

// mpCheck asserts the outcome, run and attempt rules of TestMultiProcess.
func mpCheck(t *testing.T, pool *pgxpool.Pool, failC map[int64]bool, killedAt time.Time) {
	t.Helper()
	ctx := t.Context()

	// Tasks: error exactly when the context asks for it.
	rows, err := pool.Query(ctx, `SELECT task_id, state FROM tasker_tasks`)
	require.NoError(t, err)
	states := map[int64]string{}
	for rows.Next() {
		var id int64
		var state string
		require.NoError(t, rows.Scan(&id, &state))
		states[id] = state
	}
	require.NoError(t, rows.Err())
	require.Len(t, states, len(failC))
	nErr := 0
	for id, fail := range failC {
		want := "complete"
		if fail {
			want = "error"
			nErr++
		}
		if states[id] != want {
			t.Errorf("task %d (fail_c=%t) is %s, want %s", id, fail, states[id], want)
		}
	}
	taskTrails := loadAudit(t, pool, "tasker_task_transitions", "task_id")
	for id, fail := range failC {
		want := []string{"pending", "in_progress", "complete"}
		if fail {
			want[2] = "error"
		}
		var got []string
		for _, r := range taskTrails[id] {
			got = append(got, r.to)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("task %d moved through %v, want %v", id, got, want)
		}
	}

	// Steps, their runs and their audit trails.
	steps := map[int64]*mpStep{}
	rows, err = pool.Query(ctx, `SELECT workflow_step_id, task_id, name, state, attempts, blocked,
		coalesce(last_error->>'kind', ''), coalesce(last_error->>'message', '') FROM tasker_workflow_steps`)
	require.NoError(t, err)
	for rows.Next() {
		s := &mpStep{}
		require.NoError(t, rows.Scan(&s.id, &s.taskID, &s.name, &s.state, &s.attempts, &s.blocked, &s.lastErrorKind, &s.lastErrorMessage))
		steps[s.id] = s
	}
	require.NoError(t, rows.Err())
	require.Len(t, steps, 6*len(failC))
	rows, err = pool.Query(ctx, `SELECT id, step_id, attempt, worker, started_at, ended_at, coalesce(outcome, '') FROM testworker_runs ORDER BY started_at, id`)
	require.NoError(t, err)
	nRuns := 0
	for rows.Next() {
		var r mpRun
		var end *time.Time
		require.NoError(t, rows.Scan(&r.id, &r.stepID, &r.attempt, &r.worker, &r.start, &end, &r.outcome))
		if end != nil {
			r.end = *end
		} else {
			r.killed = true
			r.end = killedAt
			if r.start.After(killedAt) { // a start the server committed after A died
				r.end = r.start
			}
		}
		s := steps[r.stepID]
		if s == nil {
			t.Errorf("run %v of unknown step %d", r, r.stepID)
			continue
		}
		s.runs = append(s.runs, r)
		nRuns++
	}
	require.NoError(t, rows.Err())
	for id, trail := range loadAudit(t, pool, "tasker_workflow_step_transitions", "workflow_step_id") {
		if s := steps[id]; s != nil {
			s.trail = trail
		}
	}

	var lostTotal, releasedTotal, cancelledTotal, claimsWithoutRun, killedRuns int
	bad := 0
	for _, s := range sortedSteps(steps) {
		problems := mpStepProblems(s, failC[s.taskID])
		stats := mpStepStats(s)
		lostTotal += stats.lost
		releasedTotal += stats.released
		cancelledTotal += stats.cancelled
		claimsWithoutRun += stats.claimsWithoutRun
		killedRuns += stats.killed
		if len(problems) > 0 {
			bad++
			if bad <= 20 {
				t.Errorf("task %d step %d (%s, %s, attempts %d):\n  %s\n  runs: %v\n  transitions: %v",
					s.taskID, s.id, s.name, s.state, s.attempts, strings.Join(problems, "\n  "), s.runs, s.trail)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d steps with problems in all", bad)
	}
	t.Logf("%d tasks (%d in error as asked), %d steps, %d handler runs; A: %d runs killed, %d claims without a run, %d attempts rescued as worker_lost; B: %d attempts given back, %d runs cancelled",
		len(failC), nErr, len(steps), nRuns, killedRuns, claimsWithoutRun, lostTotal, releasedTotal, cancelledTotal)
	if lostTotal == 0 {
		t.Error("no step was rescued with kind worker_lost after A was killed")
	}
	if releasedTotal == 0 {
		t.Error("B's graceful stop gave back no step (the test stops B right after it started one, with a 20ms drain)")
	}
}

func sortedSteps(steps map[int64]*mpStep) []*mpStep {
	out := make([]*mpStep, 0, len(steps))
	for _, s := range steps {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

type mpClaim struct {
	attempt int
	worker  string
}

type mpStats struct{ lost, released, cancelled, claimsWithoutRun, killed int }

// mpClaims reads a step's trail: its claims (pending→in_progress, with
// attempt and worker), the attempts rescued as worker_lost (with the lost
// worker's error message) and the claims given back on shutdown: released
// after their handler started (and was cancelled), or unrun (claimed by a
// pass that raced with the stop, given back before any handler started).
func mpClaims(s *mpStep) (claims []mpClaim, lost map[int]string, released, unrun []mpClaim, other []string) {
	lost = map[int]string{}
	var current mpClaim
	for _, r := range s.trail {
		m := metaOf(r.meta)
		switch {
		case r.to == "in_progress":
			current = mpClaim{metaInt(m, "attempt"), metaString(m, "worker")}
			claims = append(claims, current)
		case r.from != nil && *r.from == "in_progress" && r.to == "error" && metaString(m, "error_kind") == "worker_lost":
			lost[metaInt(m, "attempt")] = metaString(m, "error")
		case r.from != nil && *r.from == "in_progress" && r.to == "pending":
			if metaString(m, "reason") != "released_on_shutdown" || metaString(m, "worker") != current.worker {
				other = append(other, fmt.Sprintf("in_progress→pending that is not a release by the claiming worker %s: %s", current.worker, r.meta))
			}
			if started, ok := m["started"].(bool); ok && !started {
				unrun = append(unrun, current)
			} else {
				released = append(released, current)
			}
		}
	}
	return claims, lost, released, unrun, other
}

func mpStepStats(s *mpStep) mpStats {
	claims, lost, released, unrun, _ := mpClaims(s)
	st := mpStats{lost: len(lost), released: len(released) + len(unrun)}
	have := map[mpClaim]int{}
	for _, r := range s.runs {
		have[mpClaim{r.attempt, r.worker}]++
		if r.outcome == "cancelled" {
			st.cancelled++
		}
		if r.killed {
			st.killed++
		}
	}
	for _, c := range claims {
		if have[c] > 0 {
			have[c]--
		} else {
			st.claimsWithoutRun++
		}
	}
	return st
}

// mpStepProblems lists what is wrong with one step.
func mpStepProblems(s *mpStep, failC bool) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	// The final state the rules predict.
	switch {
	case failC && s.name == "branch_c":
		if s.state != "error" || !s.blocked {
			add("want error and blocked (permanent failure), got %s blocked=%t", s.state, s.blocked)
		}
	case failC && s.name == "finish":
		if s.state != "pending" || s.attempts != 0 || len(s.runs) != 0 {
			add("want pending and never run (its parent branch_c failed), got %s with %d attempts and %d runs", s.state, s.attempts, len(s.runs))
		}
	default:
		if s.state != "complete" {
			add("want complete, got %s", s.state)
		}
	}

	claims, lost, released, unrun, other := mpClaims(s)
	p = append(p, other...)
	isUnrun := map[mpClaim]bool{}
	for _, c := range unrun {
		isUnrun[c] = true
	}

	// Runs never overlap.
	for i := 1; i < len(s.runs); i++ {
		if prev := s.runs[i-1]; s.runs[i].start.Before(prev.end) {
			add("runs overlap: %v and %v", prev, s.runs[i])
		}
	}

	// Claims and runs match one to one (by attempt and worker), except
	// claims of A whose handler had not recorded its start when A died.
	have := map[mpClaim]int{}
	for _, r := range s.runs {
		have[mpClaim{r.attempt, r.worker}]++
	}
	for _, c := range claims {
		switch {
		case have[c] > 0:
			have[c]--
		case isUnrun[c]:
			// given back before its handler started: no run, by design
		case c.worker == "A":
			if _, ok := lost[c.attempt]; !ok {
				add("attempt %d claimed by A has no run and was not rescued as worker_lost", c.attempt)
			}
		default:
			add("attempt %d claimed by %s has no recorded run", c.attempt, c.worker)
		}
	}
	for c, k := range have {
		if k > 0 {
			add("%d runs of attempt %d on %s without a claim in the audit trail", k, c.attempt, c.worker)
		}
	}

	// Attempts: every claim counts, except those given back on shutdown;
	// those are exactly the runs B's handlers saw cancelled.
	if want := len(claims) - len(released) - len(unrun); s.attempts != want {
		add("attempts %d, want %d (%d claims − %d given back)", s.attempts, want, len(claims), len(released)+len(unrun))
	}
	var cancelled []mpClaim
	for _, r := range s.runs {
		if r.outcome == "cancelled" {
			cancelled = append(cancelled, mpClaim{r.attempt, r.worker})
		}
	}
	if fmt.Sprint(cancelled) != fmt.Sprint(released) {
		add("runs cancelled %v but attempts given back %v", cancelled, released)
	}
	for _, c := range append(released, unrun...) {
		if c.worker != "B" {
			add("attempt %d given back by %s, which was not stopped", c.attempt, c.worker)
		}
	}
	// Counted runs: those not cancelled, plus A's claims without a run.
	counted := 0
	for _, r := range s.runs {
		if r.outcome != "cancelled" {
			counted++
		}
	}
	if s.attempts < counted {
		add("attempts %d below the %d runs that were not given back", s.attempts, counted)
	}

	// Lost attempts: only A's, and every run killed with A was rescued.
	for attempt, msg := range lost {
		if !strings.Contains(msg, "worker A lost") {
			add("attempt %d rescued as worker_lost but not from A: %q", attempt, msg)
		}
	}
	for _, r := range s.runs {
		if r.killed {
			if r.worker != "A" {
				add("run %v never ended but its worker was not killed", r)
			} else if _, ok := lost[r.attempt]; !ok {
				add("run %v was killed with A but its attempt was not rescued as worker_lost", r)
			}
		}
	}

	// Outcomes: only the last counted run decides; an earlier successful
	// run is possible only on A when A died before recording it.
	var last *mpRun
	for i := range s.runs {
		r := &s.runs[i]
		if r.outcome == "cancelled" {
			continue
		}
		if last != nil && (last.outcome == "ok" || last.outcome == "permanent") {
			if _, ok := lost[last.attempt]; !ok || last.worker != "A" {
				add("run %v ran after %v had already finished the step", *r, *last)
			}
		}
		last = r
	}
	if last != nil && !last.killed {
		switch {
		case s.state == "complete" && last.outcome != "ok":
			add("complete, but its last run %v did not succeed", *last)
		case s.state == "error" && last.outcome != "permanent":
			add("in error, but its last run %v is not the permanent failure", *last)
		}
	}
	return p
}

// buildTestWorker builds internal/testworker into the test's temporary
// directory (with the race detector when the test binary has it).
func buildTestWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testworker")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	cmd := exec.CommandContext(t.Context(), "go", append(args, "./internal/testworker")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./internal/testworker:\n%s", out)
	return bin
}

// testWorker is a running internal/testworker process.
type testWorker struct {
	*proctest.Child
	id   string
	seen []string
}

// startTestWorker starts a worker process; t.Cleanup kills it (SIGKILL) if it
// still runs and shows its stderr if the test failed.
func startTestWorker(t *testing.T, bin, id string, env []string) *testWorker {
	t.Helper()
	w := &testWorker{id: id}
	// Registered before Start's kill, so it runs after it (cleanups run
	// last-registered first): the stderr of a worker that has exited.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stderr of worker %s (tail):\n%s", id, w.StderrTail(6000))
		}
	})
	cmd := exec.Command(bin, "-id", id)
	cmd.Env = append(append(os.Environ(), env...), "GORACE=halt_on_error=0")
	w.Child = proctest.Start(t, cmd, 64)
	return w
}

// waitLine waits for a line on the worker's stdout.
func (w *testWorker) waitLine(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	if slices.Contains(w.seen, want) {
		return
	}
	// take records a line read and tells whether it is the one wanted.
	take := func(l string) bool {
		w.seen = append(w.seen, l)
		return l == want
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-w.Lines:
			if !ok {
				// The output ended: the worker exits.
				<-w.Done
				t.Fatalf("worker %s exited (%v) before printing %q; stderr:\n%s", w.id, w.Err, want, w.StderrTail(4000))
			}
			if take(l) {
				return
			}
		case <-timer.C:
			t.Fatalf("worker %s did not print %q within %s", w.id, want, timeout)
		}
	}
}

func (w *testWorker) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, w.Cmd.Process.Signal(sig), "signal worker %s", w.id)
}

// kill kills the worker with SIGKILL and waits until it is gone.
func (w *testWorker) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, w.Cmd.Process.Kill())
	w.waitExit(t, 30*time.Second)
}

func (w *testWorker) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-w.Done:
	case <-time.After(timeout):
		t.Fatalf("worker %s did not exit within %s", w.id, timeout)
	}
}

// TestMultiProcessGracefulStopDuringClaim reproduces in one process what
// worker B of TestMultiProcess runs into (intermittently, as a data race
// reported by B under -race): Stop is called while the worker's pass is
// claiming steps. The documented contract (Client.Stop, docs/design.md
// "Shutdown") is that running handlers get until ctx is done, then are
// cancelled and their steps given back. The claim is held inside the
// pass's transaction until Stop's drain timeout has expired, then let go.
// multiProcess is the set-up of the multi-process tests: a fresh PostgreSQL
// database with the runs table, the test worker binary, and a client of
// the test process (it runs no worker) that knows mpTemplate.
type multiProcess struct {
	url    string
	bin    string
	pool   *pgxpool.Pool
	client *tasker.Client
}

func newMultiProcess(t *testing.T) *multiProcess {
	t.Helper()
	ctx := t.Context()
	mp := &multiProcess{url: pgtest.URL(t), bin: buildTestWorker(t)}
	var err error
	mp.pool, err = pgxpool.New(ctx, mp.url)
	require.NoError(t, err)
	t.Cleanup(mp.pool.Close)
	_, err = mp.pool.Exec(ctx, mixeddag.RunsTable)
	require.NoError(t, err)
	drv, err := taskerpgx.Open(ctx, mp.url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close() })
	reg := tasker.NewRegistry()
	require.NoError(t, reg.RegisterTemplate(mixeddag.Template(), tasker.RegisterOptions{AllowUnknownHandlers: true}))
	mp.client, err = tasker.NewClient(ctx, drv, &tasker.Config{Registry: reg})
	require.NoError(t, err)
	return mp
}

func TestMultiProcessGracefulStopDuringClaim(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	inner, err := taskerpgx.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	drv := &stallClaimDriver{Driver: inner, entered: make(chan struct{}), release: make(chan struct{})}
	drv.armed.Store(true)

	started := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("long", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
		started <- struct{}{}
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			cancelled <- struct{}{}
			return nil, ctx.Err()
		case <-timer.C:
			return "finished after 10s", nil
		}
	}))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "one_long", Version: "1.0.0",
		Steps: []tasker.StepTemplate{{Name: "long", Handler: "long"}}}, tasker.RegisterOptions{}))
	client, err := tasker.NewClient(ctx, drv, &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), Worker: tasker.WorkerConfig{ID: "stopping"}})
	require.NoError(t, err)
	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "one_long"})
	require.NoError(t, err)

	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	select {
	case <-drv.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not claim the step")
	}
	// Stop with a 50ms drain while the claim is in progress; the claim
	// completes once the drain time is over.
	stopCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	stopped := make(chan time.Duration, 1)
	stopStart := time.Now()
	go func() {
		_ = client.Stop(stopCtx)
		stopped <- time.Since(stopStart)
	}()
	<-stopCtx.Done()
	close(drv.release)

	var took time.Duration
	select {
	case took = <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	handlerCancelled := false
	select {
	case <-cancelled:
		handlerCancelled = true
	default:
	}
	steps, err := client.ListSteps(ctx, res.Task.ID)
	require.NoError(t, err)
	tr, err := client.StepTransitions(ctx, res.Task.ID, steps[0].ID)
	require.NoError(t, err)
	var trail []string
	for _, x := range tr {
		trail = append(trail, fmt.Sprintf("%s→%s %s", x.FromState, x.ToState, x.Metadata))
	}
	t.Logf("Stop returned after %s; handler started: %t, cancelled: %t; step %s with %d attempts; transitions %v",
		took.Round(time.Millisecond), len(started) > 0 || handlerCancelled, handlerCancelled, steps[0].State, steps[0].Attempts, trail)
	require.Less(t, took, 5*time.Second, "Stop must not wait for a step claimed while it was stopping")
	// The claim raced with Stop: the worker gives the step back without
	// starting it (or, had it started, cancels it after the drain).
	require.True(t, handlerCancelled || len(started) == 0, "the handler either never started or was cancelled")
	require.Equal(t, tasker.State("pending"), steps[0].State, "the attempt is given back")
	require.Zero(t, steps[0].Attempts, "a given-back attempt is not counted")
}

// stallClaimDriver holds the first StepClaim that claims something, inside
// its transaction, until release is closed (entered is closed when it
// starts waiting).
type stallClaimDriver struct {
	taskerdriver.Driver
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (d *stallClaimDriver) Executor() taskerdriver.Executor {
	return stallClaimExecutor{Executor: d.Driver.Executor(), d: d}
}

type stallClaimExecutor struct {
	taskerdriver.Executor
	d *stallClaimDriver
}

func (e stallClaimExecutor) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	tx, err := e.Executor.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return stallClaimTx{ExecutorTx: tx, d: e.d}, nil
}

type stallClaimTx struct {
	taskerdriver.ExecutorTx
	d *stallClaimDriver
}

func (tx stallClaimTx) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	claims, err := tx.ExecutorTx.StepClaim(ctx, p)
	tx.stall(claims, err)
	return claims, err
}

// StepFinishAndClaim is a worker pass's claim.
func (tx stallClaimTx) StepFinishAndClaim(ctx context.Context, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	res, err := tx.ExecutorTx.StepFinishAndClaim(ctx, p)
	if err == nil {
		tx.stall(res.Claimed, nil)
	}
	return res, err
}

func (tx stallClaimTx) stall(claims []*taskerdriver.ClaimedStep, err error) {
	if err == nil && len(claims) > 0 && tx.d.armed.CompareAndSwap(true, false) {
		close(tx.d.entered)
		<-tx.d.release
	}
}
