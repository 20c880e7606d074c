package tasker

import (
	"context"
	"fmt"
	"math"
	"time"
)

// HealthStatus is a snapshot of the engine's state for health checks.
type HealthStatus struct {
	// Healthy is false when a threshold is crossed (see Reasons).
	Healthy bool `json:"healthy"`
	// Status is "healthy" or "unhealthy".
	Status string `json:"status"`
	// Reasons says which thresholds were crossed.
	Reasons []string          `json:"reasons,omitempty"`
	Tasks   map[State]int     `json:"tasks"`
	Steps   map[State]int     `json:"steps"`
	Retries HealthRetries     `json:"retries"`
	DB      HealthConnections `json:"database"`
	// ReadySteps are the steps a worker may claim now (every queue): the
	// backlog waiting for a worker.
	ReadySteps int `json:"ready_steps"`
	// Outbox counts the event outbox's messages for durable subscriptions.
	Outbox HealthOutbox `json:"outbox"`
	// CheckedAt is when the counts were taken.
	CheckedAt time.Time `json:"timestamp"`
}

// HealthRetries counts steps in error by what happens next.
type HealthRetries struct {
	RetryableErrors  int `json:"retryable_errors"`
	InBackoff        int `json:"in_backoff"`
	ExhaustedRetries int `json:"exhausted_retries"`
}

// HealthOutbox counts the event outbox's messages: Backlog still to
// deliver, DeadLetters that exhausted their delivery attempts (see tasker
// events dead and replay).
type HealthOutbox struct {
	Backlog     int `json:"backlog"`
	DeadLetters int `json:"dead_letters"`
}

// HealthConnections describes the database server's connections (zero on an
// embedded database).
type HealthConnections struct {
	ActiveConnections int     `json:"active_connections"`
	MaxConnections    int     `json:"max_connections"`
	Utilization       float64 `json:"connection_utilization"`
}

// Health thresholds, as in the original engine: above them the status is
// unhealthy.
const (
	healthMaxConnectionUtilization = 90.0 // percent
	healthMaxErrorRate             = 50.0 // percent of tasks or steps in error
)

// Health counts tasks and steps by state and applies the original engine's
// thresholds: unhealthy when more than 90 % of the database connections are
// in use, or more than 50 % of the tasks or of the steps are in error.
func (c *Client) Health(ctx context.Context) (*HealthStatus, error) {
	now := c.cfg.Now().UTC()
	h, err := c.exec.HealthCounts(ctx, now)
	if err != nil {
		return nil, err
	}
	s := &HealthStatus{Healthy: true, Status: "healthy", Tasks: h.Tasks, Steps: h.Steps, CheckedAt: now,
		Retries:    HealthRetries{RetryableErrors: h.RetryableErrors, InBackoff: h.InBackoff, ExhaustedRetries: h.ExhaustedRetries},
		DB:         HealthConnections{ActiveConnections: h.ActiveConnections, MaxConnections: h.MaxConnections},
		ReadySteps: h.ReadySteps, Outbox: HealthOutbox{Backlog: h.OutboxBacklog, DeadLetters: h.DeadLetters},
	}
	if h.MaxConnections > 0 {
		s.DB.Utilization = math.Round(float64(h.ActiveConnections)/float64(h.MaxConnections)*10000) / 100
	}
	rate := func(m map[State]int) float64 {
		total := 0
		for _, n := range m {
			total += n
		}
		if total == 0 {
			return 0
		}
		return float64(m[StateError]) / float64(total) * 100
	}
	if s.DB.Utilization > healthMaxConnectionUtilization {
		s.Reasons = append(s.Reasons, fmt.Sprintf("database connection utilization %.1f%% is above %.0f%%", s.DB.Utilization, healthMaxConnectionUtilization))
	}
	if r := rate(h.Tasks); r > healthMaxErrorRate {
		s.Reasons = append(s.Reasons, fmt.Sprintf("%.1f%% of tasks are in error (above %.0f%%)", r, healthMaxErrorRate))
	}
	if r := rate(h.Steps); r > healthMaxErrorRate {
		s.Reasons = append(s.Reasons, fmt.Sprintf("%.1f%% of steps are in error (above %.0f%%)", r, healthMaxErrorRate))
	}
	if len(s.Reasons) > 0 {
		s.Healthy, s.Status = false, "unhealthy"
	}
	return s, nil
}

// Ping checks that the database answers and is migrated.
func (c *Client) Ping(ctx context.Context) error {
	v, err := c.driver.MigrationVersion(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if v == 0 {
		return fmt.Errorf("database is not migrated: run tasker migrate")
	}
	return nil
}
