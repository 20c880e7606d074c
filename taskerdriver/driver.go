package taskerdriver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// Driver is one database backend.
type Driver interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Executor runs operations outside an explicit transaction.
	Executor() Executor
	// UnwrapTx wraps a caller's own transaction (*sql.Tx for SQLite, pgx.Tx for
	// PostgreSQL) so that a task can be created atomically with the caller's
	// data. Commit and Rollback on the result are no-ops: the caller owns the
	// transaction. Notifications are sent only if the caller commits (for
	// drivers without transactional NOTIFY, workers find the work on their next
	// wake-up instead).
	UnwrapTx(tx any) (ExecutorTx, error)
	// Migrate applies the embedded migrations that are not applied yet.
	Migrate(ctx context.Context) error
	// MigrationVersion returns the newest applied migration version. Every
	// driver numbers the same schema change the same, so the same schema has
	// the same version on every database.
	MigrationVersion(ctx context.Context) (int, error)
	// Listener returns the driver's notification capability.
	Listener() Listener
	// Close releases the driver's connections.
	Close() error
}

// AsyncCommitter is implemented by drivers whose transactions can commit
// without waiting for the commit to reach disk (PostgreSQL's
// synchronous_commit = off). A worker configured for it begins its passes
// through AsyncCommitExecutor; nothing else does.
type AsyncCommitter interface {
	// AsyncCommitExecutor returns an executor whose transactions (Begin)
	// commit without waiting for durability: after a crash of the database
	// server (not of a Tasker process) the last of them may be lost, the
	// database staying consistent. Its other operations are Executor()'s.
	AsyncCommitExecutor() Executor
}

// StatisticsKeeper is implemented by drivers whose database plans prepared
// statements from table statistics that can lag the tables' growth
// (PostgreSQL). The maintenance leader calls RefreshStatistics every round.
type StatisticsKeeper interface {
	// RefreshStatistics analyzes the engine's tables whose size has
	// outgrown their statistics and returns their names (none most rounds).
	RefreshStatistics(ctx context.Context) ([]string, error)
}

// Listener delivers wake-up signals between workers. PostgreSQL implements it
// with LISTEN/NOTIFY across processes; SQLite, an embedded database, delivers
// in-process only (other processes on the same file find work by their
// fallback poll).
type Listener interface {
	// CrossProcess reports whether notifications reach other processes.
	CrossProcess() bool
	// Subscribe returns a channel that receives a value (coalesced, never
	// blocking the sender) whenever Notify(topic) was committed.
	Subscribe(topic string) (<-chan struct{}, func())
}

// Notification topics.
const (
	// TopicStepsReady is notified when steps become ready to claim.
	TopicStepsReady = "tasker_steps_ready"
	// TopicTaskChanged is notified when a task reaches a final state.
	TopicTaskChanged = "tasker_task_changed"
)

