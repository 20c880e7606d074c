package tasker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// ListSteps returns the steps of a task in template order, optionally only
// those in the given states.
func (c *Client) ListSteps(ctx context.Context, taskID int64, states ...State) ([]*Step, error) {
	return c.ListStepsWith(ctx, taskID, &StepListOptions{States: states})
}

// StepListOptions selects and trims the steps ListStepsWith returns.
type StepListOptions struct {
	// States keeps the steps in these states (all when empty).
	States []State
	// OmitInputs and OmitResults leave each step's Inputs and Results nil,
	// the database not reading them: the steps of a task with large
	// results then cost little memory.
	OmitInputs, OmitResults bool
}

// ListStepsWith is ListSteps with options (nil: all steps, every field).
func (c *Client) ListStepsWith(ctx context.Context, taskID int64, o *StepListOptions) ([]*Step, error) {
	if o == nil {
		o = &StepListOptions{}
	}
	if _, err := c.GetTask(ctx, taskID); err != nil {
		return nil, err
	}
	return c.exec.StepList(ctx, &taskerdriver.StepListParams{TaskID: taskID, States: o.States, OmitInputs: o.OmitInputs, OmitResults: o.OmitResults})
}

// ListStepsOfTasks returns the steps of the tasks taskIDs, by task and in
// template order, in one query whatever their number (an API showing a
// page of tasks with their steps); a task that does not exist has none.
// Options as ListStepsWith's (nil: all steps, every field).
func (c *Client) ListStepsOfTasks(ctx context.Context, taskIDs []int64, o *StepListOptions) ([]*Step, error) {
	if len(taskIDs) == 0 {
		return nil, nil
	}
	if o == nil {
		o = &StepListOptions{}
	}
	return c.exec.StepList(ctx, &taskerdriver.StepListParams{TaskIDs: taskIDs, States: o.States, OmitInputs: o.OmitInputs, OmitResults: o.OmitResults})
}

// GetStep returns a step.
func (c *Client) GetStep(ctx context.Context, stepID int64) (*Step, error) {
	s, err := c.exec.StepGet(ctx, stepID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: step %d", ErrNotFound, stepID)
	}
	return s, err
}

// CancelStep cancels one unfinished step. Its descendants can then never run,
// so the task ends in error once nothing else can progress.
func (c *Client) CancelStep(ctx context.Context, stepID int64, reason string) (*Step, error) {
	return c.changeStep(ctx, stepID, unfinished, taskertype.StateCancelled, nil, reasonMeta(ctx, "cancelled", reason), taskertype.EventStepCancelled)
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
		raw, reasonMeta(ctx, "resolved_manually", reason), taskertype.EventStepResolvedManually)
}

func (c *Client) changeStep(ctx context.Context, stepID int64, from []State, to State, results json.RawMessage, meta json.RawMessage, event string) (*Step, error) {
	now := c.cfg.Now().UTC()
	var step *Step
	events, err := c.change(ctx, "step", stepID, func(tx taskerdriver.ExecutorTx) ([]*Event, error) {
		cur, err := tx.StepGet(ctx, stepID)
		if err != nil {
			return nil, err
		}
		if err := statemachine.Step(cur.State, to); err != nil || !slices.Contains(from, cur.State) {
			return nil, invalidState("step %d is %s and cannot become %s", stepID, cur.State, to)
		}
		steps, err := tx.StepSetState(ctx, &taskerdriver.StepSetStateParams{IDs: []int64{stepID}, From: []State{cur.State}, To: to, Results: results, Metadata: meta, Now: now})
		if err != nil {
			return nil, err
		}
		if len(steps) != 1 {
			return nil, invalidState("step %d changed concurrently", stepID)
		}
		step = steps[0]
		var b recorder.Batch
		tasks, err := recorder.FinalizeMany(ctx, tx, []int64{step.TaskID}, nil, now, &b)
		if err != nil {
			return nil, err
		}
		return append([]*Event{{Name: event, Task: tasks[step.TaskID], Step: step, At: now}}, b.Events...), nil
	})
	if err != nil {
		return nil, err
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

// UpdateStep changes a step's retry limit and/or inputs (nil leaves a field
// as is). A higher retry limit can unblock a step whose attempts ran out: use
// RetryTask afterwards.
func (c *Client) UpdateStep(ctx context.Context, stepID int64, retryLimit *int, inputs json.RawMessage) (*Step, error) {
	if retryLimit != nil && (*retryLimit < 1 || *retryLimit > MaxRetryLimit) {
		return nil, &ValidationError{Message: "invalid step update", Fields: map[string]string{"retry_limit": fmt.Sprintf("must be from 1 to %d (it counts all attempts), not %d", MaxRetryLimit, *retryLimit)}}
	}
	if fields := nulFields(map[string]any{"inputs": inputs}); fields != nil {
		return nil, &ValidationError{Message: "invalid step update", Fields: fields}
	}
	if _, err := c.exec.StepUpdate(ctx, &taskerdriver.StepUpdateParams{ID: stepID, RetryLimit: retryLimit, Inputs: inputs, Now: c.cfg.Now().UTC(),
		Metadata: updateMeta(ctx, updated{"retry_limit", retryLimit != nil}, updated{"inputs", inputs != nil})}); err != nil {
		return nil, c.notFound(err, "step", stepID)
	}
	return c.GetStep(ctx, stepID)
}

// updated is a field an update may change, and whether it was given.
type updated struct {
	field string
	given bool
}

// updateMeta is the metadata of the audit transition of an update: the
// fields it changed and its actor; nil (no transition) when it changes
// nothing.
func updateMeta(ctx context.Context, given ...updated) json.RawMessage {
	var fields []string
	for _, u := range given {
		if u.given {
			fields = append(fields, u.field)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	m := map[string]any{"reason": "updated", "fields": fields}
	if a := ActorFrom(ctx); a != "" {
		m["actor"] = jsonclean.String(a)
	}
	b, _ := json.Marshal(m)
	return b
}

func reasonMeta(ctx context.Context, kind, reason string) json.RawMessage {
	m := map[string]string{"reason": kind}
	if a := ActorFrom(ctx); a != "" {
		m["actor"] = jsonclean.String(a)
	}
	if reason != "" {
		m["note"] = jsonclean.String(reason) // PostgreSQL stores no NUL character
	}
	b, _ := json.Marshal(m)
	return b
}
