package maintenance_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var base = testdb.Base

func open(t *testing.T) taskerdriver.Driver {
	t.Helper()
	d := testdb.Open(t)
	require.NoError(t, d.Migrate(t.Context()))
	return d
}

// probe is a service that reports each round it runs in.
type probe struct {
	name string
	ran  chan time.Time
}

func newProbe(name string) *probe { return &probe{name: name, ran: make(chan time.Time, 64)} }

func (p *probe) Name() string { return p.name }

func (p *probe) Run(_ context.Context, now time.Time) ([]*taskertype.Event, error) {
	p.ran <- now
	return nil, nil
}

// rounds returns how many rounds the probe ran since the last call.
func (p *probe) rounds() int {
	n := 0
	for {
		select {
		case <-p.ran:
			n++
		default:
			return n
		}
	}
}

// maintainer returns a maintainer on the test clock: a round is due every
// interval, a term lasts ttl.
func maintainer(d taskerdriver.Driver, id string, clock *testdb.Clock, interval, ttl time.Duration, services ...maintenance.Service) *maintenance.Maintainer {
	return maintenance.New(maintenance.Config{
		Driver: d, ID: id, Now: clock.Now, Interval: interval, LeaderTTL: ttl, Services: services,
	})
}

// rivals are two maintainers, m1 and m2, on one database and one test
// clock, each running its probe (p1, p2).
type rivals struct {
	clock  *testdb.Clock
	p1, p2 *probe
	m1, m2 *maintenance.Maintainer
}

// newRivals returns rivals whose rounds are due every interval1 (m1) and
// interval2 (m2) and whose terms last ttl.
func newRivals(t *testing.T, interval1, interval2, ttl time.Duration) *rivals {
	t.Helper()
	d := open(t)
	r := &rivals{clock: testdb.NewClock(base), p1: newProbe("one"), p2: newProbe("two")}
	r.m1, r.m2 = maintainer(d, "m1", r.clock, interval1, ttl, r.p1), maintainer(d, "m2", r.clock, interval2, ttl, r.p2)
	return r
}

func TestOneLeaderAmongMaintainers(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		r := newRivals(t, time.Hour, time.Hour, 3*time.Hour)
		clock, p1, p2, m1, m2 := r.clock, r.p1, r.p2, r.m1, r.m2
		defer m1.Stop()
		defer m2.Stop()

		require.NoError(t, m1.RunDue(t.Context()))
		require.NoError(t, m2.RunDue(t.Context()))
		require.True(t, m1.IsLeader())
		require.False(t, m2.IsLeader())
		require.Equal(t, 1, p1.rounds())
		require.Zero(t, p2.rounds(), "a follower runs no service")

		// Not due before the interval; the leader renews its term when it is.
		require.NoError(t, m1.RunDue(t.Context()))
		require.Zero(t, p1.rounds())
		clock.Advance(time.Hour)
		require.NoError(t, m1.RunDue(t.Context()))
		require.NoError(t, m2.RunDue(t.Context()))
		require.True(t, m1.IsLeader())
		require.False(t, m2.IsLeader())
		require.Equal(t, 1, p1.rounds())
		require.Zero(t, p2.rounds())
	})
}

func TestLeaderThatStopsRenewingIsReplacedAfterItsTerm(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		r := newRivals(t, time.Second, time.Second, time.Minute)
		clock, p2, m1, m2 := r.clock, r.p2, r.m1, r.m2
		require.NoError(t, m1.RunDue(t.Context()))
		require.True(t, m1.IsLeader())

		// m1 dies without resigning: m2 waits out the term (LeaderTTL).
		clock.Advance(59 * time.Second)
		require.NoError(t, m2.RunDue(t.Context()))
		require.False(t, m2.IsLeader())
		clock.Advance(2 * time.Second)
		require.NoError(t, m2.RunDue(t.Context()))
		require.True(t, m2.IsLeader())
		require.Equal(t, 1, p2.rounds())
		m2.Stop()
	})
}

func TestStopResignsAndAnotherTakesOver(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		// m1 runs in the background, one round an hour (by the real clock: the
		// first only); m2 by the test clock, every second.
		r := newRivals(t, time.Hour, time.Second, 3*time.Hour)
		clock, p1, p2, m1, m2 := r.clock, r.p1, r.p2, r.m1, r.m2
		defer m2.Stop()

		require.NoError(t, m1.Start(t.Context()))
		select { // the first round runs at once
		case <-p1.ran:
		case <-time.After(30 * time.Second):
			t.Fatal("the started maintainer ran no round")
		}
		require.True(t, m1.IsLeader())
		require.NoError(t, m2.RunDue(t.Context()))
		require.False(t, m2.IsLeader())

		// Stop resigns: m2 leads at its next round, long before m1's term
		// would end.
		m1.Stop()
		require.False(t, m1.IsLeader())
		clock.Advance(time.Second)
		require.NoError(t, m2.RunDue(t.Context()))
		require.True(t, m2.IsLeader())
		require.Equal(t, 1, p2.rounds())
	})
}

