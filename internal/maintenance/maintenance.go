package maintenance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Leadership names the leadership that runs the maintenance services.
const Leadership = "maintenance"

// Service is a leader-only service: Run does one round of its work at now,
// in its own transactions, and returns the events of what it committed.
type Service interface {
	// Name is a short name for logs ("rescuer", "cleaner").
	Name() string
	Run(ctx context.Context, now time.Time) ([]*taskertype.Event, error)
}

// Timed is a Service that says when it next has work: while the process
// leads, the Maintainer runs it then (and at every round), not only every
// Interval. The scheduler is one.
type Timed interface {
	Service
	// NextRun returns when the service next has work (zero: none known).
	NextRun(ctx context.Context) (time.Time, error)
}

// Config configures a Maintainer. Zero values mean the documented defaults.
type Config struct {
	Driver taskerdriver.Driver
	// ID is the candidate's name in the leadership (the worker id).
	ID string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Interval is how often the leader runs its services (and a candidate
	// tries to take the leadership). Defaults to 5s.
	Interval time.Duration
	// LeaderTTL is how long a term lasts without renewal: when the leader
	// dies another process takes over after at most this long. Defaults to
	// 3 × Interval.
	LeaderTTL time.Duration
	// Services run, in order, on the leader.
	Services []Service
	// Publish receives the events of each service round after it commits.
	// Defaults to dropping them.
	Publish func([]*taskertype.Event)
}

// Maintainer elects the maintenance leader and runs the leader-only
// services while it leads. Start/Stop run it in the background; RunDue runs
// one round synchronously when it is due by the injected clock.
type Maintainer struct {
	cfg  Config
	exec taskerdriver.Executor

	mu      sync.Mutex
	leader  bool
	nextRun time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	wake    chan struct{}
}

// New returns a Maintainer.
func New(cfg Config) *Maintainer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Second)
	cfg.LeaderTTL = cmp.Or(cfg.LeaderTTL, 3*cfg.Interval)
	if cfg.Publish == nil {
		cfg.Publish = func([]*taskertype.Event) {}
	}
	return &Maintainer{cfg: cfg, exec: cfg.Driver.Executor(), wake: make(chan struct{}, 1)}
}

// Wake makes the background loop look again at once when its timed
// services next have work (a schedule was created or resumed in this
// process). It never blocks.
func (m *Maintainer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Start runs rounds every Interval in the background until Stop or until
// ctx is cancelled; either resigns the leadership.
func (m *Maintainer) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done != nil {
		return errors.New("maintenance: already started")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go m.loop(ctx, m.done)
	return nil
}

// Stop stops the background rounds and resigns the leadership, so that
// another process takes over at once instead of after the term expires.
// It is safe to call more than once, and without Start.
func (m *Maintainer) Stop() {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel, m.done = nil, nil
	m.mu.Unlock()
	if cancel == nil {
		m.resign()
		return
	}
	cancel()
	<-done
}

func (m *Maintainer) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	defer m.resign()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.wake:
		}
		if err := m.RunDue(ctx); err != nil {
			if ctx.Err() == nil {
				m.cfg.Logger.WarnContext(ctx, "maintenance: round failed; retrying at the next interval", "error", err)
			}
			timer.Reset(m.cfg.Interval) // never a tight loop on an error
			continue
		}
		timer.Reset(max(0, m.nextWake(ctx).Sub(m.cfg.Now())))
	}
}

// nextWake is when the loop next has something to do: the next round, or
// earlier the next work of a timed service while this process leads.
func (m *Maintainer) nextWake(ctx context.Context) time.Time {
	m.mu.Lock()
	next, leads := m.nextRun, m.leader
	m.mu.Unlock()
	if !leads {
		return next
	}
	for _, s := range m.cfg.Services {
		if ts, ok := s.(Timed); ok {
			t, err := ts.NextRun(ctx)
			if err != nil {
				m.cfg.Logger.WarnContext(ctx, "maintenance: next run", "service", s.Name(), "error", err)
				continue
			}
			if !t.IsZero() && t.Before(next) {
				next = t
			}
		}
	}
	return next
}

