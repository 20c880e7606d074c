package tasker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/internal/ctxschema"
	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/maintenance"
	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
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
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now. Tests inject a fake clock.
	Now func() time.Time
	// IdentityStrategy applies to templates that do not choose one.
	// Defaults to IdentityDefault.
	IdentityStrategy IdentityStrategy
	// IdentityFunc, when set, computes the identity of every new task (a
	// custom strategy); tasks with equal identities are the same task.
	IdentityFunc func(*TaskRequest) string
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
	// RescueInterval is how often expired leases are looked for. Defaults to 5s.
	RescueInterval time.Duration
	// StepTimeout is the default timeout of one attempt. Defaults to 5m.
	StepTimeout time.Duration
	// Handlers restricts the worker to steps of these handlers (empty: any).
	Handlers []string
	// Retention deletes tasks that finished (complete, cancelled or
	// resolved_manually) longer ago than this; the maintenance leader does
	// it. Zero (the default) keeps every task.
	Retention time.Duration
}

// Client is the entry point of Tasker for Go: it creates and inspects tasks
// and runs workers. It is safe for concurrent use.
type Client struct {
	driver   taskerdriver.Driver
	exec     taskerdriver.Executor
	cfg      Config
	registry *Registry
	logger   *slog.Logger
	bus      *eventBus
	retry    retrypolicy.Policy

	// rec writes claims, results and task outcomes for every worker kind.
	rec *recorder.Recorder

	mu       sync.Mutex
	worker   *orchestrator.Worker
	maint    *maintenance.Maintainer
	stopSubs func()

	remoteOnce sync.Once
	remoteSvc  *orchestrator.Remote
	// workerID is the lease owner of the client's worker (WorkerConfig.ID
	// or a generated id), the same across Start and RunUntilIdle so that a
	// later run keeps the maintenance leadership of an earlier one.
	workerID string
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
	c.logger = cmp.Or(cfg.Logger, slog.Default())
	c.bus = newEventBus(c.logger, cfg.Hooks)
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.IdentityStrategy == "" {
		c.cfg.IdentityStrategy = IdentityDefault
	}
	c.workerID = cfg.Worker.ID
	if c.workerID == "" {
		host, _ := os.Hostname()
		c.workerID = fmt.Sprintf("%s-%d-%s", cmpOr(host, "worker"), os.Getpid(), uuid.NewString()[:8])
	}
	c.retry = cfg.Backoff.overrides().Apply(retrypolicy.Policy{}).WithDefaults()
	c.rec = recorder.New(recorder.Config{Logger: c.logger, Retry: c.retry, Outbox: c.outboxFor})
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
		c.bus.publish(ev)
	}
}

