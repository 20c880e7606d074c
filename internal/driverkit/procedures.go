package driverkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// The procedures below are the database-independent skeletons of the
// executor's multi-statement operations. Each takes the driver's SQL as a
// small interface, implemented by the driver inside its transaction.

// StepWriter is what every procedure needs of a driver's transaction.
type StepWriter interface {
	// WriteStepTransitions writes step transition rows, demoting the
	// previous most recent rows of their steps.
	WriteStepTransitions(ctx context.Context, rows []StepTransition, now time.Time) error
	// SatisfyChildren decrements the unfinished-parent counts of the
	// children of parents (now done) and returns, per parent, how many of
	// its children became ready, notifying TopicStepsReady when some did.
	SatisfyChildren(ctx context.Context, parents []int64, now time.Time) (map[int64]int, error)
	// Notify sends topic when the transaction commits.
	Notify(ctx context.Context, topic string) error
}

// Finisher is a driver's SQL for FinishSteps.
type Finisher interface {
	StepWriter
	// FinishUpdate applies the guarded updates of ps (errs[i] is the
	// encoded error of ps[i]), writes the transition of each step it
	// updated (in_progress → its state, with its metadata, sort key
	// SortKey of the new transition sequence), and returns those steps; a
	// step whose guard failed is left out.
	FinishUpdate(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, error)
}

// FinishSatisfier is a Finisher that can also satisfy the children of the
// steps it completes in the same statement as the update (a round trip
// fewer); FinishSteps uses it when the driver has it.
type FinishSatisfier interface {
	// FinishAndSatisfy is FinishUpdate, then SatisfyChildren of the steps
	// it updated to complete; it returns the steps and, per completed
	// step, how many of its children became ready.
	FinishAndSatisfy(ctx context.Context, ps []*taskerdriver.StepFinishParams, errs []*string, now time.Time) ([]*taskertype.Step, map[int64]int, error)
}

