package recorder

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Claim claims ready steps in tx (taskerdriver.Executor.StepClaim) and
// appends the claim's events to b: per task, task.start_requested when the
// claim started it, then workflow.viable_steps_discovered with the claimed
// steps, then one step.execution_requested per step, whose Duration is how
// long the step waited ready (taskerdriver.ClaimedStep.ReadyAt).
func (r *Recorder) Claim(ctx context.Context, tx taskerdriver.Executor, p *taskerdriver.StepClaimParams, b *Batch) ([]*taskerdriver.ClaimedStep, error) {
	claims, err := tx.StepClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	Claimed(claims, p.Now, b)
	return claims, nil
}

// Claimed appends to b the events of claims made at now by another call
// than Claim (a task's creation: taskerdriver.TaskCreateParams.Claim).
func Claimed(claims []*taskerdriver.ClaimedStep, now time.Time, b *Batch) {
	byTask := map[int64][]*taskerdriver.ClaimedStep{}
	var order []int64
	for _, c := range claims {
		if byTask[c.Task.ID] == nil {
			order = append(order, c.Task.ID)
		}
		byTask[c.Task.ID] = append(byTask[c.Task.ID], c)
	}
	for _, id := range order {
		cs := byTask[id]
		task := cs[0].Task
		if cs[0].TaskStarted {
			b.Add(&taskertype.Event{Name: taskertype.EventTaskStartRequested, Task: task, At: now})
		}
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = c.Step.Name
		}
		payload, _ := json.Marshal(map[string]any{"step_names": names, "processing_mode": "concurrent"})
		b.Add(&taskertype.Event{Name: taskertype.EventWorkflowViableStepsDiscovered, Task: task, Payload: payload, At: now})
		for _, c := range cs {
			var waited time.Duration
			if !c.ReadyAt.IsZero() && c.ReadyAt.Before(now) {
				waited = now.Sub(c.ReadyAt)
			}
			b.Add(&taskertype.Event{Name: taskertype.EventStepExecutionRequested, Task: task, Step: c.Step, Attempt: c.Step.Attempts, Duration: waited, At: now})
		}
	}
}