// RunDue runs one round when Interval has passed (by the injected clock)
// since the last one, else, while this process leads (its term, renewed
// every Interval, lasts LeaderTTL), the timed services whose work is due:
// the synchronous form for Client.RunUntilIdle, and the background loop's.
func (m *Maintainer) RunDue(ctx context.Context) error {
	now := m.cfg.Now()
	m.mu.Lock()
	due, leads := !now.Before(m.nextRun), m.leader
	m.mu.Unlock()
	if due {
		return m.round(ctx, now)
	}
	if !leads {
		return nil
	}
	for _, s := range m.cfg.Services {
		ts, ok := s.(Timed)
		if !ok {
			continue
		}
		t, err := ts.NextRun(ctx)
		if err != nil {
			return fmt.Errorf("maintenance: %s: %w", s.Name(), err)
		}
		if t.IsZero() || t.After(now) {
			continue
		}
		events, err := s.Run(ctx, now)
		m.cfg.Publish(events)
		if err != nil {
			return fmt.Errorf("maintenance: %s: %w", s.Name(), err)
		}
	}
	return nil
}

// round takes or renews the leadership and, when it leads, runs each
// service.
func (m *Maintainer) round(ctx context.Context, now time.Time) error {
	leads, err := m.exec.LeaderAttempt(ctx, &taskerdriver.LeaderAttemptParams{Name: Leadership, ID: m.cfg.ID, Now: now, TTL: m.cfg.LeaderTTL})
	if err != nil {
		return err
	}
	m.mu.Lock()
	changed := leads != m.leader
	m.leader = leads
	m.mu.Unlock()
	if changed {
		m.cfg.Logger.DebugContext(ctx, "maintenance: leadership changed", "worker", m.cfg.ID, "leader", leads)
	}
	if leads {
		for _, s := range m.cfg.Services {
			events, err := s.Run(ctx, now)
			m.cfg.Publish(events)
			if err != nil {
				return fmt.Errorf("maintenance: %s: %w", s.Name(), err)
			}
		}
	}
	m.mu.Lock()
	m.nextRun = now.Add(m.cfg.Interval)
	m.mu.Unlock()
	return nil
}

// IsLeader reports whether this process was the maintenance leader at its
// last round.
func (m *Maintainer) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