// createTask creates a task of one step a, created at base.
func createTask(t *testing.T, ex taskerdriver.Executor, a taskerdriver.StepCreateParams) *taskerdriver.TaskCreateResult {
	t.Helper()
	a.Name, a.Handler = "a", "h"
	return testdb.CreateTask(t, ex, base, a)
}

// createRunning creates a task of one retryable step and claims it for
// owner, with a lease until leaseUntil.
func createRunning(t *testing.T, ex taskerdriver.Executor, owner string, leaseUntil time.Time) *taskertype.Step {
	t.Helper()
	res := createTask(t, ex, taskerdriver.StepCreateParams{RetryLimit: 3, Retryable: true})
	claimed, err := ex.StepClaim(t.Context(), &taskerdriver.StepClaimParams{
		Now: base, Limit: 1, Owner: owner, LeaseExpiresAt: leaseUntil,
	})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, res.Steps[0].ID, claimed[0].Step.ID)
	return claimed[0].Step
}

func TestRescuerRequeuesExpiredLeases(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		ex := d.Executor()
		lost := createRunning(t, ex, "dead-worker", base.Add(30*time.Second))
		r := &maintenance.Rescuer{Driver: d, Recorder: recorder.New(recorder.Config{})}

		// A lease that has not expired is left alone.
		events, err := r.Run(t.Context(), base.Add(29*time.Second))
		require.NoError(t, err)
		require.Empty(t, events)
		s, err := ex.StepGet(t.Context(), lost.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateInProgress, s.State)

		now := base.Add(31 * time.Second)
		events, err = r.Run(t.Context(), now)
		require.NoError(t, err)
		s, err = ex.StepGet(t.Context(), lost.ID)
		require.NoError(t, err)
		require.Equal(t, taskertype.StateError, s.State, "the lost attempt counts as failed")
		require.False(t, s.Blocked, "and is retried by the normal policy")
		require.Equal(t, "worker_lost", s.LastError.Kind)
		require.Contains(t, s.LastError.Message, "dead-worker")
		require.True(t, s.NextAttemptAt.After(now))
		var failed bool
		for _, ev := range events {
			failed = failed || (ev.Name == taskertype.EventStepFailed && ev.Step != nil && ev.Step.ID == lost.ID)
		}
		require.True(t, failed, "the rescue publishes step.failed")

		// Another worker claims it once its backoff has passed: attempt 2.
		again, err := ex.StepClaim(t.Context(), &taskerdriver.StepClaimParams{
			Now: s.NextAttemptAt, Limit: 1, Owner: "live-worker", LeaseExpiresAt: s.NextAttemptAt.Add(time.Minute),
		})
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, 2, again[0].Step.Attempts)

		// Nothing more to rescue.
		events, err = r.Run(t.Context(), now)
		require.NoError(t, err)
		require.Empty(t, events)
	})
}

func TestRescuerHandlesAtMostBatchStepsPerRound(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		ex := d.Executor()
		for range 3 {
			createRunning(t, ex, "dead-worker", base.Add(time.Second))
		}
		r := &maintenance.Rescuer{Driver: d, Recorder: recorder.New(recorder.Config{}), Batch: 2}
		inError := func() int {
			n := 0
			tasks, _, err := ex.TaskList(t.Context(), &taskerdriver.TaskListParams{Limit: 10})
			require.NoError(t, err)
			for _, tk := range tasks {
				steps, err := ex.StepList(t.Context(), &taskerdriver.StepListParams{TaskID: tk.ID, States: []taskertype.State{taskertype.StateError}})
				require.NoError(t, err)
				n += len(steps)
			}
			return n
		}
		_, err := r.Run(t.Context(), base.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, inError())
		_, err = r.Run(t.Context(), base.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 3, inError())
	})
}

// deleteSpy is a real driver that records the cleaner's deletes.
type deleteSpy struct {
	taskerdriver.Driver
	mu      sync.Mutex
	deletes []int // tasks deleted by each call
	limits  []int
}

func (d *deleteSpy) Executor() taskerdriver.Executor {
	return deleteExecutor{Executor: d.Driver.Executor(), spy: d}
}

type deleteExecutor struct {
	taskerdriver.Executor
	spy *deleteSpy
}

func (x deleteExecutor) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	n, err := x.Executor.TaskDeleteFinished(ctx, p)
	x.spy.mu.Lock()
	x.spy.deletes = append(x.spy.deletes, n)
	x.spy.limits = append(x.spy.limits, p.Limit)
	x.spy.mu.Unlock()
	return n, err
}

func (d *deleteSpy) calls() (deletes, limits []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	deletes, limits = d.deletes, d.limits
	d.deletes, d.limits = nil, nil
	return deletes, limits
}

