package tasker

import (
	"context"
	"math"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

// StepReadiness explains whether a step can start now, like the original
// engine's step readiness status.
type StepReadiness struct {
	StepID int64  `json:"workflow_step_id"`
	Name   string `json:"name"`
	State  State  `json:"current_state"`
	// DependenciesSatisfied: every parent is complete or resolved_manually.
	DependenciesSatisfied bool `json:"dependencies_satisfied"`
	TotalParents          int  `json:"total_parents"`
	CompletedParents      int  `json:"completed_parents"`
	// RetryEligible: the step may run again (not blocked).
	RetryEligible bool `json:"retry_eligible"`
	// Ready: the step may start now.
	Ready bool `json:"ready_for_execution"`
	// BlockingReason is empty when ready, else one of
	// "dependencies_not_satisfied", "waiting_for_backoff",
	// "retry_not_eligible", "in_progress" or "invalid_state".
	BlockingReason string    `json:"blocking_reason,omitempty"`
	NextRetryAt    time.Time `json:"next_retry_at,omitzero"`
	// TimeUntilReady is how long until the backoff elapses (zero if ready).
	TimeUntilReady time.Duration `json:"time_until_ready"`
	Attempts       int           `json:"attempts"`
	RetryLimit     int           `json:"retry_limit"`
}

// ExecutionContext condenses a task's steps into counts and a verdict, like
// the original engine's task execution context.
type ExecutionContext struct {
	TaskID     int64 `json:"task_id"`
	Status     State `json:"status"`
	Total      int   `json:"total_steps"`
	Pending    int   `json:"pending_steps"`
	InProgress int   `json:"in_progress_steps"`
	Completed  int   `json:"completed_steps"`
	Failed     int   `json:"failed_steps"`
	Ready      int   `json:"ready_steps"`
	Blocked    int   `json:"permanently_blocked_steps"`
	Cancelled  int   `json:"cancelled_steps"`
	// ExecutionStatus is has_ready_steps, processing, blocked_by_failures,
	// all_complete or waiting_for_dependencies (first match wins).
	ExecutionStatus string `json:"execution_status"`
	// RecommendedAction is execute_ready_steps, wait_for_completion,
	// handle_failures, finalize_task or wait_for_dependencies.
	RecommendedAction string `json:"recommended_action"`
	// HealthStatus is healthy, recovering, blocked or unknown.
	HealthStatus         string          `json:"health_status"`
	CompletionPercentage float64         `json:"completion_percentage"`
	Steps                []StepReadiness `json:"steps"`
}

// TaskExecutionContext computes the readiness of every step of a task and the
// task's execution context at the client's current time.
func (c *Client) TaskExecutionContext(ctx context.Context, taskID int64) (*ExecutionContext, error) {
	task, steps, err := c.taskWithSteps(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return executionContext(task, steps, c.cfg.Now()), nil
}

// taskWithSteps reads a task and every step of it, for the analyses that
// look at the whole graph.
func (c *Client) taskWithSteps(ctx context.Context, taskID int64) (*Task, []*Step, error) {
	task, err := c.GetTask(ctx, taskID)
	if err != nil {
		return nil, nil, err
	}
	steps, err := c.ListSteps(ctx, taskID)
	if err != nil {
		return nil, nil, err
	}
	return task, steps, nil
}

func executionContext(task *Task, steps []*Step, now time.Time) *ExecutionContext {
	byID := make(map[int64]*Step, len(steps))
	for _, s := range steps {
		byID[s.ID] = s
	}
	ec := &ExecutionContext{TaskID: task.ID, Status: task.State, Total: len(steps), Steps: make([]StepReadiness, 0, len(steps))}
	for _, s := range steps {
		r := StepReadiness{StepID: s.ID, Name: s.Name, State: s.State, TotalParents: len(s.ParentIDs), Attempts: s.Attempts, RetryLimit: s.RetryLimit}
		for _, p := range s.ParentIDs {
			if byID[p] != nil && byID[p].State.Done() {
				r.CompletedParents++
			}
		}
		r.DependenciesSatisfied = r.CompletedParents == r.TotalParents
		if s.State == taskertype.StateError && !s.NextAttemptAt.IsZero() {
			r.NextRetryAt = s.NextAttemptAt
		}
		v := statemachine.StepReady(s.State, s.Blocked, r.DependenciesSatisfied, s.NextAttemptAt, now)
		r.RetryEligible, r.Ready, r.BlockingReason, r.TimeUntilReady = v.Eligible, v.Ready, v.Reason, v.Wait
		switch {
		case s.State == taskertype.StatePending:
			ec.Pending++
		case s.State == taskertype.StateInProgress:
			ec.InProgress++
		case s.State.Done():
			ec.Completed++
		case s.State == taskertype.StateError:
			ec.Failed++
		case s.State == taskertype.StateCancelled:
			ec.Cancelled++
		}
		if s.Blocked {
			ec.Blocked++
		}
		if r.Ready {
			ec.Ready++
		}
		ec.Steps = append(ec.Steps, r)
	}
	switch {
	case ec.Ready > 0:
		ec.ExecutionStatus, ec.RecommendedAction = "has_ready_steps", "execute_ready_steps"
	case ec.InProgress > 0:
		ec.ExecutionStatus, ec.RecommendedAction = "processing", "wait_for_completion"
	case ec.Blocked > 0:
		ec.ExecutionStatus, ec.RecommendedAction = "blocked_by_failures", "handle_failures"
	case ec.Total > 0 && ec.Completed == ec.Total:
		ec.ExecutionStatus, ec.RecommendedAction = "all_complete", "finalize_task"
	default:
		ec.ExecutionStatus, ec.RecommendedAction = "waiting_for_dependencies", "wait_for_dependencies"
	}
	switch {
	case ec.Failed == 0:
		ec.HealthStatus = "healthy"
	case ec.Ready > 0:
		ec.HealthStatus = "recovering"
	case ec.Blocked > 0:
		ec.HealthStatus = "blocked"
	default:
		ec.HealthStatus = "recovering"
	}
	if ec.Total > 0 {
		ec.CompletionPercentage = math.Round(float64(ec.Completed)/float64(ec.Total)*10000) / 100
	}
	return ec
}
