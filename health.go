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
	// Metrics holds the same counts in the original engine's shape
	// (metrics.tasks, metrics.steps with totals, metrics.retries).
	Metrics HealthMetrics `json:"metrics"`
	// Workers are the workers seen within Config.HealthWorkerWindow.
	Workers HealthWorkers `json:"workers"`
	// ReadySteps are the steps a worker may claim now (every queue): the
	// backlog waiting for a worker.
	ReadySteps int `json:"ready_steps"`
	// Outbox counts the event outbox's messages for durable subscriptions.
	Outbox HealthOutbox `json:"outbox"`
	// CheckedAt is when the counts were taken.
	CheckedAt time.Time `json:"timestamp"`
	// GenerationDuration is how long the check took, in seconds (by the
	// client's clock).
	GenerationDuration float64 `json:"generation_duration"`
}

// HealthMetrics are the task, step and retry counts in the original
// engine's shape.
type HealthMetrics struct {
	Tasks   HealthStateCounts `json:"tasks"`
	Steps   HealthStateCounts `json:"steps"`
	Retries HealthRetries     `json:"retries"`
}

// HealthStateCounts counts tasks or steps by state, with their total.
type HealthStateCounts struct {
	Total            int `json:"total"`
	Pending          int `json:"pending"`
	InProgress       int `json:"in_progress"`
	Complete         int `json:"complete"`
	Error            int `json:"error"`
	Cancelled        int `json:"cancelled"`
	ResolvedManually int `json:"resolved_manually"`
}

// HealthWorkers are the workers seen recently.
type HealthWorkers struct {
	// WindowSeconds is how far back workers are looked for; Since is the
	// start of that window.
	WindowSeconds int       `json:"window_seconds"`
	Since         time.Time `json:"since"`
	// Total counts the workers seen; InProcess and Remote split them by kind.
	Total     int           `json:"total"`
	InProcess int           `json:"in_process"`
	Remote    int           `json:"remote"`
	Workers   []*WorkerInfo `json:"workers"`
}

func stateCounts(m map[State]int) HealthStateCounts {
	c := HealthStateCounts{Pending: m[StatePending], InProgress: m[StateInProgress], Complete: m[StateComplete],
		Error: m[StateError], Cancelled: m[StateCancelled], ResolvedManually: m[StateResolvedManually]}
	for _, n := range m {
		c.Total += n
	}
	return c
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

// Health counts tasks and steps by state, lists the workers seen within
// Config.HealthWorkerWindow, and applies the original engine's thresholds:
// unhealthy when more than 90 % of the database connections are in use, or
// more than 50 % of the tasks or of the steps are in error.
func (c *Client) Health(ctx context.Context) (*HealthStatus, error) {
	now := c.cfg.Now().UTC()
	h, err := c.exec.HealthCounts(ctx, now)
	if err != nil {
		return nil, err
	}
	window := c.cfg.HealthWorkerWindow
	if window <= 0 {
		window = DefaultHealthWorkerWindow
	}
	workers, err := c.Workers(ctx, now.Add(-window))
	if err != nil {
		return nil, err
	}
	s := &HealthStatus{Healthy: true, Status: "healthy", Tasks: h.Tasks, Steps: h.Steps, CheckedAt: now,
		Retries:    HealthRetries{RetryableErrors: h.RetryableErrors, InBackoff: h.InBackoff, ExhaustedRetries: h.ExhaustedRetries},
		DB:         HealthConnections{ActiveConnections: h.ActiveConnections, MaxConnections: h.MaxConnections},
		ReadySteps: h.ReadySteps, Outbox: HealthOutbox{Backlog: h.OutboxBacklog, DeadLetters: h.DeadLetters},
	}
	s.Metrics = HealthMetrics{Tasks: stateCounts(h.Tasks), Steps: stateCounts(h.Steps), Retries: s.Retries}
	s.Workers = HealthWorkers{WindowSeconds: int(window / time.Second), Since: now.Add(-window), Total: len(workers), Workers: workers}
	if s.Workers.Workers == nil {
		s.Workers.Workers = []*WorkerInfo{}
	}
	for _, w := range workers {
		if w.Kind == WorkerRemote {
			s.Workers.Remote++
		} else {
			s.Workers.InProcess++
		}
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
	s.GenerationDuration = c.cfg.Now().UTC().Sub(now).Seconds()
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