// FinishSteps is StepFinishMany: it checks the params, records the
// attempts, writes their transitions, readies the children of completed
// steps, and returns one outcome per param (ErrLeaseLost for a step whose
// guard failed).
func FinishSteps(ctx context.Context, f Finisher, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	out := make([]taskerdriver.StepFinishOutcome, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	return out, finishSteps(ctx, f, ps, out)
}

// NewTaskClaim is the claim TaskCreateParams.Claim asks for, restricted
// to the new task taskID; nil when it asks for none.
func NewTaskClaim(p *taskerdriver.TaskCreateParams, taskID int64) *taskerdriver.StepClaimParams {
	if p.Claim == nil || p.Claim.Limit <= 0 {
		return nil
	}
	c := *p.Claim
	c.TaskIDs = []int64{taskID}
	return &c
}

// FinishThenClaim is Executor.StepFinishAndClaim as two calls of ex:
// StepFinishMany (when there is a result), then StepClaim (when the claim
// asks for steps); it reads no Progress. Given both, ex must be in a
// transaction.
func FinishThenClaim(ctx context.Context, ex taskerdriver.Executor, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	res := &taskerdriver.StepFinishAndClaimResult{Finished: []taskerdriver.StepFinishOutcome{}}
	if len(p.Finish) > 0 {
		var err error
		if res.Finished, err = ex.StepFinishMany(ctx, p.Finish); err != nil {
			return nil, err
		}
	}
	if p.Claim == nil || p.Claim.Limit <= 0 {
		return res, nil
	}
	var err error
	if res.Claimed, err = ex.StepClaim(ctx, p.Claim); err != nil {
		return nil, err
	}
	return res, nil
}

func finishSteps(ctx context.Context, f Finisher, ps []*taskerdriver.StepFinishParams, out []taskerdriver.StepFinishOutcome) error {
	errs := make([]*string, len(ps))
	for i, p := range ps {
		if p.State != taskertype.StateComplete && p.State != taskertype.StateError {
			return fmt.Errorf("finish step %d in state %q: want complete or error", p.StepID, p.State)
		}
		var err error
		if errs[i], err = StepErrorJSON(p.Error); err != nil {
			return err
		}
	}
	now := ps[0].Now.UTC()
	var (
		steps     []*taskertype.Step
		ready     map[int64]int
		satisfied bool
		err       error
	)
	if fs, ok := f.(FinishSatisfier); ok {
		steps, ready, err = fs.FinishAndSatisfy(ctx, ps, errs, now)
		satisfied = true
	} else {
		steps, err = f.FinishUpdate(ctx, ps, errs, now)
	}
	if err != nil {
		return err
	}
	byID := make(map[int64]int, len(steps))
	for i, s := range steps {
		byID[s.ID] = i
	}
	var completed []int64
	counted := make([]bool, len(steps))
	retrying := false
	for i, p := range ps {
		j, ok := byID[p.StepID]
		if !ok {
			out[i].Err = fmt.Errorf("%w: step %d attempt %d by %s", taskerdriver.ErrLeaseLost, p.StepID, p.Attempt, p.Owner)
			continue
		}
		s := steps[j]
		out[i].Result = &taskerdriver.StepFinishResult{Step: s}
		// What the update wrote decides, not what p asked: of two results
		// for one step, only one is written.
		if s.State == taskertype.StateComplete {
			if !counted[j] {
				counted[j] = true
				completed = append(completed, s.ID)
			}
		} else if !s.Blocked {
			retrying = true
		}
	}
	if len(completed) > 0 {
		if !satisfied {
			if ready, err = f.SatisfyChildren(ctx, completed, now); err != nil {
				return err
			}
		}
		for i := range ps {
			if r := out[i].Result; r != nil && r.Step.State == taskertype.StateComplete {
				r.ChildrenReady = ready[r.Step.ID]
			}
		}
	}
	if retrying {
		return f.Notify(ctx, taskerdriver.TopicStepsReady)
	}
	return nil
}

// StepFound is a step selected for a state change, and the state it is in.
type StepFound struct {
	ID    int64
	State taskertype.State
}

// StepMover is a driver's SQL for SetStepStates.
type StepMover interface {
	StepWriter
	// FindSteps returns the steps p selects (by task or ids, in one of
	// From, leased by Owner), locking them where rows can be locked.
	FindSteps(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]StepFound, error)
	// MoveSteps applies p's change to the steps ids and returns them with
	// their new transition sequences.
	MoveSteps(ctx context.Context, p *taskerdriver.StepSetStateParams, ids []int64, now time.Time) ([]*taskertype.Step, []int, error)
}

// ErrNoStepSelection is the error of a step state change or list that
// names neither a task nor step ids.
var ErrNoStepSelection = errors.New("steps must be selected by task or by ids")

// SetStepStates is StepSetState: it moves the selected steps, writes their
// transitions, readies the children of steps now done, and wakes workers
// when steps become pending.
func SetStepStates(ctx context.Context, m StepMover, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	if p.TaskID == 0 && len(p.IDs) == 0 {
		return nil, ErrNoStepSelection
	}
	found, err := m.FindSteps(ctx, p)
	if err != nil || len(found) == 0 {
		return nil, wrap("set step state", err)
	}
	ids := make([]int64, len(found))
	from := make(map[int64]taskertype.State, len(found))
	for i, f := range found {
		ids[i] = f.ID
		from[f.ID] = f.State
	}
	now := p.Now.UTC()
	steps, seqs, err := m.MoveSteps(ctx, p, ids, now)
	if err != nil {
		return nil, wrap("set step state", err)
	}
	rows := make([]StepTransition, len(steps))
	for i, s := range steps {
		rows[i] = StepTransition{s.ID, s.TaskID, from[s.ID], p.To, p.Metadata, seqs[i]}
	}
	if err := m.WriteStepTransitions(ctx, rows, now); err != nil {
		return nil, err
	}
	if p.To.Done() {
		if _, err := m.SatisfyChildren(ctx, ids, now); err != nil {
			return nil, err
		}
	}
	if p.To == taskertype.StatePending {
		if err := m.Notify(ctx, taskerdriver.TopicStepsReady); err != nil {
			return nil, err
		}
	}
	return steps, nil
}

