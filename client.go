package tasker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerlog"
	"github.com/tasker-go/tasker/taskertype"
)

// Task, Step and Transition are the persisted types (see package taskertype).
type (
	Task       = taskertype.Task
	Step       = taskertype.Step
	Transition = taskertype.Transition
	State      = taskertype.State
)

// The states of tasks and steps.
const (
	StatePending          = taskertype.StatePending
	StateInProgress       = taskertype.StateInProgress
	StateComplete         = taskertype.StateComplete
	StateError            = taskertype.StateError
	StateCancelled        = taskertype.StateCancelled
	StateResolvedManually = taskertype.StateResolvedManually
)

// Config configures a Client. The zero value of every field means its
// documented default.
type Config struct {
	// Registry holds the templates and handlers. Defaults to an empty
	// registry with the built-in handlers.
	Registry *Registry
	// Logger receives the client's records, wrapped with
	// taskerlog.NewHandler (trace_id, span_id, and task_id, step and
	// attempt inside a step's run). Nil (the default): only warnings and
	// errors go to slog.Default() (as it is when NewClient is called), and
	// the events of "log" subscriptions, at info; routine records (such as a
	// change of maintenance leader) are debug.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now. Tests inject a fake clock.
	Now func() time.Time
	// IdentityStrategy applies to templates that do not choose one.
	// Defaults to IdentityDefault.
	IdentityStrategy IdentityStrategy
	// IdentityFunc, when set, computes the identity of every new task (a
	// custom strategy); tasks with equal identities are the same task.
	IdentityFunc func(*TaskRequest) string
	// IdempotencyWindow is how long a TaskRequest.IdempotencyKey names the
	// task its first create made. Defaults to 24 hours.
	IdempotencyWindow time.Duration
	// HealthWorkerWindow is how far back Health looks for workers seen.
	// Defaults to 5 minutes.
	HealthWorkerWindow time.Duration
	// SkipMigrate skips applying the driver's migrations in NewClient.
	SkipMigrate bool
	// Worker configures the workers started by Start.
	Worker WorkerConfig
	// Backoff is the default retry backoff of every step.
	Backoff Backoff
	// Hooks observe every event synchronously, never dropping one (see
	// Hook): metrics and tracing hang here.
	Hooks []Hook
	// StepMiddleware wraps every step handler run in this process (see
	// StepMiddleware), the first the outermost.
	StepMiddleware []StepMiddleware
	// Subscriptions send events to outside systems (see Subscription and
	// LoadSubscriptions). Durable ones (webhook) are delivered by the
	// workers started with Start.
	Subscriptions []Subscription
	// TracerProvider receives the engine's OpenTelemetry spans
	// (tasker.task.create, tasker.task, tasker.step; see
	// docs/observability.md). Nil makes no spans. The global provider is
	// never read nor set. Whatever it is, a task stores the W3C trace
	// context of its creator's context, and every attempt of its steps (on
	// any process), the http and exec handlers and remote workers continue it.
	TracerProvider trace.TracerProvider
}

