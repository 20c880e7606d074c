package recorder

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Config configures a Recorder. Zero values mean the documented defaults.
type Config struct {
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Retry is the default backoff policy of steps (see retrypolicy.Policy
	// for its defaults); a step's own policy overrides it.
	Retry retrypolicy.Policy
	// Rand returns numbers in [0,1) for jitter. Defaults to math/rand/v2.
	Rand func() float64
	// Outbox maps events to outbox messages for durable subscribers, written
	// in the same transaction by WriteOutbox. Nil: none.
	Outbox func(events []*taskertype.Event) []*taskerdriver.OutboxInsertParams
}

// Recorder writes attempts and their consequences. It keeps no state: one
// Recorder may serve any number of goroutines.
type Recorder struct {
	cfg Config
}

// New returns a Recorder.
func New(cfg Config) *Recorder {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Recorder{cfg: cfg}
}

// Record writes finished attempts with one StepFinishMany — a completion
// decrements its children's unfinished parents; a failure gets its retry
// time or is blocked — then finalizes, with FinalizeMany, the tasks whose
// outcome the attempts may decide (a failure, or a completion that readied
// no child). The events of what it wrote go to b. It returns, in the order
// of attempts, what it did with each; an attempt whose lease was lost is
// skipped (Recorded.Lost) and the others are still recorded.
func (r *Recorder) Record(ctx context.Context, tx taskerdriver.Executor, now time.Time, attempts []Attempt, b *Batch) ([]Recorded, error) {
	recorded, _, err := r.RecordAndClaim(ctx, tx, now, attempts, nil, b)
	return recorded, err
}

// RecordAndClaim is Record and Claim(claim) in one transaction, the claim
// written before the tasks are finalized and sent with the results, and
// the tasks of the attempts locked and counted with them
// (Executor.StepFinishAndClaim): a worker pass's work in one round trip
// where the driver can, plus the finalization's writes. Claiming first
// changes no outcome: a claimed step counts as in progress where it
// counted as runnable, and neither lets a task end. The claim's events
// follow the record's in b. A nil claim claims nothing.
//
// When every attempt is a completion and no outbox is written, the pass
// offers the driver to settle (StepFinishAndClaimParams.Settle): to commit
// in its round trip when no task of the attempts is to be decided, or
// only completed, which the driver then does itself with the decision
// statemachine.Decide makes for a running task whose steps are all done
// (StepFinishAndClaimParams.Done, offered when a completed step has no
// children, Attempt.Children: a step with children ends its task only when
// they were all resolved manually while it ran, and that pass, not
// settled, is written in two round trips).
// A settled transaction is over: the caller writes nothing more in it
// (its Commit does nothing).
func (r *Recorder) RecordAndClaim(ctx context.Context, tx taskerdriver.Executor, now time.Time, attempts []Attempt, claim *taskerdriver.StepClaimParams, b *Batch) ([]Recorded, []*taskerdriver.ClaimedStep, error) {
	if len(attempts) == 0 && claim == nil {
		return nil, nil, nil
	}
	params := make([]*taskerdriver.StepFinishParams, len(attempts))
	fails := make([]*failure, len(attempts))
	settle, leaf := r.cfg.Outbox == nil, false
	for i, a := range attempts {
		if a.Result.Err == nil {
			params[i] = completion(a, now)
			leaf = leaf || a.Children == 0
			continue
		}
		fails[i] = r.failure(a.Step, a.Owner, a.Result, now)
		params[i] = fails[i].params
		settle = false
	}
	// Every task of the attempts is read ahead: one whose outcome they do
	// not decide (a completion that readied a child) is only locked until
	// the commit. Reading only those an attempt may decide would lock
	// the others later, out of id order with these.
	taskIDs := make([]int64, len(attempts))
	for i, a := range attempts {
		taskIDs[i] = a.Step.TaskID
	}
	p := &taskerdriver.StepFinishAndClaimParams{Finish: params, Claim: claim, Progress: taskIDs}
	if settle && len(attempts) > 0 {
		p.Settle = true
		if leaf { // a step with children rarely is its task's last
			p.Done = settledDone
		}
	}
	res, err := tx.StepFinishAndClaim(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	outs, claims := res.Finished, res.Claimed
	recorded := make([]Recorded, len(attempts))
	var decide []int64
	blocked := map[int64]bool{}
	for i, o := range outs {
		a := attempts[i]
		if o.Err != nil { // the lease guard failed (taskerdriver.ErrLeaseLost)
			recorded[i].Lost = true
			r.cfg.Logger.InfoContext(ctx, "recorder: result of a step no longer owned dropped",
				"task_id", a.Step.TaskID, "step", a.Step.Name, "step_id", a.Step.ID, "attempt", a.Step.Attempts, "owner", a.Owner, "error", o.Err)
			continue
		}
		step := o.Result.Step
		recorded[i].Step = step
		b.Add(a.Result.Events...)
		duration := a.Ended.Sub(a.Started)
		if f := fails[i]; f != nil {
			f.events(a.Task, step, duration, now, b)
			decide = append(decide, step.TaskID)
			recorded[i].Blocked = f.blocked
			blocked[step.TaskID] = blocked[step.TaskID] || f.blocked
			continue
		}
		b.Add(&taskertype.Event{Name: taskertype.EventStepCompleted, Task: a.Task, Step: step, Attempt: a.Step.Attempts, Duration: duration, At: now})
		if o.Result.ChildrenReady == 0 {
			decide = append(decide, step.TaskID)
		}
	}
	if res.Committed {
		// The driver found every task running, final or completed (the
		// settle condition): the other decisions move nothing and need
		// no read. A task missing from Progress was deleted meanwhile.
		for _, t := range res.Done {
			b.Add(&taskertype.Event{Name: statemachine.TaskEvent(settledDone.From, t.State), Task: t, At: now})
		}
		decide = slices.DeleteFunc(decide, func(id int64) bool {
			return res.Progress[id] == nil || slices.ContainsFunc(res.Done, func(t *taskertype.Task) bool { return t.ID == id })
		})
	}
	if len(decide) > 0 {
		if _, err := finalize(ctx, tx, decide, blocked, res.Progress, now, b); err != nil {
			return nil, nil, err
		}
	}
	if claim != nil {
		Claimed(claims, claim.Now, b)
	}
	return recorded, claims, nil
}

// settledDone is the decision a driver that settles a pass applies itself
// (StepFinishAndClaimParams.Done): statemachine.Decide's for a running
// task whose steps are all done.
var settledDone = func() *taskerdriver.SettleDecision {
	d := statemachine.Decide(taskertype.StateInProgress, statemachine.Counts{Total: 1, Done: 1})
	if len(d.Moves(taskertype.StateInProgress)) != 1 {
		panic("recorder: a running task whose steps are all done is not moved once")
	}
	return &taskerdriver.SettleDecision{From: taskertype.StateInProgress, To: d.To, Reason: d.Reason}
}()

// completion is how a successful attempt is recorded.
func completion(a Attempt, now time.Time) *taskerdriver.StepFinishParams {
	results := jsonclean.JSON(a.Result.Results)
	if len(results) == 0 {
		results = json.RawMessage(`null`)
	}
	return &taskerdriver.StepFinishParams{
		StepID: a.Step.ID, Owner: a.Owner, Attempt: a.Step.Attempts, State: taskertype.StateComplete,
		Results: results, Now: now,
		Metadata: json.RawMessage(fmt.Sprintf(`{"attempt":%d,"duration_ms":%d}`, a.Step.Attempts, a.Ended.Sub(a.Started).Milliseconds())),
	}
}

// failure is a failed attempt about to be recorded.
type failure struct {
	params             *taskerdriver.StepFinishParams
	serr               *taskertype.StepError
	blocked, exhausted bool
	permanent          bool
}

// failure computes how a failed attempt of step (owned by owner) is
// recorded: its error, and its retry time or block.
func (r *Recorder) failure(step *taskertype.Step, owner string, res Result, now time.Time) *failure {
	kind := res.Kind
	if kind == "" {
		kind = "retryable"
		if res.Permanent {
			kind = "permanent"
		}
	}
	rule := statemachine.Failure{Attempts: step.Attempts, RetryLimit: step.RetryLimit, Retryable: step.Retryable, Permanent: res.Permanent}
	f := &failure{permanent: res.Permanent, exhausted: rule.Exhausted(), blocked: rule.Blocked()}
	f.serr = &taskertype.StepError{
		Message: jsonclean.String(res.Err.Error()), Kind: kind, Class: jsonclean.String(cmp.Or(res.Class, errorClass(res.Err))),
		Stack: jsonclean.String(res.Stack), Details: jsonclean.JSON(res.Details),
		RetryAfter: res.RetryAfter, Attempt: step.Attempts, At: now,
	}
	var next time.Time
	if !f.blocked {
		next = retrypolicy.NextAttemptAt(now, step.Attempts, retrypolicy.DecodeStepPolicy(step.Policy).Retry(r.cfg.Retry), res.RetryAfter, r.cfg.Rand)
	}
	meta := map[string]any{"attempt": step.Attempts, "error": f.serr.Message, "error_kind": kind}
	if !next.IsZero() {
		meta["next_attempt_at"] = next.UTC().Format(time.RFC3339Nano)
	}
	f.params = &taskerdriver.StepFinishParams{
		StepID: step.ID, Owner: owner, Attempt: step.Attempts, State: taskertype.StateError,
		Error: f.serr, Blocked: f.blocked, NextAttemptAt: next, Now: now, Metadata: ReasonMeta("attempt_failed", meta),
	}
	return f
}

// events appends the events of a recorded failure.
func (f *failure) events(task *taskertype.Task, step *taskertype.Step, duration time.Duration, now time.Time, b *Batch) {
	b.Add(&taskertype.Event{Name: taskertype.EventStepFailed, Task: task, Step: step, Attempt: f.serr.Attempt, Duration: duration, Error: f.serr, At: now})
	if !f.blocked {
		backoff := f.params.NextAttemptAt.Sub(now)
		payload, _ := json.Marshal(map[string]any{
			"next_attempt_at": f.params.NextAttemptAt.UTC().Format(time.RFC3339Nano), "backoff_ms": backoff.Milliseconds(),
			"backoff_type": map[bool]string{true: "server_requested", false: "exponential"}[f.serr.RetryAfter > 0],
		})
		b.Add(&taskertype.Event{Name: taskertype.EventStepBackoff, Task: task, Step: step, Attempt: f.serr.Attempt, Error: f.serr, Payload: payload, At: now})
	}
	if f.blocked && f.exhausted && !f.permanent {
		b.Add(&taskertype.Event{Name: taskertype.EventStepMaxRetriesReached, Task: task, Step: step, Attempt: f.serr.Attempt, Error: f.serr, At: now})
	}
}

// Release gives attempts that owner holds on ids back without a result (the
// worker is shutting down, or never started the handler): the steps are
// pending again and the attempts do not count. It returns the steps it
// moved; a step owner no longer holds is not moved. Each step moved gets a
// step.initialize_requested event in b (the step is pending again), whose
// Attempt is the attempt given back (the next claim runs it again under
// the same number) and whose payload is the transition's metadata.
func (r *Recorder) Release(ctx context.Context, tx taskerdriver.Executor, owner string, ids []int64, meta map[string]any, now time.Time, b *Batch) ([]*taskertype.Step, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	reason := ReasonMeta("released_on_shutdown", meta)
	moved, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{
		IDs: ids, From: []taskertype.State{taskertype.StateInProgress}, To: taskertype.StatePending,
		Owner: owner, DecrementAttempt: true, Now: now, Metadata: reason,
	})
	if err != nil || len(moved) == 0 {
		return moved, err
	}
	// Releases are rare (a worker stopping): read each task for its event.
	tasks := map[int64]*taskertype.Task{}
	for _, s := range moved {
		task := tasks[s.TaskID]
		if task == nil {
			if task, err = tx.TaskGet(ctx, s.TaskID); err != nil {
				return nil, err
			}
			tasks[s.TaskID] = task
		}
		b.Add(&taskertype.Event{Name: taskertype.EventStepInitializeRequested, Task: task, Step: s, Attempt: s.Attempts + 1, Payload: reason, At: now})
	}
	return moved, nil
}

// WriteOutbox writes the outbox messages of b's events in tx (durable
// subscribers receive a fact if and only if it commits).
func (r *Recorder) WriteOutbox(ctx context.Context, tx taskerdriver.Executor, b *Batch) error {
	if r.cfg.Outbox == nil || len(b.Events) == 0 {
		return nil
	}
	rows := r.cfg.Outbox(b.Events)
	if len(rows) == 0 {
		return nil
	}
	for _, row := range rows {
		row.Payload = jsonclean.JSON(row.Payload) // a handler's custom event must not block the pass
	}
	return tx.OutboxInsert(ctx, rows)
}

// ReasonMeta is the metadata of a transition: its reason and extra keys.
func ReasonMeta(reason string, extra map[string]any) json.RawMessage {
	m := map[string]any{"reason": reason}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(fmt.Sprintf(`{"reason":%q}`, reason))
	}
	return b
}

func errorClass(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return reflect.TypeOf(err).String()
}

// InTx runs fn in a transaction of exec, committed when fn returns nil and
// rolled back otherwise.
func InTx(ctx context.Context, exec taskerdriver.Executor, fn func(tx taskerdriver.ExecutorTx) error) error {
	tx, err := exec.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}
