package tasker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

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
	Tasks []*Task
	// Total is the number of matching tasks: exact, or CountLimit when
	// TotalCapped.
	Total int
	// TotalCapped tells that more than TaskListParams.CountLimit tasks
	// match.
	TotalCapped bool
	Limit       int
	Offset      int
}

// ListTasks lists tasks matching p, newest first unless p.OrderBy says
// otherwise (then ascending unless p.Desc).
func (c *Client) ListTasks(ctx context.Context, p *TaskListParams) (*TaskList, error) {
	if p == nil {
		p = &TaskListParams{}
	}
	if fields := nulFields(map[string]any{"namespace": p.Namespace, "name": p.Name, "version": p.Version,
		"initiator": p.Initiator, "source_system": p.SourceSystem, "tags": p.Tags}); fields != nil {
		return nil, &ValidationError{Message: "invalid task filter", Fields: fields}
	}
	if f := p.Annotation; f != nil {
		fields := nulFields(map[string]any{"annotation_key": f.Key, "annotation_value": f.Value})
		if msg := nameProblem(f.Type, MaxAnnotationTypeLen, "billing_reference"); msg != "" {
			if fields == nil {
				fields = map[string]string{}
			}
			fields["annotation_type"] = msg
		}
		if fields != nil {
			return nil, &ValidationError{Message: "invalid task filter", Fields: fields}
		}
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
	list := &TaskList{Tasks: tasks, Total: total, Limit: q.Limit, Offset: q.Offset}
	if q.CountLimit > 0 && total > q.CountLimit {
		list.Total, list.TotalCapped = q.CountLimit, true
	}
	return list, nil
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
	return c.moveTask(ctx, taskID, &taskMove{
		allowed: func(cur *Task) error {
			if statemachine.Task(cur.State, taskertype.StateCancelled) != nil {
				return invalidState("task %d is %s and cannot be cancelled", taskID, cur.State)
			}
			return nil
		},
		steps:     taskerdriver.StepSetStateParams{From: unfinished, To: taskertype.StateCancelled, Metadata: reasonMeta(ctx, "cancelled", reason)},
		to:        taskertype.StateCancelled,
		stepEvent: taskertype.EventStepCancelled, taskEvent: taskertype.EventTaskCancelled,
		committed: func() {
			c.mu.Lock()
			if c.worker != nil {
				c.worker.CancelTask(taskID)
			}
			c.mu.Unlock()
		},
	})
}

// RetryTask gives a task in error a fresh start: its blocked and cancelled
// steps go back to pending with zero attempts, and the task to pending.
func (c *Client) RetryTask(ctx context.Context, taskID int64) (*Task, error) {
	return c.moveTask(ctx, taskID, &taskMove{
		allowed: func(cur *Task) error {
			if cur.State != taskertype.StateError {
				return invalidState("task %d is %s; only a task in error can be retried", taskID, cur.State)
			}
			return nil
		},
		steps: taskerdriver.StepSetStateParams{From: []State{taskertype.StateError}, To: taskertype.StatePending,
			ResetAttempts: true, Metadata: reasonMeta(ctx, "task_retry", "")},
		to:        taskertype.StatePending,
		stepEvent: taskertype.EventStepRetryRequested, taskEvent: taskertype.EventTaskRetryRequested,
		notify: true,
	})
}

// taskMove is an operator's move of a whole task (cancel, retry): the
// task's steps in steps.From go to steps.To, the task to to.
type taskMove struct {
	// allowed returns ErrInvalidState when the task may not move from cur.
	allowed func(cur *Task) error
	// steps selects and moves the task's steps; TaskID and Now are set by
	// moveTask, and Metadata is also the task transition's.
	steps taskerdriver.StepSetStateParams
	to    State
	// stepEvent is published for every moved step, taskEvent for the task.
	stepEvent, taskEvent string
	// notify wakes workers after commit (steps became ready).
	notify bool
	// committed, if set, runs after commit, before the events are published.
	committed func()
}

// moveTask applies m to the task in one transaction, with its audit rows
// and events, and publishes the events after commit.
func (c *Client) moveTask(ctx context.Context, taskID int64, m *taskMove) (*Task, error) {
	now := c.cfg.Now().UTC()
	var task *Task
	events, err := c.change(ctx, "task", taskID, func(tx taskerdriver.ExecutorTx) ([]*Event, error) {
		cur, err := tx.TaskGet(ctx, taskID)
		if err != nil {
			return nil, err
		}
		if err := m.allowed(cur); err != nil {
			return nil, err
		}
		sp := m.steps
		sp.TaskID, sp.Now = taskID, now
		steps, err := tx.StepSetState(ctx, &sp)
		if err != nil {
			return nil, err
		}
		moved, err := tx.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: taskID, From: []State{cur.State}, To: m.to, Metadata: sp.Metadata, Now: now}})
		if err != nil {
			return nil, err
		}
		task = moved[0]
		if m.notify {
			if err := tx.Notify(ctx, taskerdriver.TopicStepsReady); err != nil {
				return nil, err
			}
		}
		events := make([]*Event, 0, len(steps)+1)
		for _, s := range steps {
			events = append(events, &Event{Name: m.stepEvent, Task: task, Step: s, At: now})
		}
		return append(events, &Event{Name: m.taskEvent, Task: task, At: now}), nil
	})
	if err != nil {
		return nil, err
	}
	if m.committed != nil {
		m.committed()
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
	t, err := c.exec.TaskUpdate(ctx, &taskerdriver.TaskUpdateParams{ID: taskID, Reason: reason, Tags: tags, Now: c.cfg.Now().UTC(),
		Metadata: updateMeta(ctx, updated{"reason", reason != nil}, updated{"tags", tags != nil})})
	return t, c.notFound(err, "task", taskID)
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
