// Package orchestrator runs steps: it claims ready steps through the driver
// seam, executes them concurrently, records results, schedules retries and
// finalizes tasks in the same transaction as the step result that decides
// them. It knows nothing of templates or handlers: the root package gives it a
// RunFunc.
package orchestrator

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// StepPolicy is the per-step execution policy, stored as JSON on each step
// row when its task is created (so that a running task is not affected by a
// later change of its template).
type StepPolicy struct {
	// Timeout bounds one attempt; zero means the engine default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Base, MaxExponential, MaxBackoff and Jitter override the backoff policy;
	// zero means the engine default.
	Base           time.Duration `json:"backoff_base,omitempty"`
	MaxExponential time.Duration `json:"backoff_max,omitempty"`
	MaxBackoff     time.Duration `json:"backoff_max_requested,omitempty"`
	Jitter         *float64      `json:"backoff_jitter,omitempty"`
}

// Encode returns the JSON form stored on the step (nil when empty).
func (p StepPolicy) Encode() json.RawMessage {
	if p == (StepPolicy{}) {
		return nil
	}
	b, _ := json.Marshal(p)
	return b
}

// DecodePolicy reads a step's policy; invalid or empty JSON gives the zero
// policy.
func DecodePolicy(raw json.RawMessage) StepPolicy {
	var p StepPolicy
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p)
	}
	return p
}

// Retry returns the backoff policy of a step: its overrides over defaults.
func (p StepPolicy) Retry(defaults retrypolicy.Policy) retrypolicy.Policy {
	out := defaults
	if p.Base > 0 {
		out.Base = p.Base
	}
	if p.MaxExponential > 0 {
		out.MaxExponential = p.MaxExponential
	}
	if p.MaxBackoff > 0 {
		out.MaxBackoff = p.MaxBackoff
	}
	if p.Jitter != nil {
		out.Jitter = *p.Jitter
		if out.Jitter == 0 {
			out.Jitter = -1 // explicit zero: no jitter
		}
	}
	return out.WithDefaults()
}

// Decision is what finalization does to a task.
type Decision struct {
	// To is the state to move to; empty when the task stays as it is.
	To taskertype.State
	// Via is an intermediate state to pass through first (a pending task that
	// completes goes pending → in_progress → complete), or empty.
	Via    taskertype.State
	Reason string
}

// Decide applies the task outcome rule (ARCHITECTURE §1, first match wins) to
// a task in state with the given step counts.
func Decide(state taskertype.State, p *taskerdriver.TaskProgress) Decision {
	switch state {
	case taskertype.StateComplete, taskertype.StateCancelled, taskertype.StateResolvedManually:
		return Decision{}
	}
	allDone := p.Total > 0 && p.Done == p.Total
	stuck := p.Runnable == 0 && p.InProgress == 0 && (p.Blocked > 0 || p.Cancelled > 0) && !allDone
	switch {
	case allDone && state == taskertype.StateError:
		return Decision{To: taskertype.StateResolvedManually, Reason: "all_steps_done_after_manual_resolution"}
	case allDone && state == taskertype.StatePending:
		return Decision{Via: taskertype.StateInProgress, To: taskertype.StateComplete, Reason: "all_steps_complete"}
	case allDone:
		return Decision{To: taskertype.StateComplete, Reason: "all_steps_complete"}
	case stuck && state != taskertype.StateError:
		return Decision{To: taskertype.StateError, Reason: "steps_in_error_state"}
	case !stuck && state == taskertype.StateError:
		return Decision{To: taskertype.StatePending, Reason: "steps_runnable_again"}
	}
	return Decision{}
}

func reasonMeta(reason string, extra map[string]any) json.RawMessage {
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