// Executor is the set of storage operations. Methods take a *Params pointer
// so that fields can be added without breaking callers.
type Executor interface {
	// Begin starts a transaction. On SQLite it takes the write lock at once.
	Begin(ctx context.Context) (ExecutorTx, error)

	// TaskCreate inserts a task, its steps, their edges and the initial
	// transitions. With a non-empty IdentityHash that already exists, it
	// inserts nothing and returns the existing task with Existing set.
	TaskCreate(ctx context.Context, p *TaskCreateParams) (*TaskCreateResult, error)
	TaskGet(ctx context.Context, id int64) (*taskertype.Task, error)
	TaskList(ctx context.Context, p *TaskListParams) ([]*taskertype.Task, int, error)
	// TaskSetStateMany moves several tasks, each from the state it is in
	// (From must hold exactly that state), with their transitions, in few
	// statements. The tasks should be locked already (TaskProgressMany). It
	// returns the moved tasks in the order of ps; a task not in its From state
	// is an ErrStateConflict, and a task that does not exist an ErrNotFound,
	// for the whole call.
	TaskSetStateMany(ctx context.Context, ps []*TaskSetStateParams) ([]*taskertype.Task, error)
	TaskUpdate(ctx context.Context, p *TaskUpdateParams) (*taskertype.Task, error)

	StepGet(ctx context.Context, id int64) (*taskertype.Step, error)
	StepList(ctx context.Context, p *StepListParams) ([]*taskertype.Step, error)
	// StepClaim claims up to Limit ready steps (pending or retry-eligible
	// error, no unfinished parent, backoff elapsed), moves them to in_progress
	// with Attempts+1 and a lease, writes their transitions (error → pending →
	// in_progress for retries) and moves their pending tasks to in_progress.
	// Two concurrent claims never return the same step.
	StepClaim(ctx context.Context, p *StepClaimParams) ([]*ClaimedStep, error)
	// StepFinishMany records the outcomes of attempts (a worker's finished
	// steps of one pass, or one), each guarded by its lease (owner and
	// attempt). On completion it decrements the children's unfinished-parent
	// counts. Results are in the order of ps; a step whose guard fails has
	// Err ErrLeaseLost and the others are still recorded.
	StepFinishMany(ctx context.Context, ps []*StepFinishParams) ([]StepFinishOutcome, error)
	// StepFinishAndClaim is a worker pass in one transaction:
	// StepFinishMany(p.Finish), then StepClaim(p.Claim), which sees the
	// children the results readied. A driver may send both in one round
	// trip, and with them lock and count the tasks of p.Progress, as
	// TaskProgressMany does, into Result.Progress; a driver for which that
	// read would cost a round trip of its own returns no Progress (the
	// caller reads what it needs). With no Finish it only claims; with a
	// nil Claim (or Limit 0) it claims nothing.
	StepFinishAndClaim(ctx context.Context, p *StepFinishAndClaimParams) (*StepFinishAndClaimResult, error)
	// StepSetState moves steps (by IDs, or all of a task's steps) that are in
	// one of From to To, with transitions; used for cancel, manual resolution
	// and retry. Moves to complete or resolved_manually decrement children.
	StepSetState(ctx context.Context, p *StepSetStateParams) ([]*taskertype.Step, error)
	StepUpdate(ctx context.Context, p *StepUpdateParams) (*taskertype.Step, error)
	// StepHeartbeat extends the leases of the given steps that Owner still
	// holds and returns the IDs it extended.
	StepHeartbeat(ctx context.Context, p *StepHeartbeatParams) ([]int64, error)
	// StepListExpired returns in_progress steps whose lease expired before Now.
	StepListExpired(ctx context.Context, p *StepListExpiredParams) ([]*taskertype.Step, error)
	// StepNextWake returns the earliest time at which a runnable step of the
	// given queues is or becomes ready (at or before Now when one is ready
	// now) or, with Leases, a lease of any step expires; zero when there is
	// none. Workers use it to skip a write transaction when nothing is ready
	// and to sleep until work is due.
	StepNextWake(ctx context.Context, p *StepNextWakeParams) (time.Time, error)

	TransitionList(ctx context.Context, p *TransitionListParams) ([]*taskertype.Transition, error)

	// TaskProgressMany locks tasks (in id order, on databases with row
	// locks, until the transaction ends, so that concurrent finalizations of
	// one task see each other's step changes) and counts their steps for the
	// outcome decision. It returns the tasks and their progress by task id; a
	// task that does not exist is left out.
	TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*TaskWithProgress, error)
	// TaskDeleteFinished deletes up to Limit tasks (with their steps, edges
	// and transitions) that reached one of States before Before, and returns
	// how many it deleted.
	TaskDeleteFinished(ctx context.Context, p *TaskDeleteFinishedParams) (int, error)
	// LeaderAttempt makes ID the leader of Name until Now+TTL when there is
	// no leader, the leader's term expired, or ID already leads (renewal). It
	// reports whether ID leads.
	LeaderAttempt(ctx context.Context, p *LeaderAttemptParams) (bool, error)
	// LeaderResign ends ID's leadership of Name, if it has it.
	LeaderResign(ctx context.Context, p *LeaderAttemptParams) error
	// OutboxInsert writes events for outside subscribers, in the surrounding
	// transaction (so they exist if and only if the fact commits).
	OutboxInsert(ctx context.Context, ps []*OutboxInsertParams) error
	// OutboxClaim leases up to Limit pending messages that are due.
	OutboxClaim(ctx context.Context, p *OutboxClaimParams) ([]*taskertype.OutboxMessage, error)
	// OutboxFinish records a delivery attempt of a leased message: delivered,
	// retried at NextAttemptAt, or dead.
	OutboxFinish(ctx context.Context, p *OutboxFinishParams) error
	// OutboxList lists messages in a state (newest first).
	OutboxList(ctx context.Context, p *OutboxListParams) ([]*taskertype.OutboxMessage, error)
	// OutboxReplay moves dead messages (IDs, or all when empty) back to
	// pending with fresh attempts and returns how many it moved.
	OutboxReplay(ctx context.Context, p *OutboxReplayParams) (int, error)
	// TokenInsert stores an API token. A name held by a token not revoked
	// is an ErrAlreadyExists (the name of a revoked token may be reused).
	TokenInsert(ctx context.Context, p *TokenInsertParams) (*Token, error)
	// TokenGet returns the token with a lookup id (revoked or not), or
	// ErrNotFound.
	TokenGet(ctx context.Context, lookupID string) (*Token, error)
	// TokenList lists tokens, revoked ones included, oldest first.
	TokenList(ctx context.Context, p *TokenListParams) ([]*Token, error)
	// TokenRevoke sets the revocation time of the token of Name that is not
	// revoked, and returns it; ErrNotFound when there is none.
	TokenRevoke(ctx context.Context, p *TokenRevokeParams) (*Token, error)
	// TokenAny reports whether any token was ever stored (revoked ones
	// count): the server then requires a credential.
	TokenAny(ctx context.Context) (bool, error)
	// AnnotationInsert records an annotation of a task, creating its type
	// (by name) when no type has that name yet; concurrent inserts of a new
	// type's first annotations create it once. A task that does not exist
	// is an ErrNotFound, and then no type is created.
	AnnotationInsert(ctx context.Context, p *AnnotationInsertParams) (*taskertype.TaskAnnotation, error)
	// AnnotationList returns the annotations of the tasks of TaskIDs, in
	// one query, ordered by task id then annotation id.
	AnnotationList(ctx context.Context, p *AnnotationListParams) ([]*taskertype.TaskAnnotation, error)
	// AnnotationTypeList returns every annotation type, ordered by name.
	AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error)
	// HealthCounts counts tasks and steps by state for health reporting, and
	// checks that the database answers.
	HealthCounts(ctx context.Context, now time.Time) (*HealthCounts, error)
	// WorkerSeen records that a worker is alive: it inserts the worker's
	// row, or updates its description, served names and last_seen_at.
	WorkerSeen(ctx context.Context, p *WorkerSeenParams) error
	// WorkerList returns the workers last seen at or after Since, the most
	// recently seen first (then by id).
	WorkerList(ctx context.Context, p *WorkerListParams) ([]*taskertype.Worker, error)
	// WorkerDeleteStale deletes the workers last seen before Before and
	// returns how many it deleted.
	WorkerDeleteStale(ctx context.Context, p *WorkerDeleteStaleParams) (int, error)
	// TemplateRegister stores a template under its namespace, name and
	// version, in one statement safe against concurrent registrations of
	// the same key. The same content (Hash) again changes nothing
	// (TemplateUnchanged); other content is refused (TemplateConflict, with
	// the stored row, nothing written) unless Replace (TemplateReplaced).
	// The result's Template is the row stored after the call.
	TemplateRegister(ctx context.Context, p *TemplateRegisterParams) (*TemplateRegisterResult, error)
	// TemplateGet returns one registered template with its definition, or
	// ErrNotFound.
	TemplateGet(ctx context.Context, p *TemplateGetParams) (*taskertype.RegisteredTemplate, error)
	// TemplateList returns the registered templates (of Namespace and Name
	// when set), ordered by namespace, name and version (as text), with
	// their definitions when WithDefinition.
	TemplateList(ctx context.Context, p *TemplateListParams) ([]*taskertype.RegisteredTemplate, error)
	// AnalyticsWindow computes the analytics of the tasks created in a
	// window (see AnalyticsParams) in SQL, reading only that window's rows.
	AnalyticsWindow(ctx context.Context, p *AnalyticsParams) (*AnalyticsWindow, error)
	// AnalyticsOverview counts the active tasks and the distinct
	// namespaces and templates in use, without reading every task.
	AnalyticsOverview(ctx context.Context) (*AnalyticsOverview, error)
	// AnalyticsSeries computes, per bucket of time, the tasks that
	// finished in it and the steps of (a bounded sample of) them (see
	// AnalyticsSeriesParams) in SQL, reading only the buckets' rows. It
	// returns exactly p.Buckets buckets, the oldest first.
	AnalyticsSeries(ctx context.Context, p *AnalyticsSeriesParams) ([]AnalyticsSeriesBucket, error)

	// ScheduleInsertMany stores new schedules, all or none: a name that a
	// schedule has is an ErrAlreadyExists for the whole call. It returns
	// them in the order of ps.
	ScheduleInsertMany(ctx context.Context, ps []*ScheduleInsertParams) ([]*taskertype.Schedule, error)
	// ScheduleUpdateMany changes schedules by id, all or none, and returns
	// them in the order of ps. A schedule that does not exist is an
	// ErrNotFound, and one whose next fire time is not ExpectNextFireAt
	// (when set) an ErrStateConflict, for the whole call: the compare-and-set
	// by which two schedulers never both handle a fire time.
	ScheduleUpdateMany(ctx context.Context, ps []*ScheduleUpdateParams) ([]*taskertype.Schedule, error)
	// ScheduleList returns schedules: by name, or the active ones due at a
	// time (earliest next fire time first), or all (by name).
	ScheduleList(ctx context.Context, p *ScheduleListParams) ([]*taskertype.Schedule, error)
	// ScheduleDeleteMany deletes schedules by name (with their fire
	// records) and returns how many it deleted.
	ScheduleDeleteMany(ctx context.Context, names []string) (int, error)
	// ScheduleFireInsertMany records fire times of schedules, each at most
	// once: it reports, in the order of ps, whether each was recorded now
	// (false: it was already). A concurrent insert of the same fire time
	// waits for the other transaction and then reports false; this unique
	// key per schedule and fire time is what makes a fire create one task
	// even under two schedulers at once.
	ScheduleFireInsertMany(ctx context.Context, ps []*ScheduleFireParams) ([]bool, error)
	// ScheduleFirePrune deletes the fire records of fire times before
	// Before and returns how many it deleted.
	ScheduleFirePrune(ctx context.Context, p *ScheduleFirePruneParams) (int, error)

	// Notify sends topic to listeners when the surrounding transaction commits
	// (at once outside a transaction).
	Notify(ctx context.Context, topic string) error
}

