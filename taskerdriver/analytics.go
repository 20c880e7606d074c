package taskerdriver

import "time"

// AnalyticsParams selects the tasks that AnalyticsWindow analyzes: those
// created in [Since, Until), of a namespace, name and version when set, the
// newest Limit of them.
type AnalyticsParams struct {
	Since, Until             time.Time
	Namespace, Name, Version string
	// Limit bounds the tasks analyzed (the newest of the window); the
	// window's tasks are still all counted. Default 50,000.
	Limit int
	// Detail adds the per-template and per-step figures, the slowest tasks
	// and steps, the error kinds and the dependency waits.
	Detail bool
	// Top bounds the slowest tasks and steps listed. Default 10.
	Top int
	// Buckets are the upper bounds, in seconds, of the task duration
	// histogram (ascending); a last bucket counts the longer ones.
	Buckets []float64
}

// AnalyticsDistribution describes durations in seconds: how many, their
// mean, interpolated percentiles (PostgreSQL's percentile_cont) and maximum.
// All are zero when there are none.
type AnalyticsDistribution struct {
	Count int     `json:"count"`
	Avg   float64 `json:"avg"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// AnalyticsWindow is what AnalyticsWindow computed over a window's tasks.
// Durations are seconds.
type AnalyticsWindow struct {
	// Tasks counts every task of the window; Analyzed those analyzed (at
	// most AnalyticsParams.Limit, the newest).
	Tasks    int `json:"tasks"`
	Analyzed int `json:"analyzed"`
	// TaskStates and StepStates count the analyzed tasks and their steps
	// by state.
	TaskStates map[string]int `json:"task_states"`
	StepStates map[string]int `json:"step_states"`
	// TaskTypes counts the distinct templates (namespace, name, version).
	TaskTypes int `json:"task_types"`
	// TaskDuration is completed_at − created_at of the complete tasks;
	// StepDuration is the successful attempt's run time (finished −
	// claimed) of the complete steps.
	TaskDuration AnalyticsDistribution `json:"task_duration"`
	StepDuration AnalyticsDistribution `json:"step_duration"`
	// DurationBuckets counts the complete tasks by duration, one count per
	// AnalyticsParams.Buckets bound and one for longer.
	DurationBuckets []int `json:"duration_buckets"`

	// The rest is filled with AnalyticsParams.Detail only.
	Templates    []AnalyticsTemplate `json:"templates"`
	Steps        []AnalyticsStep     `json:"steps"`
	SlowestTasks []AnalyticsSlowTask `json:"slowest_tasks"`
	SlowestSteps []AnalyticsSlowStep `json:"slowest_steps"`
	// FailedAttempts counts the attempts that failed (in_progress → error
	// transitions), ErrorKinds them by error kind.
	FailedAttempts int            `json:"failed_attempts"`
	ErrorKinds     map[string]int `json:"error_kinds"`
	// RetriedSteps counts the steps with a failed attempt that reached an
	// outcome (complete, or error with no retry left); RetriedCompleted
	// those of them that completed.
	RetriedSteps     int `json:"retried_steps"`
	RetriedCompleted int `json:"retried_completed"`
	// DependencyWait is, for the started steps that have parents, their
	// first start − their creation (time held by their dependencies, plus
	// the queue). QueueWait is, for every started step, its first start −
	// the time it became ready (its creation for a root step, its last
	// parent's completion otherwise).
	DependencyWait AnalyticsDistribution `json:"dependency_wait"`
	QueueWait      AnalyticsDistribution `json:"queue_wait"`
	// WaitingSteps counts the pending steps still waiting for a parent.
	WaitingSteps int `json:"waiting_steps"`
}

// AnalyticsTemplate is the figures of one template in a window.
type AnalyticsTemplate struct {
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	Version   string                `json:"version"`
	Tasks     int                   `json:"tasks"`
	Complete  int                   `json:"complete"`
	Error     int                   `json:"error"`
	Duration  AnalyticsDistribution `json:"duration"`
}

// AnalyticsStep is the figures of one step of a template in a window.
type AnalyticsStep struct {
	Namespace      string                `json:"namespace"`
	Name           string                `json:"name"`
	Version        string                `json:"version"`
	Step           string                `json:"step"`
	Steps          int                   `json:"steps"`
	FailedAttempts int                   `json:"failed_attempts"`
	Duration       AnalyticsDistribution `json:"duration"`
	DependencyWait AnalyticsDistribution `json:"dependency_wait"`
}

// AnalyticsSlowTask is one of the slowest finished tasks of a window.
type AnalyticsSlowTask struct {
	TaskID        int64   `json:"task_id"`
	Namespace     string  `json:"namespace"`
	Name          string  `json:"name"`
	Version       string  `json:"version"`
	State         string  `json:"state"`
	Duration      float64 `json:"duration"`
	Steps         int     `json:"steps"`
	CompleteSteps int     `json:"complete_steps"`
	ErrorSteps    int     `json:"error_steps"`
}

// AnalyticsSlowStep is one of the slowest complete steps of a window.
type AnalyticsSlowStep struct {
	StepID    int64   `json:"step_id"`
	TaskID    int64   `json:"task_id"`
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Version   string  `json:"version"`
	Step      string  `json:"step"`
	Duration  float64 `json:"duration"`
	Attempts  int     `json:"attempts"`
	Retryable bool    `json:"retryable"`
}

// AnalyticsSeriesParams selects the buckets of AnalyticsSeries: Buckets
// consecutive intervals [Since + i·Width, Since + (i+1)·Width), each
// counting the tasks that finished (completed_at) in it, of a namespace,
// name and version when set.
type AnalyticsSeriesParams struct {
	Since time.Time
	// Width is a bucket's length; it must be positive.
	Width time.Duration
	// Buckets is how many buckets; it must be positive.
	Buckets                  int
	Namespace, Name, Version string
	// Limit bounds, per bucket, the finished tasks whose steps are read
	// (the last to finish); every finished task is still counted. Default
	// 1000.
	Limit int
}

// AnalyticsSeriesBucket is one bucket of AnalyticsSeries: the tasks that
// finished in it, and the steps of the analyzed ones.
type AnalyticsSeriesBucket struct {
	// Finished counts the tasks that finished in the bucket (any final
	// state); Complete and Error those complete and in error.
	Finished int `json:"finished"`
	Complete int `json:"complete"`
	Error    int `json:"error"`
	// Analyzed counts the finished tasks whose steps were read (at most
	// AnalyticsSeriesParams.Limit, the last to finish).
	Analyzed int `json:"analyzed"`
	// StepsComplete counts the complete steps of the analyzed tasks;
	// FailedAttempts their failed attempts (in_progress → error
	// transitions).
	StepsComplete  int `json:"steps_complete"`
	FailedAttempts int `json:"failed_attempts"`
	// StepDuration is the successful attempt's run time (finished −
	// claimed) of the complete steps of the analyzed tasks.
	StepDuration AnalyticsDistribution `json:"step_duration"`
}

// AnalyticsOverview is the whole database's headline counts.
type AnalyticsOverview struct {
	// ActiveTasks counts the tasks pending or in progress.
	ActiveTasks int
	// Namespaces and TaskTypes count the distinct namespaces and templates
	// (namespace, name, version) that tasks use.
	Namespaces int
	TaskTypes  int
}