func (m *Maintainer) resign() {
	m.mu.Lock()
	leads := m.leader
	m.leader = false
	m.mu.Unlock()
	if !leads {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.exec.LeaderResign(ctx, &taskerdriver.LeaderAttemptParams{Name: Leadership, ID: m.cfg.ID}); err != nil {
		m.cfg.Logger.WarnContext(ctx, "maintenance: resign leadership", "error", err)
	}
}

// Rescuer fails the attempts of in-progress steps whose lease expired
// before now (their worker died or hung), as kind worker_lost, so that the
// normal retry policy re-runs them. One round handles up to Batch steps in
// one transaction, with the task outcomes they decide.
type Rescuer struct {
	Driver   taskerdriver.Driver
	Recorder *recorder.Recorder
	Logger   *slog.Logger
	// Batch is the most steps rescued per round. Defaults to 100.
	Batch int
}

// Name implements Service.
func (r *Rescuer) Name() string { return "rescuer" }

// Run implements Service.
func (r *Rescuer) Run(ctx context.Context, now time.Time) ([]*taskertype.Event, error) {
	var b recorder.Batch
	logger := cmp.Or(r.Logger, slog.New(slog.DiscardHandler))
	var rescued []*taskertype.Step
	err := recorder.InTx(ctx, r.Driver.Executor(), func(tx taskerdriver.ExecutorTx) error {
		b.Reset()
		rescued = nil
		lost, err := tx.StepListExpired(ctx, &taskerdriver.StepListExpiredParams{Now: now, Limit: cmp.Or(r.Batch, 100)})
		if err != nil || len(lost) == 0 {
			return err
		}
		tasks := map[int64]*taskertype.Task{}
		attempts := make([]recorder.Attempt, 0, len(lost))
		for _, s := range lost {
			if tasks[s.TaskID] == nil {
				if tasks[s.TaskID], err = tx.TaskGet(ctx, s.TaskID); err != nil {
					return err
				}
			}
			attempts = append(attempts, recorder.Attempt{
				Step: s, Task: tasks[s.TaskID], Owner: s.LeaseOwner, Started: s.LastAttemptedAt, Ended: now,
				Result: recorder.Result{Err: lostError(s), Kind: "worker_lost"},
			})
		}
		recorded, err := r.Recorder.Record(ctx, tx, now, attempts, &b)
		if err != nil {
			return err
		}
		for i, rec := range recorded {
			if !rec.Lost {
				rescued = append(rescued, attempts[i].Step)
			}
		}
		return r.Recorder.WriteOutbox(ctx, tx, &b)
	})
	if err != nil {
		return nil, err
	}
	for _, s := range rescued {
		logger.WarnContext(ctx, "maintenance: rescued step whose worker was lost",
			"task_id", s.TaskID, "step", s.Name, "step_id", s.ID, "attempt", s.Attempts, "worker", s.LeaseOwner)
	}
	return b.Events, nil
}

func lostError(s *taskertype.Step) error {
	return errors.New("worker " + s.LeaseOwner + " lost: lease expired at " + s.LeaseExpiresAt.UTC().Format(time.RFC3339))
}

// Cleaner deletes tasks that finished (complete, cancelled or
// resolved_manually; tasks in error stay for retry) longer ago than
// Retention, in transactions of at most Batch tasks and at most Rounds
// transactions per round, so that it never holds the database long.
type Cleaner struct {
	Driver    taskerdriver.Driver
	Retention time.Duration
	Logger    *slog.Logger
	// Batch defaults to 100 tasks, Rounds to 10.
	Batch, Rounds int
}

// Name implements Service.
func (c *Cleaner) Name() string { return "cleaner" }

// Run implements Service.
func (c *Cleaner) Run(ctx context.Context, now time.Time) ([]*taskertype.Event, error) {
	if c.Retention <= 0 {
		return nil, nil
	}
	batch, total := cmp.Or(c.Batch, 100), 0
	for range cmp.Or(c.Rounds, 10) {
		n, err := c.Driver.Executor().TaskDeleteFinished(ctx, &taskerdriver.TaskDeleteFinishedParams{
			States: []taskertype.State{taskertype.StateComplete, taskertype.StateCancelled, taskertype.StateResolvedManually},
			Before: now.Add(-c.Retention), Limit: batch,
		})
		total += n
		if err != nil {
			return nil, err
		}
		if n < batch {
			break
		}
	}
	if total > 0 {
		cmp.Or(c.Logger, slog.New(slog.DiscardHandler)).InfoContext(ctx, "maintenance: deleted finished tasks past retention", "count", total, "retention", c.Retention)
	}
	return nil, nil
}

// StatisticsKeeper asks a driver that keeps table statistics
// (taskerdriver.StatisticsKeeper) to refresh those its tables' growth has
// outdated, so that the database plans the engine's statements from their
// current size. Nothing for other drivers.
type StatisticsKeeper struct {
	Driver taskerdriver.Driver
	Logger *slog.Logger
}

// Name implements Service.
func (k *StatisticsKeeper) Name() string { return "statistics" }

// Run implements Service. A refresh that fails is logged and left to the
// next round: statistics are an optimization, and the services after this
// one (the scheduler) must not wait on them.
func (k *StatisticsKeeper) Run(ctx context.Context, _ time.Time) ([]*taskertype.Event, error) {
	sk, ok := k.Driver.(taskerdriver.StatisticsKeeper)
	if !ok {
		return nil, nil
	}
	log := cmp.Or(k.Logger, slog.New(slog.DiscardHandler))
	tables, err := sk.RefreshStatistics(ctx)
	if err != nil {
		log.WarnContext(ctx, "maintenance: cannot refresh table statistics; trying again next round", "error", err)
		return nil, nil
	}
	if len(tables) > 0 {
		log.DebugContext(ctx, "maintenance: analyzed tables that outgrew their statistics", "tables", tables)
	}
	return nil, nil
}

// WorkerPruner deletes the registry rows of workers not seen for
// Retention (their processes stopped or died).
type WorkerPruner struct {
	Driver    taskerdriver.Driver
	Retention time.Duration
	Logger    *slog.Logger
}

// Name implements Service.
func (p *WorkerPruner) Name() string { return "worker-pruner" }

// Run implements Service.
func (p *WorkerPruner) Run(ctx context.Context, now time.Time) ([]*taskertype.Event, error) {
	if p.Retention <= 0 {
		return nil, nil
	}
	n, err := p.Driver.Executor().WorkerDeleteStale(ctx, &taskerdriver.WorkerDeleteStaleParams{Before: now.Add(-p.Retention)})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		cmp.Or(p.Logger, slog.New(slog.DiscardHandler)).InfoContext(ctx, "maintenance: forgot workers not seen within retention", "count", n, "retention", p.Retention)
	}
	return nil, nil
}