// ExecutorTx is an Executor inside a transaction.
type ExecutorTx interface {
	Executor
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// TaskCreateParams describes a new task.
type TaskCreateParams struct {
	Namespace, Name, Version string
	Context                  json.RawMessage
	Initiator                string
	SourceSystem             string
	Reason                   string
	Tags                     []string
	// IdentityHash is unique across tasks; drivers reject nothing on conflict
	// but return the existing task.
	IdentityHash string
	RequestedAt  time.Time
	Now          time.Time
	Steps        []StepCreateParams
	// IdempotencyKey, when not empty, names this create: if a create under
	// the same key was stored at or after IdempotencySince and its task
	// still exists, the driver creates nothing and returns that task with
	// Existing and Replayed set, and the RequestHash stored with the key.
	// Otherwise it stores the key with IdempotencyHash (replacing an older
	// one) and the task the create makes or finds.
	IdempotencyKey   string
	IdempotencyHash  string
	IdempotencySince time.Time
	// TraceParent and TraceState are the W3C trace context the task was
	// created under (empty: none), stored with the task and returned in
	// Task.TraceParent and Task.TraceState.
	TraceParent, TraceState string
	// Metadata is the metadata of the task's first transition (→ pending);
	// empty: {"initialized_by": "task_create"}.
	Metadata json.RawMessage
	// Claim, when set, claims the new task's ready steps in the same
	// transaction, as StepClaim with these params restricted to the new
	// task (its TaskIDs are ignored), into TaskCreateResult.Claimed: the
	// creating process runs them (create-and-claim). A task that existed
	// already claims nothing. A driver may send the claim with the insert.
	Claim *StepClaimParams
	// Settle offers the driver to commit the transaction with the creation,
	// in its round trip: the caller will write nothing more in it. A
	// driver that takes it sets TaskCreateResult.Committed. It may ignore
	// it (the PostgreSQL driver takes it for a creation with Claim and no
	// IdempotencyKey, in a transaction that has sent nothing yet).
	Settle bool
}

// StepCreateParams describes one step of a new task.
type StepCreateParams struct {
	Name          string
	Handler       string
	HandlerConfig json.RawMessage
	Policy        json.RawMessage
	RetryLimit    int
	Retryable     bool
	Skippable     bool
	Inputs        json.RawMessage
	// Queue routes the step to remote workers polling it; empty for steps
	// run by in-process workers.
	Queue string
	// Parents are indexes into TaskCreateParams.Steps.
	Parents []int
}

// TaskCreateResult is the outcome of TaskCreate.
type TaskCreateResult struct {
	Task     *taskertype.Task
	Steps    []*taskertype.Step
	Existing bool
	// Replayed is true when Task was found by TaskCreateParams.IdempotencyKey;
	// RequestHash is then the IdempotencyHash stored with the key.
	Replayed    bool
	RequestHash string
	// Claimed are the steps TaskCreateParams.Claim claimed.
	Claimed []*ClaimedStep
	// Committed: the driver took TaskCreateParams.Settle's offer and the
	// transaction is committed; the caller must write nothing more in it.
	Committed bool
}

// TaskListParams filters and pages tasks. Zero values do not filter.
type TaskListParams struct {
	States       []taskertype.State
	Namespace    string
	Name         string
	Version      string
	Initiator    string
	SourceSystem string
	Tags         []string // tasks having all of these tags
	CreatedAfter time.Time
	CreatedUntil time.Time
	// OrderBy is one of "task_id", "created_at", "requested_at", "name",
	// "status"; default "task_id". Desc reverses it.
	OrderBy string
	Desc    bool
	Limit   int // default 50
	Offset  int
	// OmitContext leaves Task.Context nil: the column is not read (list
	// views leave the heavy context out unless asked for).
	OmitContext bool
	// Annotation, when not nil, keeps the tasks that have an annotation
	// matching it (each such task once).
	Annotation *AnnotationFilter
	// CountLimit, when > 0, stops the count of matching tasks at
	// CountLimit + 1 (TaskList's total is then at most that), so that a
	// page costs the same on a table of any size.
	CountLimit int
}

// AnnotationFilter selects tasks by their annotations: those having an
// annotation of type Type whose top-level member Key has the value Value,
// compared as text as PostgreSQL's annotation ->> Key = Value does. A JSON
// string compares by its content (without quotes), true and false by
// those words, and a number by its text as PostgreSQL's numeric writes it
// (1e2 is 100, 1.50 stays 1.50; the drivers store numbers so). A member
// that is null, an object or an array, or that is absent, never matches.
type AnnotationFilter struct {
	Type, Key, Value string
}

// TaskSetStateParams moves a task from the one state of From to To.
type TaskSetStateParams struct {
	ID       int64
	From     []taskertype.State
	To       taskertype.State
	Metadata json.RawMessage
	Now      time.Time
	// Locked, when set, is the task as the caller read it in this
	// transaction under the row lock it holds (TaskProgressMany), in its
	// one From state: the move cannot conflict, so a driver may write it
	// with the transaction's next statement and return Locked as moved
	// (a move that then finds the task in another state fails the
	// transaction).
	Locked *taskertype.Task
}

// TaskUpdateParams updates a task's mutable fields (nil = unchanged).
type TaskUpdateParams struct {
	ID     int64
	Reason *string
	Tags   []string
	Now    time.Time
	// Metadata, when not empty, audits the change: a transition from the
	// task's state to the same state, with this metadata, is written with
	// the update.
	Metadata json.RawMessage
}

// TaskProgress counts a task's steps by what they can still do.
type TaskProgress struct {
	Total      int
	Done       int // complete or resolved_manually
	Resolved   int // resolved_manually
	InProgress int
	// Runnable counts pending or retry-eligible error steps with no
	// unfinished parent, whatever their backoff.
	Runnable  int
	Blocked   int
	Cancelled int
	// NextRunnableAt is the earliest next_attempt_at of the runnable steps
	// (zero when none, or when one was ready since its creation).
	NextRunnableAt time.Time
}

// StepListParams selects steps.
type StepListParams struct {
	TaskID int64
	// TaskIDs selects the steps of these tasks (with TaskID, of both).
	TaskIDs []int64
	IDs     []int64
	States  []taskertype.State
	// OmitInputs and OmitResults leave Step.Inputs and Step.Results nil:
	// the columns are not read (list views leave them out unless asked for).
	OmitInputs, OmitResults bool
}

// StepClaimParams claims ready steps.
type StepClaimParams struct {
	Now   time.Time
	Limit int
	// Owner identifies the claiming worker; it must hold the lease to finish.
	Owner          string
	LeaseExpiresAt time.Time
	// Handlers, when not empty, restricts the claim to steps of these handlers.
	Handlers []string
	// TaskIDs, when not empty, restricts the claim to steps of these tasks
	// (the process that creates a task claiming its first steps in the
	// creating transaction).
	TaskIDs []int64
	// Queues selects the steps of these remote queues; when empty the claim
	// takes only steps without a queue (those of in-process workers).
	Queues []string
}

// StepNextWakeParams selects what StepNextWake looks at.
type StepNextWakeParams struct {
	Now time.Time
	// Queues as in StepClaimParams: empty means the steps without a queue.
	Queues []string
	// Handlers as in StepClaimParams: when not empty, only steps of these
	// handlers wake the caller.
	Handlers []string
	// Leases includes the expiry of every in_progress step's lease.
	Leases bool
}

// ClaimedStep is a step claimed for execution, with what its handler needs.
type ClaimedStep struct {
	Step *taskertype.Step
	Task *taskertype.Task
	// Dependencies are the results of the step's parents by step name.
	Dependencies map[string]json.RawMessage
	// TaskStarted is true for the claimed steps of a task that this claim
	// moved from pending to in_progress.
	TaskStarted bool
	// ReadyAt is when the step became ready to claim: the later of its last
	// change before the claim (its creation, the completion of its last
	// parent, a release) and its retry time. Claim time minus ReadyAt is how
	// long it waited in the queue.
	ReadyAt time.Time
	// Children is how many steps depend on Step. The completion of a step
	// with children leaves its task running (a child has yet to run, unless
	// an operator resolved them all meanwhile), so the pass that records it
	// need not offer StepFinishAndClaimParams.Done.
	Children int
}

// StepFinishParams records one attempt's outcome.
type StepFinishParams struct {
	StepID  int64
	Owner   string
	Attempt int
	// State is complete or error.
	State   taskertype.State
	Results json.RawMessage
	Error   *taskertype.StepError
	// Blocked marks an error step as not retryable any more.
	Blocked       bool
	NextAttemptAt time.Time
	Metadata      json.RawMessage
	Now           time.Time
}

// StepFinishAndClaimParams is a worker pass: its results, its claim, and
// the tasks whose outcome it may decide.
type StepFinishAndClaimParams struct {
	Finish []*StepFinishParams
	Claim  *StepClaimParams
	// Progress lists tasks to lock and count after the results and the
	// claim, when the driver can do so without a round trip of its own.
	Progress []int64
	// Settle offers the driver to commit the transaction with the pass, in
	// its round trip. The caller sets it when every result of Finish is a
	// completion and it will write nothing more in the transaction unless
	// the outcome of a task of Progress is to be decided. A driver that
	// takes the offer commits only if, after the results and the claim,
	// every task of Progress either
	//   - still has a step in progress or ready to run (pending or in
	//     error, no unfinished parent, not blocked, its retry time reached)
	//     and is not in error: statemachine.Decide then moves it nowhere
	//     and no event of a running task is due (recorder's finalize);
	//   - is in a final state, where Decide moves nothing either;
	//   - or, when Done is given, is in Done.From with every step done
	//     (complete or resolved manually): the driver moves it as Done
	//     says, in the same transaction, into Result.Done.
	// Otherwise it writes as without the offer. Result.Committed says
	// which. A driver may ignore the offer.
	Settle bool
	// Done is, with Settle, the decision for a task of Progress whose
	// steps are all done, which a driver that settles applies itself:
	// statemachine.Decide's for such a task in state From, given by the
	// caller. Its transition's metadata is Reason and the task's step
	// counts ({"reason", "total_steps", "done_steps", "blocked_steps"}, as
	// the recorder's finalize writes them). Nil: no task is moved, and a
	// task whose steps are all done does not settle.
	Done *SettleDecision
}

// SettleDecision is a task move a driver that settles a pass applies
// itself (StepFinishAndClaimParams.Done).
type SettleDecision struct {
	From, To taskertype.State
	Reason   string
}

// StepFinishAndClaimResult is what a worker pass wrote and read.
type StepFinishAndClaimResult struct {
	// Finished holds the outcomes of Finish, in its order.
	Finished []StepFinishOutcome
	Claimed  []*ClaimedStep
	// Progress holds the locked tasks of Progress and their counts, by id
	// (nil when the driver did not read them).
	Progress map[int64]*TaskWithProgress
	// Committed: the driver took Settle's offer and the transaction is
	// committed; the caller must write nothing more in it.
	Committed bool
	// Done holds the tasks a committed pass moved as
	// StepFinishAndClaimParams.Done says, as they are after the move, in
	// id order. Their entries in Progress are as read before it.
	Done []*taskertype.Task
}

// StepFinishResult reports what StepFinishMany changed for one step.
type StepFinishResult struct {
	Step *taskertype.Step
	// ChildrenReady counts children whose last unfinished parent this was.
	ChildrenReady int
}

// StepFinishOutcome is one result of StepFinishMany.
type StepFinishOutcome struct {
	Result *StepFinishResult
	Err    error
}

// TaskWithProgress is a locked task and its step counts.
type TaskWithProgress struct {
	Task     *taskertype.Task
	Progress *TaskProgress
}

// StepSetStateParams moves steps.
type StepSetStateParams struct {
	TaskID int64
	IDs    []int64
	From   []taskertype.State
	To     taskertype.State
	// Results replaces the results when not nil (manual resolution).
	Results json.RawMessage
	// ResetAttempts sets attempts to zero and clears the error and the block
	// (task retry).
	ResetAttempts bool
	// DecrementAttempt gives back the attempt of a released in_progress step.
	DecrementAttempt bool
	// Owner, when set, restricts the move to steps leased by Owner.
	Owner    string
	Metadata json.RawMessage
	Now      time.Time
}

// StepUpdateParams updates a step's mutable fields (nil = unchanged).
type StepUpdateParams struct {
	ID         int64
	RetryLimit *int
	Retryable  *bool
	Inputs     json.RawMessage
	Now        time.Time
	// Metadata, when not empty, audits the change as TaskUpdateParams's.
	Metadata json.RawMessage
}

// StepHeartbeatParams extends leases.
type StepHeartbeatParams struct {
	Owner          string
	IDs            []int64
	LeaseExpiresAt time.Time
	Now            time.Time
}

// StepListExpiredParams finds lost steps.
type StepListExpiredParams struct {
	Now   time.Time
	Limit int
}

// Topic of new outbox messages.
const TopicOutbox = "tasker_outbox"

// OutboxMessage is one event for one outside subscriber.
//
// Deprecated: use taskertype.OutboxMessage (the same type).
type OutboxMessage = taskertype.OutboxMessage

// OutboxInsertParams is one message to write.
type OutboxInsertParams struct {
	Subscription string
	EventName    string
	Payload      json.RawMessage
	Now          time.Time
}

// OutboxClaimParams leases due messages.
type OutboxClaimParams struct {
	Now            time.Time
	Limit          int
	Owner          string
	LeaseExpiresAt time.Time
	// Subscriptions, when not empty, restricts the claim to these.
	Subscriptions []string
}

// OutboxFinishParams records a delivery attempt.
type OutboxFinishParams struct {
	ID            int64
	Owner         string
	Delivered     bool
	Dead          bool
	Error         string
	NextAttemptAt time.Time
	Now           time.Time
}

// OutboxListParams selects messages.
type OutboxListParams struct {
	State        string // pending, delivered or dead
	Subscription string
	Limit        int // default 100
}

// OutboxReplayParams selects dead messages to retry.
type OutboxReplayParams struct {
	IDs []int64
	Now time.Time
}

// HealthCounts are the counts behind the health status.
type HealthCounts struct {
	Tasks map[taskertype.State]int
	Steps map[taskertype.State]int
	// RetryableErrors are error steps that will be retried; InBackoff are
	// those still waiting for their retry time; ExhaustedRetries are blocked
	// error steps.
	RetryableErrors  int
	InBackoff        int
	ExhaustedRetries int
	// ActiveConnections and MaxConnections describe the database server's
	// connections (zero for an embedded database).
	ActiveConnections int
	MaxConnections    int
	// ReadySteps are the steps a worker may claim at now: pending or
	// retry-eligible error, no unfinished parent, retry time passed (of
	// every queue).
	ReadySteps int
	// OutboxBacklog are the outbox messages still to deliver (pending);
	// DeadLetters those that exhausted their delivery attempts (dead).
	OutboxBacklog int
	DeadLetters   int
}

// TaskDeleteFinishedParams selects finished tasks to delete.
type TaskDeleteFinishedParams struct {
	States []taskertype.State
	Before time.Time
	Limit  int
}

// LeaderAttemptParams names a leadership and a candidate.
type LeaderAttemptParams struct {
	Name string
	ID   string
	Now  time.Time
	TTL  time.Duration
}

// TransitionListParams selects audit rows of a task (StepID zero: the task's
// own transitions; AllSteps: every step's transitions of the task) or of a
// step; or, with Feed, of every task or step (a feed of changes).
type TransitionListParams struct {
	TaskID   int64
	StepID   int64
	AllSteps bool
	// Feed lists the transitions of every task (AllSteps false) or of
	// every step (AllSteps true) whose id is above AfterID, in id order, at
	// most Limit (0 or above MaxFeedLimit: MaxFeedLimit); TaskID and StepID
	// must be zero. AfterID -1 lists only the newest transition (a feed
	// starts from it). Ids grow with inserts; a transaction that commits
	// after one with higher ids may appear behind a reader's position, so
	// a feed is for live views that also re-read, not for accounting.
	Feed    bool
	AfterID int64
	Limit   int
}

// MaxFeedLimit bounds the rows of one TransitionListParams.Feed read.
const MaxFeedLimit = 1000

// Token is a stored API token: never its secret, only the secret's hash.
type Token struct {
	ID int64
	// Name is unique among the tokens not revoked.
	Name string
	// LookupID is the public part of the token, unique across all tokens,
	// by which a presented token is found.
	LookupID string
	// SecretHash is the SHA-256 of the token's secret part.
	SecretHash  []byte
	Permissions []string
	CreatedBy   string
	CreatedAt   time.Time
	// ExpiresAt and RevokedAt are zero when not set.
	ExpiresAt time.Time
	RevokedAt time.Time
}

// TokenInsertParams describes a new API token.
type TokenInsertParams struct {
	Name        string
	LookupID    string
	SecretHash  []byte
	Permissions []string
	CreatedBy   string
	// ExpiresAt is zero for a token that never expires.
	ExpiresAt time.Time
	Now       time.Time
}

// TokenListParams selects tokens. Zero values do not filter.
type TokenListParams struct {
	Name string
}

// TokenRevokeParams revokes the live token of a name.
type TokenRevokeParams struct {
	Name string
	Now  time.Time
}

// AnnotationInsertParams describes a new annotation of a task.
type AnnotationInsertParams struct {
	TaskID int64
	// Type names the annotation's type; it is created when new.
	Type string
	// Annotation is a JSON object.
	Annotation json.RawMessage
	Now        time.Time
}

// AnnotationListParams selects the annotations of tasks.
type AnnotationListParams struct {
	TaskIDs []int64
}

// WorkerSeenParams describes a worker that reports itself alive.
type WorkerSeenParams struct {
	ID         string
	Kind       taskertype.WorkerKind
	Host       string
	PID        int
	Version    string
	Handlers   []string
	Namespaces []string
	Queues     []string
	// KeepQueues keeps the stored queues of an existing row (a remote
	// worker's heartbeat does not name its queues).
	KeepQueues bool
	// StartedAt is when the worker started; zero keeps the stored start
	// (Now for a new row), for workers that do not know it (remote ones).
	StartedAt time.Time
	Now       time.Time
}

// WorkerListParams selects workers by when they were last seen.
type WorkerListParams struct {
	Since time.Time
	// Limit is the most workers returned; default 1000.
	Limit int
}

// WorkerDeleteStaleParams selects the workers to forget.
type WorkerDeleteStaleParams struct {
	Before time.Time
}