// TaskRequest asks for a new task of a registered template.
type TaskRequest struct {
	// Name of the template (required).
	Name string `json:"name"`
	// Namespace of the template. Defaults to "default".
	Namespace string `json:"namespace,omitempty"`
	// Version of the template. Defaults to the highest registered version.
	Version string `json:"version,omitempty"`
	// Context is the task's input: a JSON object, given as json.RawMessage,
	// []byte, a map or any JSON-encodable struct. Validated against the
	// template's schema, whose defaults are applied.
	Context any `json:"context,omitempty"`
	// Initiator, SourceSystem and Reason describe who asked and why.
	// Each defaults to "unknown".
	Initiator    string   `json:"initiator,omitempty"`
	SourceSystem string   `json:"source_system,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	// RequestedAt defaults to now.
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

// CreateResult is the outcome of CreateTask.
type CreateResult struct {
	Task  *Task
	Steps []*Step
	// Duplicate is true when the request matched an existing task under the
	// hash identity strategy; Task is that task and nothing was created.
	Duplicate bool
}

// CreateTask validates req against its template and creates the task, its
// steps and their dependencies in one transaction.
func (c *Client) CreateTask(ctx context.Context, req *TaskRequest) (*CreateResult, error) {
	return c.createTask(ctx, c.exec, req, true)
}

// CreateTaskTx creates the task inside the caller's own database transaction
// (a *sql.Tx on SQLite, a pgx.Tx on PostgreSQL): the task exists if and only
// if the caller commits. Workers in this process are woken at once; the
// task's steps become visible to them when the caller commits.
func (c *Client) CreateTaskTx(ctx context.Context, tx any, req *TaskRequest) (*CreateResult, error) {
	etx, err := c.driver.UnwrapTx(tx)
	if err != nil {
		return nil, err
	}
	return c.createTask(ctx, etx, req, false)
}

// createTask creates the task through ex; committed says whether ex commits
// by itself (so that events may be published now).
func (c *Client) createTask(ctx context.Context, ex taskerdriver.Executor, req *TaskRequest, committed bool) (*CreateResult, error) {
	if req == nil {
		return nil, &ValidationError{Message: "invalid task request", Fields: map[string]string{"name": "is required"}}
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, &ValidationError{Message: "invalid task request", Fields: map[string]string{"name": "is required: give the name of a registered task template"}}
	}
	tmpl, err := c.registry.Template(req.Namespace, req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	raw, err := contextJSON(req.Context)
	if err != nil {
		return nil, &ValidationError{Message: "invalid task context", Fields: map[string]string{"context": err.Error()}}
	}
	if fields := nulFields(map[string]any{"context": raw, "initiator": req.Initiator, "source_system": req.SourceSystem,
		"reason": req.Reason, "tags": req.Tags}); fields != nil {
		return nil, &ValidationError{Message: "invalid task request", Fields: fields}
	}
	validated, err := tmpl.schema.Validate(raw)
	if err != nil {
		var ve *ctxschema.ValidationError
		if errors.As(err, &ve) {
			fields := map[string]string{}
			for _, p := range ve.Problems {
				key := "context" + p.Path
				if prev, ok := fields[key]; ok {
					fields[key] = prev + "; " + p.Message
				} else {
					fields[key] = p.Message
				}
			}
			return nil, &ValidationError{Message: fmt.Sprintf("context does not match the schema of %s", tmpl.FullName()), Fields: fields}
		}
		return nil, &ValidationError{Message: "invalid task context", Fields: map[string]string{"context": err.Error()}}
	}
	now := c.cfg.Now().UTC()
	p := &taskerdriver.TaskCreateParams{
		Namespace: tmpl.Namespace, Name: tmpl.Name, Version: tmpl.Version, Context: validated,
		Initiator: cmpOr(req.Initiator, "unknown"), SourceSystem: cmpOr(req.SourceSystem, "unknown"),
		Reason: cmpOr(req.Reason, "unknown"), Tags: req.Tags,
		RequestedAt: cmp.Or(req.RequestedAt, now).UTC(), Now: now,
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	p.IdentityHash = c.identity(tmpl, req, p)
	for i, s := range tmpl.Steps {
		sp := taskerdriver.StepCreateParams{
			Name: s.Name, Handler: s.Handler, RetryLimit: s.RetryLimit, Retryable: *s.Retryable, Skippable: s.Skippable,
			Policy: stepPolicy(&s).Encode(),
		}
		if s.HandlerConfig != nil {
			if sp.HandlerConfig, err = json.Marshal(s.HandlerConfig); err != nil {
				return nil, fmt.Errorf("encode handler_config of step %q: %w", s.Name, err)
			}
		}
		if s.Handler == RemoteHandler {
			if sp.Queue, err = remoteQueue(s.HandlerConfig); err != nil {
				return nil, fmt.Errorf("step %q: %w", s.Name, err)
			}
		}
		sp.Parents = append(sp.Parents, tmpl.graph.Parents(i)...)
		p.Steps = append(p.Steps, sp)
	}
	var res *taskerdriver.TaskCreateResult
	create := func(ex taskerdriver.Executor) error {
		var err error
		if res, err = ex.TaskCreate(ctx, p); err != nil {
			return err
		}
		if res.Existing {
			return nil
		}
		return c.writeOutbox(ctx, ex, []*Event{{Name: taskertype.EventTaskInitializeRequested, Task: res.Task, At: now}})
	}
	var err2 error
	if committed && len(c.durable()) > 0 {
		err2 = c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error { return create(tx) })
	} else {
		err2 = create(ex)
	}
	if err2 != nil {
		return nil, err2
	}
	if res.Existing {
		return &CreateResult{Task: res.Task, Duplicate: true}, nil
	}
	if committed {
		c.publish([]*Event{{Name: taskertype.EventTaskInitializeRequested, Task: res.Task, At: now}})
	}
	return &CreateResult{Task: res.Task, Steps: res.Steps}, nil
}

func stepPolicy(s *StepTemplate) retrypolicy.StepPolicy {
	p := retrypolicy.StepPolicy{Timeout: s.Timeout}
	if s.Backoff != nil {
		p.Overrides = s.Backoff.overrides()
	}
	return p
}

// contextJSON encodes a request context as a JSON object.
func contextJSON(v any) (json.RawMessage, error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return json.RawMessage(`{}`), nil
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cannot be encoded as JSON: %w", err)
		}
		raw = b
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("is not valid JSON: give a JSON object such as {\"order_id\": 1}")
	}
	if raw[0] != '{' {
		return nil, errors.New("must be a JSON object, such as {\"order_id\": 1}")
	}
	return raw, nil
}

// identity computes the identity hash of a new task.
func (c *Client) identity(t *TaskTemplate, req *TaskRequest, p *taskerdriver.TaskCreateParams) string {
	if c.cfg.IdentityFunc != nil {
		return c.cfg.IdentityFunc(req)
	}
	strategy := t.IdentityStrategy
	if strategy == "" {
		strategy = c.cfg.IdentityStrategy
	}
	if strategy != IdentityHash {
		return uuid.NewString()
	}
	return IdentityHashOf(p.Namespace, p.Name, p.Version, p.Initiator, p.SourceSystem, p.Reason, p.Context)
}

// IdentityHashOf is the hash identity: the hex SHA-256 of the namespace,
// name, version, initiator, source system, reason and the canonical JSON of
// the context (object keys sorted, insignificant space removed).
func IdentityHashOf(namespace, name, version, initiator, sourceSystem, reason string, context json.RawMessage) string {
	h := sha256.New()
	for _, s := range []string{namespace, name, version, initiator, sourceSystem, reason} {
		_, _ = fmt.Fprintf(h, "%d:%s|", len(s), s)
	}
	h.Write(canonicalJSON(context))
	return hex.EncodeToString(h.Sum(nil))
}

func canonicalJSON(raw json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return raw
	}
	return b
}

// GetTask returns a task.
func (c *Client) GetTask(ctx context.Context, id int64) (*Task, error) {
	t, err := c.exec.TaskGet(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: task %d", ErrNotFound, id)
	}
	return t, err
}

// TaskList is one page of tasks.
type TaskList struct {
	Tasks  []*Task
	Total  int
	Limit  int
	Offset int
}

// ListTasks lists tasks matching p, newest first unless p.OrderBy says
// otherwise (then ascending unless p.Desc).
func (c *Client) ListTasks(ctx context.Context, p *TaskListParams) (*TaskList, error) {
	if p == nil {
		p = &TaskListParams{}
	}
	q := *p
	if q.OrderBy == "" {
		q.OrderBy, q.Desc = "task_id", true
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 1000 {
		q.Limit = 1000
	}
	tasks, total, err := c.exec.TaskList(ctx, q.driver())
	if err != nil {
		return nil, err
	}
	return &TaskList{Tasks: tasks, Total: total, Limit: q.Limit, Offset: q.Offset}, nil
}

// ListSteps returns the steps of a task in template order, optionally only
// those in the given states.
func (c *Client) ListSteps(ctx context.Context, taskID int64, states ...State) ([]*Step, error) {
	if _, err := c.GetTask(ctx, taskID); err != nil {
		return nil, err
	}
	return c.exec.StepList(ctx, &taskerdriver.StepListParams{TaskID: taskID, States: states})
}

// GetStep returns a step.
func (c *Client) GetStep(ctx context.Context, stepID int64) (*Step, error) {
	s, err := c.exec.StepGet(ctx, stepID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: step %d", ErrNotFound, stepID)
	}
	return s, err
}

// TaskTransitions returns the audit trail of a task's own state changes.
func (c *Client) TaskTransitions(ctx context.Context, taskID int64) ([]*Transition, error) {
	return c.exec.TransitionList(ctx, &taskerdriver.TransitionListParams{TaskID: taskID})
}

// StepTransitions returns the audit trail of a step (stepID) or, with stepID
// zero, of every step of the task.
func (c *Client) StepTransitions(ctx context.Context, taskID, stepID int64) ([]*Transition, error) {
	return c.exec.TransitionList(ctx, &taskerdriver.TransitionListParams{TaskID: taskID, StepID: stepID, AllSteps: stepID == 0})
}

var unfinished = []State{taskertype.StatePending, taskertype.StateInProgress, taskertype.StateError}

// CancelTask cancels a task that has not finished: its unfinished steps are
// cancelled and running handlers see their context cancelled. Cancelling a
// complete, cancelled or resolved task is ErrInvalidState.
func (c *Client) CancelTask(ctx context.Context, taskID int64, reason string) (*Task, error) {
	now := c.cfg.Now().UTC()
	var events []*Event
	var task *Task
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		events = events[:0]
		cur, err := tx.TaskGet(ctx, taskID)
		if err != nil {
			return err
		}
		if err := statemachine.Task(cur.State, taskertype.StateCancelled); err != nil {
			return invalidState("task %d is %s and cannot be cancelled", taskID, cur.State)
		}
		meta := reasonMeta("cancelled", reason)
		steps, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{TaskID: taskID, From: unfinished, To: taskertype.StateCancelled, Metadata: meta, Now: now})
		if err != nil {
			return err
		}
		moved, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: taskID, From: []State{cur.State}, To: taskertype.StateCancelled, Metadata: meta, Now: now}})
		if err != nil {
			return err
		}
		task = moved[0]
		for _, s := range steps {
			events = append(events, &Event{Name: taskertype.EventStepCancelled, Task: task, Step: s, At: now})
		}
		events = append(events, &Event{Name: taskertype.EventTaskCancelled, Task: task, At: now})
		return c.writeOutbox(ctx, tx, events)
	})
	if err != nil {
		return nil, c.notFound(err, "task", taskID)
	}
	c.mu.Lock()
	if c.worker != nil {
		c.worker.CancelTask(taskID)
	}
	c.mu.Unlock()
	c.publish(events)
	return task, nil
}

// CancelStep cancels one unfinished step. Its descendants can then never run,
// so the task ends in error once nothing else can progress.
func (c *Client) CancelStep(ctx context.Context, stepID int64, reason string) (*Step, error) {
	return c.changeStep(ctx, stepID, unfinished, taskertype.StateCancelled, nil, reasonMeta("cancelled", reason), taskertype.EventStepCancelled)
}

// ResolveStep marks a step that is pending or in error as resolved_manually,
// optionally with results for its children. Its children become ready; if
// every step is then done, the task ends resolved_manually (or complete).
func (c *Client) ResolveStep(ctx context.Context, stepID int64, results any, reason string) (*Step, error) {
	var raw json.RawMessage
	if results != nil {
		var err error
		if raw, err = encodeResult(results); err != nil {
			return nil, &ValidationError{Message: "invalid results", Fields: map[string]string{"results": err.Error()}}
		}
		if fields := nulFields(map[string]any{"results": raw}); fields != nil {
			return nil, &ValidationError{Message: "invalid results", Fields: fields}
		}
	}
	return c.changeStep(ctx, stepID, []State{taskertype.StatePending, taskertype.StateError}, taskertype.StateResolvedManually,
		raw, reasonMeta("resolved_manually", reason), taskertype.EventStepResolvedManually)
}

func (c *Client) changeStep(ctx context.Context, stepID int64, from []State, to State, results json.RawMessage, meta json.RawMessage, event string) (*Step, error) {
	now := c.cfg.Now().UTC()
	var events []*Event
	var step *Step
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		events = events[:0]
		cur, err := tx.StepGet(ctx, stepID)
		if err != nil {
			return err
		}
		if err := statemachine.Step(cur.State, to); err != nil || !containsState(from, cur.State) {
			return invalidState("step %d is %s and cannot become %s", stepID, cur.State, to)
		}
		steps, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{IDs: []int64{stepID}, From: []State{cur.State}, To: to, Results: results, Metadata: meta, Now: now})
		if err != nil {
			return err
		}
		if len(steps) != 1 {
			return invalidState("step %d changed concurrently", stepID)
		}
		step = steps[0]
		var b recorder.Batch
		tasks, err := recorder.FinalizeMany(ctx, tx, []int64{step.TaskID}, nil, now, &b)
		if err != nil {
			return err
		}
		events = append([]*Event{{Name: event, Task: tasks[step.TaskID], Step: step, At: now}}, b.Events...)
		return c.writeOutbox(ctx, tx, events)
	})
	if err != nil {
		return nil, c.notFound(err, "step", stepID)
	}
	if to == taskertype.StateCancelled {
		c.mu.Lock()
		if c.worker != nil {
			c.worker.CancelTask(step.TaskID) // abandons only running handlers of cancelled steps' task
		}
		c.mu.Unlock()
	}
	c.publish(events)
	// Re-read for the parent and child ids, which state changes do not load.
	return c.GetStep(ctx, step.ID)
}

// RetryTask gives a task in error a fresh start: its blocked and cancelled
// steps go back to pending with zero attempts, and the task to pending.
func (c *Client) RetryTask(ctx context.Context, taskID int64) (*Task, error) {
	now := c.cfg.Now().UTC()
	var events []*Event
	var task *Task
	err := c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
		events = events[:0]
		cur, err := tx.TaskGet(ctx, taskID)
		if err != nil {
			return err
		}
		if cur.State != taskertype.StateError {
			return invalidState("task %d is %s; only a task in error can be retried", taskID, cur.State)
		}
		meta := reasonMeta("task_retry", "")
		steps, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{TaskID: taskID, From: []State{taskertype.StateError},
			To: taskertype.StatePending, ResetAttempts: true, Metadata: meta, Now: now})
		if err != nil {
			return err
		}
		moved, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: taskID, From: []State{taskertype.StateError}, To: taskertype.StatePending, Metadata: meta, Now: now}})
		if err != nil {
			return err
		}
		task = moved[0]
		for _, s := range steps {
			events = append(events, &Event{Name: taskertype.EventStepRetryRequested, Task: task, Step: s, At: now})
		}
		events = append(events, &Event{Name: taskertype.EventTaskRetryRequested, Task: task, At: now})
		if err := c.writeOutbox(ctx, tx, events); err != nil {
			return err
		}
		return tx.Notify(ctx, taskerdriver.TopicStepsReady)
	})
	if err != nil {
		return nil, c.notFound(err, "task", taskID)
	}
	c.publish(events)
	return task, nil
}

// UpdateTask changes a task's reason and/or tags (nil leaves a field as is).
func (c *Client) UpdateTask(ctx context.Context, taskID int64, reason *string, tags []string) (*Task, error) {
	var r string
	if reason != nil {
		r = *reason
	}
	if fields := nulFields(map[string]any{"reason": r, "tags": tags}); fields != nil {
		return nil, &ValidationError{Message: "invalid task update", Fields: fields}
	}
	t, err := c.exec.TaskUpdate(ctx, &taskerdriver.TaskUpdateParams{ID: taskID, Reason: reason, Tags: tags, Now: c.cfg.Now().UTC()})
	return t, c.notFound(err, "task", taskID)
}

// UpdateStep changes a step's retry limit and/or inputs (nil leaves a field
// as is). A higher retry limit can unblock a step whose attempts ran out: use
// RetryTask afterwards.
func (c *Client) UpdateStep(ctx context.Context, stepID int64, retryLimit *int, inputs json.RawMessage) (*Step, error) {
	if retryLimit != nil && *retryLimit < 1 {
		return nil, &ValidationError{Message: "invalid step update", Fields: map[string]string{"retry_limit": "must be 1 or more (it counts all attempts)"}}
	}
	if fields := nulFields(map[string]any{"inputs": inputs}); fields != nil {
		return nil, &ValidationError{Message: "invalid step update", Fields: fields}
	}
	if _, err := c.exec.StepUpdate(ctx, &taskerdriver.StepUpdateParams{ID: stepID, RetryLimit: retryLimit, Inputs: inputs, Now: c.cfg.Now().UTC()}); err != nil {
		return nil, c.notFound(err, "step", stepID)
	}
	return c.GetStep(ctx, stepID)
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

// nulFields names the values that PostgreSQL cannot store (nil when all can
// be): text with a NUL character (U+0000) or bytes that are not UTF-8, JSON
// with those or with a lone UTF-16 surrogate escape. Values are strings,
// string slices or JSON.
func nulFields(values map[string]any) map[string]string {
	var fields map[string]string
	for name, v := range values {
		bad := false
		switch x := v.(type) {
		case string:
			bad = jsonclean.String(x) != x
		case []string:
			for _, s := range x {
				bad = bad || jsonclean.String(s) != s
			}
		case json.RawMessage:
			bad = !jsonclean.Storable(x)
		}
		if bad {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[name] = `holds a NUL character (U+0000, "\u0000" in JSON), bytes that are not UTF-8 or half of a UTF-16 surrogate pair ("\ud83d" alone), which cannot be stored: remove or fix it`
		}
	}
	return fields
}

func reasonMeta(kind, reason string) json.RawMessage {
	m := map[string]string{"reason": kind}
	if reason != "" {
		m["note"] = jsonclean.String(reason) // PostgreSQL stores no NUL character
	}
	b, _ := json.Marshal(m)
	return b
}

func containsState(states []State, s State) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// WaitTask waits until the task reaches a final state (complete, error,
// cancelled or resolved_manually) or ctx ends, and returns it.
func (c *Client) WaitTask(ctx context.Context, taskID int64) (*Task, error) {
	changed, unsub := c.driver.Listener().Subscribe(taskerdriver.TopicTaskChanged)
	defer unsub()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		t, err := c.GetTask(ctx, taskID)
		if err != nil {
			return nil, err
		}
		if t.State.Final() {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

// Start starts an in-process worker that claims and runs steps until Stop,
// and the maintenance services (lease rescue, retention) that run on the
// elected leader among the processes on the database.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.worker != nil {
		return errors.New("tasker: client already started")
	}
	c.worker, c.maint = c.newWorker()
	c.stopSubs = c.startSubscriptions(c.worker.ID())
	if err := c.maint.Start(ctx); err != nil {
		return err
	}
	return c.worker.Start(ctx)
}

// Stop stops the worker: no new steps are claimed, running handlers may
// finish until ctx is done, then they are cancelled and their steps released
// for another worker. The maintenance leadership, if this client held it, is
// resigned so that another process takes it over at once.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	w, m := c.worker, c.maint
	c.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Stop(ctx)
	m.Stop()
	c.mu.Lock()
	c.worker, c.maint = nil, nil
	stopSubs := c.stopSubs
	c.stopSubs = nil
	c.mu.Unlock()
	if stopSubs != nil {
		stopSubs()
	}
	return err
}

// RunUntilIdle runs steps in the calling goroutine until no step is ready at
// the client's current clock and none is running, then returns. It is the
// synchronous alternative to Start for tests and scripts (with a frozen clock
// it is exactly one pass of the original engine). It first runs one round of
// the maintenance services (lease rescue, retention) if this client is (or
// becomes) the maintenance leader. Do not call it while the client is
// started.
func (c *Client) RunUntilIdle(ctx context.Context) error {
	c.mu.Lock()
	if c.worker != nil {
		c.mu.Unlock()
		return errors.New("tasker: RunUntilIdle while the client is started")
	}
	w, m := c.newWorker()
	c.worker = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.worker = nil
		c.mu.Unlock()
	}()
	if err := m.RunDue(ctx); err != nil {
		return err
	}
	return w.Drain(ctx)
}

// newWorker returns the client's worker and maintainer.
func (c *Client) newWorker() (*orchestrator.Worker, *maintenance.Maintainer) {
	wc := c.cfg.Worker
	w := orchestrator.New(orchestrator.Config{
		Driver: c.driver, Run: c.run, Recorder: c.rec, Now: c.cfg.Now, Logger: c.logger, ID: c.workerID,
		Concurrency: wc.Concurrency, LeaseDuration: wc.LeaseDuration, PollInterval: wc.PollInterval,
		StepTimeout: wc.StepTimeout, Handlers: wc.Handlers, Publish: c.publish,
	})
	m := maintenance.New(maintenance.Config{
		Driver: c.driver, ID: c.workerID, Now: c.cfg.Now, Logger: c.logger, Interval: wc.RescueInterval, Publish: c.publish,
		Services: []maintenance.Service{
			&maintenance.Rescuer{Driver: c.driver, Recorder: c.rec, Logger: c.logger},
			&maintenance.Cleaner{Driver: c.driver, Retention: wc.Retention, Logger: c.logger},
		},
	})
	return w, m
}

// run executes one claimed step with its registered handler.
func (c *Client) run(ctx context.Context, cs *taskerdriver.ClaimedStep) orchestrator.Result {
	h, ok := c.registry.Handler(cs.Step.Handler)
	if !ok {
		return orchestrator.Result{
			Err:       fmt.Errorf("no handler %q is registered in worker %s: register it, or run the step on a worker that has it", cs.Step.Handler, c.workerID),
			Permanent: false, Kind: "handler_not_found",
		}
	}
	sc := &StepContext{
		Task: cs.Task, Step: cs.Step, Attempt: cs.Step.Attempts, deps: cs.Dependencies, registry: c.registry, now: c.cfg.Now,
		Logger: c.logger.With("task_id", cs.Task.ID, "step_id", cs.Step.ID, "step_name", cs.Step.Name, "attempt", cs.Step.Attempts),
	}
	if len(cs.Step.HandlerConfig) > 0 {
		var err error
		if usesExactConfig(h) {
			sc.Config, err = decodeExact(cs.Step.HandlerConfig)
		} else {
			err = json.Unmarshal(cs.Step.HandlerConfig, &sc.Config)
		}
		if err != nil {
			return orchestrator.Result{Err: fmt.Errorf("decode handler_config: %w", err), Permanent: true}
		}
	}
	out, err := chainStep(ctx, c.cfg.StepMiddleware, sc, func(ctx context.Context) (any, error) { return h.Handle(ctx, sc) })
	sc.mu.Lock()
	published := sc.published
	sc.mu.Unlock()
	if err != nil {
		res := orchestrator.Result{Err: err, Permanent: IsPermanent(err), Events: published}
		if de, ok := errors.AsType[DetailedError](err); ok {
			if d := de.Details(); json.Valid(d) {
				res.Details = d
			}
		}
		if te, ok := errors.AsType[DetailTextError](err); ok {
			res.Stack = te.DetailText()
		}
		if ce, ok := errors.AsType[ClassifiedError](err); ok {
			res.Class = ce.ErrorClass()
		}
		if d, ok := RetryAfterDelay(err); ok {
			res.RetryAfter = d
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			res.Kind = "timeout"
		}
		return res
	}
	raw, err := encodeResult(out)
	if err != nil {
		return orchestrator.Result{Err: err, Permanent: true, Events: published}
	}
	return orchestrator.Result{Results: raw, Events: published}
}