func TestCleanerDeletesFinishedTasksPastRetentionInBatches(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		db := open(t)
		ex := db.Executor()
		// finish creates a task and moves it to state at time at.
		finish := func(state taskertype.State, at time.Time) int64 {
			res := createTask(t, ex, taskerdriver.StepCreateParams{RetryLimit: 1})
			_, err := ex.TaskSetStateMany(t.Context(), []*taskerdriver.TaskSetStateParams{{
				ID: res.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: state, Now: at,
			}})
			require.NoError(t, err)
			return res.Task.ID
		}
		var old []int64
		for range 5 {
			old = append(old, finish(taskertype.StateCancelled, base))
		}
		recent := finish(taskertype.StateCancelled, base.Add(90*time.Minute))
		failed := finish(taskertype.StateError, base) // kept for retry
		pending := createTask(t, ex, taskerdriver.StepCreateParams{RetryLimit: 1})

		spy := &deleteSpy{Driver: db}
		c := &maintenance.Cleaner{Driver: spy, Retention: time.Hour, Batch: 2, Rounds: 2}
		now := base.Add(2 * time.Hour)
		_, err := c.Run(t.Context(), now)
		require.NoError(t, err)
		deletes, limits := spy.calls()
		require.Equal(t, []int{2, 2}, deletes, "Rounds transactions of Batch tasks at most")
		require.Equal(t, []int{2, 2}, limits)

		_, err = c.Run(t.Context(), now)
		require.NoError(t, err)
		deletes, _ = spy.calls()
		require.Equal(t, []int{1}, deletes, "a short batch ends the round")

		for _, id := range old {
			_, err := ex.TaskGet(t.Context(), id)
			require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		}
		for _, id := range []int64{recent, failed, pending.Task.ID} {
			_, err := ex.TaskGet(t.Context(), id)
			require.NoError(t, err, "task %d is kept", id)
		}

		// Zero retention keeps everything.
		_, err = (&maintenance.Cleaner{Driver: spy}).Run(t.Context(), now.Add(24*time.Hour))
		require.NoError(t, err)
		deletes, _ = spy.calls()
		require.Empty(t, deletes)
	})
}

func TestWorkerPrunerForgetsWorkersNotSeenWithinRetention(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := open(t)
		ex := d.Executor()
		for i, seen := range []time.Time{base, base.Add(time.Hour), base.Add(2 * time.Hour)} {
			require.NoError(t, ex.WorkerSeen(t.Context(), &taskerdriver.WorkerSeenParams{
				ID: fmt.Sprintf("w%d", i), Kind: taskertype.WorkerRemote, Queues: []string{"q"}, Now: seen}))
		}
		p := &maintenance.WorkerPruner{Driver: d, Retention: 90 * time.Minute}
		_, err := p.Run(t.Context(), base.Add(3*time.Hour))
		require.NoError(t, err)
		ws, err := ex.WorkerList(t.Context(), &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Len(t, ws, 1, "seen 2h and 3h before now: forgotten; 1h before: kept")
		require.Equal(t, "w2", ws[0].ID)

		_, err = (&maintenance.WorkerPruner{Driver: d}).Run(t.Context(), base.Add(100*time.Hour))
		require.NoError(t, err)
		ws, err = ex.WorkerList(t.Context(), &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Len(t, ws, 1, "no retention: nothing is deleted")
	})
}

// keeping is a driver that keeps statistics: it counts the refreshes asked
// of it, and fails them with err when set.
type keeping struct {
	taskerdriver.Driver
	refreshes int
	err       error
}

func (k *keeping) RefreshStatistics(context.Context) ([]string, error) {
	k.refreshes++
	return []string{"tasker_tasks"}, k.err
}

// The leader asks a driver that keeps statistics to refresh them at every
// round; a follower does not, and a driver without statistics is left alone.
func TestStatisticsKeeperRefreshesOnTheLeader(t *testing.T) {
	t.Parallel()
	d := &keeping{Driver: open(t)}
	clock := testdb.NewClock(base)
	leader := maintainer(d, "a", clock, time.Second, 3*time.Second, &maintenance.StatisticsKeeper{Driver: d})
	follower := maintainer(d, "b", clock, time.Second, 3*time.Second, &maintenance.StatisticsKeeper{Driver: d})
	require.NoError(t, leader.RunDue(t.Context()))
	require.NoError(t, follower.RunDue(t.Context()))
	require.True(t, leader.IsLeader())
	require.False(t, follower.IsLeader())
	require.Equal(t, 1, d.refreshes, "the leader's round, not the follower's")
	clock.Advance(time.Second)
	require.NoError(t, leader.RunDue(t.Context()))
	require.Equal(t, 2, d.refreshes)

	// A failed refresh does not fail the round: the services after it run.
	d.err = errors.New("statement timeout")
	after := newProbe("after")
	m := maintainer(d, "a", clock, time.Second, 3*time.Second, &maintenance.StatisticsKeeper{Driver: d}, after)
	clock.Advance(time.Second)
	require.NoError(t, m.RunDue(t.Context()))
	require.Equal(t, 3, d.refreshes)
	require.Equal(t, 1, after.rounds(), "the next service ran")

	plain := open(t)
	_, err := (&maintenance.StatisticsKeeper{Driver: plain}).Run(t.Context(), base)
	require.NoError(t, err, "a driver without statistics to keep")
}
