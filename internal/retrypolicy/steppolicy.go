package retrypolicy

import (
	"encoding/json"
	"time"
)

// Overrides are the backoff settings a client or a step template may set;
// zero fields keep the policy they are applied to. It is the one place where
// configured backoff is merged into a Policy (the client's Config.Backoff and
// a step's backoff: both go through Apply).
type Overrides struct {
	Base           time.Duration `json:"backoff_base,omitempty"`
	MaxExponential time.Duration `json:"backoff_max,omitempty"`
	MaxBackoff     time.Duration `json:"backoff_max_requested,omitempty"`
	// Jitter, when set, replaces the jitter; an explicit zero means none.
	Jitter *float64 `json:"backoff_jitter,omitempty"`
}

// Apply returns p with o's set fields replacing p's.
func (o Overrides) Apply(p Policy) Policy {
	if o.Base > 0 {
		p.Base = o.Base
	}
	if o.MaxExponential > 0 {
		p.MaxExponential = o.MaxExponential
	}
	if o.MaxBackoff > 0 {
		p.MaxBackoff = o.MaxBackoff
	}
	if o.Jitter != nil {
		p.Jitter = *o.Jitter
		if p.Jitter == 0 {
			p.Jitter = -1 // explicit zero: no jitter
		}
	}
	return p
}

// StepPolicy is the per-step execution policy, stored as JSON on each step
// row when its task is created (so that a running task is not affected by a
// later change of its template).
type StepPolicy struct {
	// Timeout bounds one attempt; zero means the engine default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Overrides of the engine's backoff policy.
	Overrides
}

// Encode returns the JSON form stored on the step (nil when empty).
func (p StepPolicy) Encode() json.RawMessage {
	if p.Timeout == 0 && p.Overrides == (Overrides{}) {
		return nil
	}
	b, _ := json.Marshal(p)
	return b
}

// DecodeStepPolicy reads a step's policy; invalid or empty JSON gives the
// zero policy.
func DecodeStepPolicy(raw json.RawMessage) StepPolicy {
	var p StepPolicy
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p)
	}
	return p
}

// Retry returns the backoff policy of a step: its overrides over defaults.
func (p StepPolicy) Retry(defaults Policy) Policy {
	return p.Apply(defaults).WithDefaults()
}