// WorkerConfig configures in-process workers.
type WorkerConfig struct {
	// ID names the worker in step leases. Defaults to host-pid-random.
	ID string
	// Concurrency is the maximum number of handlers running at once.
	// Defaults to 16.
	Concurrency int
	// LeaseDuration is how long a claimed step is held without a heartbeat;
	// a step whose worker died is re-run after it expires. Defaults to 30s.
	LeaseDuration time.Duration
	// PollInterval is the longest a worker sleeps without a notification.
	// Defaults to 1s.
	PollInterval time.Duration
	// RescueInterval is how often expired leases are looked for (and the
	// maintenance leadership renewed). Defaults to 5s. Schedules fire at
	// their fire times, not on this interval.
	RescueInterval time.Duration
	// ScheduleGrace is how late the maintenance leader may handle a
	// schedule's fire time and still count it on time; a later one was
	// missed and follows the schedule's catch-up policy. Defaults to 1m.
	ScheduleGrace time.Duration
	// StepTimeout is the default timeout of one attempt. Defaults to 5m.
	StepTimeout time.Duration
	// Handlers restricts the worker to steps of these handlers. Empty: the
	// handlers registered in the client's registry (read again each pass,
	// so handlers registered after Start count). A step whose handler the
	// worker does not run stays pending for a worker that runs it; the
	// task's views mark it waiting_for_handler when no worker has reported
	// that handler recently.
	Handlers []string
	// LookupEnv resolves the ${VAR} references of a step's handler_config
	// when a worker of this client runs the step (StepContext.Config holds
	// the expanded values; the stored and served handler_config keeps the
	// references). Defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Retention deletes tasks that finished (complete, cancelled or
	// resolved_manually) longer ago than this; the maintenance leader does
	// it. Zero (the default) keeps every task.
	Retention time.Duration
	// AsyncCommit makes the worker's passes (recording results, claiming
	// steps) commit without waiting for the commit to reach disk, on
	// PostgreSQL (synchronous_commit = off for those transactions only;
	// the SQLite driver ignores it). Off by default. What a crash of the
	// PostgreSQL server can then lose, and why every step still runs at
	// least once, is in docs/design.md ("Relaxed durability").
	AsyncCommit bool
	// Passes is how many worker passes (each records the results that
	// arrived and claims steps for the free slots, in one transaction) the
	// worker runs at once, 1 to MaxWorkerPasses; 0 means 1. With more than
	// one, while a pass is in the database another records the results
	// that arrive meanwhile and fills the slots they free: a single worker
	// process on PostgreSQL then keeps the database busier (2 passes: 5 to
	// 14 % more steps/s from a backlog on a 2-core machine that runs the
	// database too, in noisy runs), but each pass is smaller and costs the
	// database as much, so where the CPU is already busy (two worker
	// processes beside the database on those 2 cores) it costs more than it
	// gains (−6 to −25 %); docs/benchmarks.md has the runs. On SQLite, which has one
	// writer at a time, the passes wait for each other.
	Passes int
	// SkipTemplateRegistration keeps Start from registering the templates
	// of the client's registry in the database (see
	// Client.RegisterTemplates). By default Start registers them, and a
	// version registered with other content stops the start.
	SkipTemplateRegistration bool
}

// MaxWorkerPasses is the most passes a worker runs at once
// (WorkerConfig.Passes).
const MaxWorkerPasses = 8

// Client is the entry point of Tasker for Go: it creates and inspects tasks
// and runs workers. It is safe for concurrent use.
type Client struct {
	driver   taskerdriver.Driver
	exec     taskerdriver.Executor
	cfg      Config
	registry *Registry
	logger   *slog.Logger
	// eventLog is the logger of "log" subscriptions: the given Logger,
	// or slog.Default() without the warn threshold of logger.
	eventLog *slog.Logger
	bus      *eventBus
	retry    retrypolicy.Policy

	// rec writes claims, results and task outcomes for every worker kind.
	rec *recorder.Recorder
	// trace makes the engine's spans.
	trace *tracing

	mu       sync.Mutex
	closed   bool // Close was called
	worker   *orchestrator.Worker
	maint    *maintenance.Maintainer
	stopSubs func()

	remoteOnce sync.Once
	remoteSvc  *orchestrator.Remote
	// remoteSeenAt rate-limits the records of remote workers.
	remoteSeenAt remoteSighting
	// workerID is the lease owner of the client's worker (WorkerConfig.ID
	// or a generated id), the same across Start and RunUntilIdle so that a
	// later run keeps the maintenance leadership of an earlier one.
	workerID string

	// analytics caches recent analytics answers.
	analytics analyticsCache
	// dbTemplates caches the templates registered in the database.
	dbTemplates templateCache
}