// TaskMove is one task move of SetTaskStates.
type TaskMove struct {
	ID       int64
	From, To taskertype.State
	// Final is To.Final(): the move sets completed_at, any other clears it.
	Final bool
}

// TaskMover is a driver's SQL for SetTaskStates.
type TaskMover interface {
	// MoveTasks applies the moves whose task is in its From state and
	// returns the moved tasks with their new transition sequences.
	MoveTasks(ctx context.Context, moves []TaskMove, now time.Time) ([]*taskertype.Task, []int, error)
	// ExistingTasks returns which of ids exist (asked only on a conflict).
	ExistingTasks(ctx context.Context, ids []int64) (map[int64]bool, error)
	// WriteTaskTransitions writes task transition rows (one per task),
	// demoting the previous most recent rows.
	WriteTaskTransitions(ctx context.Context, rows []TaskTransition, now time.Time) error
	// Notify sends topic when the transaction commits.
	Notify(ctx context.Context, topic string) error
}

// SetTaskStates is TaskSetStateMany: it moves each task from its one From
// state, writes the transitions, and notifies TopicTaskChanged when a task
// reached a final state. A task not in its From state is ErrStateConflict,
// one that does not exist ErrNotFound, for the whole call.
func SetTaskStates(ctx context.Context, m TaskMover, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	moves := make([]TaskMove, len(ps))
	anyFinal := false
	for i, p := range ps {
		if len(p.From) != 1 {
			return nil, fmt.Errorf("task %d: TaskSetStateMany needs exactly one From state", p.ID)
		}
		moves[i] = TaskMove{ID: p.ID, From: p.From[0], To: p.To, Final: p.To.Final()}
		anyFinal = anyFinal || moves[i].Final
	}
	now := ps[0].Now.UTC()
	tasks, seqs, err := m.MoveTasks(ctx, moves, now)
	if err != nil {
		return nil, wrap("set task states", err)
	}
	if len(tasks) != len(ps) {
		return nil, taskConflict(ctx, m, moves, len(tasks))
	}
	byID := make(map[int64]int, len(tasks))
	for i, t := range tasks {
		byID[t.ID] = i
	}
	out := make([]*taskertype.Task, len(ps))
	rows := make([]TaskTransition, len(ps))
	for i, p := range ps {
		j := byID[p.ID]
		out[i] = tasks[j]
		rows[i] = TaskTransition{p.ID, moves[i].From, p.To, Meta(p.Metadata), seqs[j]}
	}
	if err := m.WriteTaskTransitions(ctx, rows, now); err != nil {
		return nil, err
	}
	if anyFinal {
		return out, m.Notify(ctx, taskerdriver.TopicTaskChanged)
	}
	return out, nil
}

// AllLocked reports whether every move of ps names its task as read
// under its lock, in its one From state (TaskSetStateParams.Locked).
func AllLocked(ps []*taskerdriver.TaskSetStateParams) bool {
	for _, p := range ps {
		if p.Locked == nil || p.Locked.ID != p.ID || len(p.From) != 1 || p.Locked.State != p.From[0] {
			return false
		}
	}
	return len(ps) > 0
}

// MovedTask is t as a move to `to` at now leaves it (what both drivers'
// task moves write): its state, its update time, and its completion time
// when the state is final (zero otherwise).
func MovedTask(t *taskertype.Task, to taskertype.State, now time.Time) *taskertype.Task {
	m := *t
	m.State, m.UpdatedAt, m.CompletedAt = to, now, time.Time{}
	if to.Final() {
		m.CompletedAt = now
	}
	return &m
}

// taskConflict is the error of SetTaskStates when some tasks did not move.
func taskConflict(ctx context.Context, m TaskMover, moves []TaskMove, moved int) error {
	ids := make([]int64, len(moves))
	for i, mv := range moves {
		ids[i] = mv.ID
	}
	exist, err := m.ExistingTasks(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !exist[id] {
			return fmt.Errorf("task %d: %w", id, taskerdriver.ErrNotFound)
		}
	}
	return fmt.Errorf("%w: %d of %d tasks were not in their expected state", taskerdriver.ErrStateConflict, len(moves)-moved, len(moves))
}

// wrap says what failed; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