// NewClient returns a client on driver, applying its migrations unless
// cfg.SkipMigrate is set.
func NewClient(ctx context.Context, driver taskerdriver.Driver, cfg *Config) (*Client, error) {
	if driver == nil {
		return nil, errors.New("tasker: nil driver")
	}
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{driver: driver, exec: driver.Executor(), cfg: *cfg}
	c.registry = cmp.Or(cfg.Registry, NewRegistry())
	c.logger, c.eventLog = clientLoggers(cfg.Logger)
	c.bus = newEventBus(c.logger, cfg.Hooks)
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.IdempotencyWindow <= 0 {
		c.cfg.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if c.cfg.IdentityStrategy == "" {
		c.cfg.IdentityStrategy = IdentityDefault
	}
	c.workerID = cfg.Worker.ID
	if c.workerID == "" {
		host, _ := os.Hostname()
		c.workerID = fmt.Sprintf("%s-%d-%s", cmpOr(host, "worker"), os.Getpid(), uuid.NewString()[:8])
	}
	c.trace = newTracing(cfg.TracerProvider, c.workerID)
	c.retry = cfg.Backoff.overrides().Apply(retrypolicy.Policy{}).WithDefaults()
	rc := recorder.Config{Logger: c.logger, Retry: c.retry}
	if len(c.durable()) > 0 { // without durable subscriptions, no transaction writes to the outbox
		rc.Outbox = c.outboxFor
	}
	c.rec = recorder.New(rc)
	if err := ValidateSubscriptions(cfg.Subscriptions); err != nil {
		return nil, fmt.Errorf("tasker: config Subscriptions: %w", err)
	}
	if !cfg.SkipMigrate {
		if err := driver.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("tasker: migrate: %w", err)
		}
	}
	return c, nil
}

// clientLoggers returns the client's logger and the logger of "log"
// subscriptions (see Config.Logger).
func clientLoggers(given *slog.Logger) (logger, eventLog *slog.Logger) {
	if given != nil {
		l := taskerlog.Wrap(given)
		return l, l
	}
	h := taskerlog.NewHandler(slog.Default().Handler())
	return slog.New(taskerlog.MinLevel(h, slog.LevelWarn)), slog.New(h)
}

// TracerProvider returns Config.TracerProvider (nil: no spans), for
// adapters (the REST server's request spans) to use the same provider.
func (c *Client) TracerProvider() trace.TracerProvider {
	if c == nil {
		return nil
	}
	return c.cfg.TracerProvider
}

// Registry returns the client's registry.
func (c *Client) Registry() *Registry { return c.registry }

// Driver returns the client's driver, an escape hatch to the storage seam.
// API is not stable: the driver interface changes without notice.
func (c *Client) Driver() taskerdriver.Driver { return c.driver }

// Subscribe returns a channel of events whose names match one of patterns
// (path.Match syntax: "task.*", "step.failed"; none or "*" for all) and a
// function that ends the subscription and closes the channel. Delivery never
// blocks the engine: a subscriber more than 1,024 events behind loses events,
// counted by DroppedEvents.
func (c *Client) Subscribe(patterns ...string) (<-chan *Event, func()) {
	return c.bus.subscribe(patterns)
}

// DroppedEvents is the number of events lost by slow subscribers.
func (c *Client) DroppedEvents() int64 { return c.bus.dropped.Load() }

func (c *Client) publish(events []*Event) {
	for _, ev := range events {
		c.trace.onEvent(ev)
		c.bus.publish(ev)
	}
}

func (c *Client) notFound(err error, what string, id int64) error {
	if errors.Is(err, ErrNotFound) && !strings.Contains(err.Error(), what) {
		return fmt.Errorf("%w: %s %d", ErrNotFound, what, id)
	}
	return err
}

func (c *Client) inTx(ctx context.Context, fn func(tx taskerdriver.ExecutorTx) error) error {
	return recorder.InTx(ctx, c.exec, fn)
}

// change runs fn in a transaction that also writes the events fn returns
// to the outbox, and returns those events once committed, for the caller to
// publish. A missing entity is an ErrNotFound naming kind and id.
func (c *Client) change(ctx context.Context, kind string, id int64, fn func(tx taskerdriver.ExecutorTx) ([]*Event, error)) ([]*Event, error) {
	var events []*Event
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		var err error
		if events, err = fn(tx); err != nil {
			return err
		}
		return c.writeOutbox(ctx, tx, events)
	})
	if err != nil {
		return nil, c.notFound(err, kind, id)
	}
	return events, nil
}
