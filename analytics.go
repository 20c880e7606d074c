package tasker

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
)

// Analytics are computed by the database (each driver's SQL) over the tasks
// created in a time window: every figure is read from the rows of that
// window only, through indexes, and at most AnalyticsSampleLimit tasks of a
// window (its newest) are analyzed in detail. Answers are cached for a short
// time (AnalyticsPerformanceTTL, AnalyticsBottlenecksTTL). Durations are
// seconds. docs/observability.md defines every figure.

// Analytics limits and cache lifetimes.
const (
	// AnalyticsMaxPeriodHours is the longest bottleneck window (30 days).
	AnalyticsMaxPeriodHours = 720
	// AnalyticsDefaultPeriodHours is the bottleneck window when none is
	// given.
	AnalyticsDefaultPeriodHours = 24
	// AnalyticsSampleLimit bounds the tasks of one window analyzed in
	// detail (the newest); every task of the window is still counted.
	AnalyticsSampleLimit = 50000
	// AnalyticsPerformanceTTL and AnalyticsBottlenecksTTL are how long an
	// answer is served from the cache (the original engine's 90 s and 2
	// min).
	AnalyticsPerformanceTTL = 90 * time.Second
	AnalyticsBottlenecksTTL = 2 * time.Minute
	// AnalyticsSeriesMaxBuckets is the most buckets of a series;
	// AnalyticsSeriesDefaultBuckets the number when none is given.
	AnalyticsSeriesMaxBuckets     = 240
	AnalyticsSeriesDefaultBuckets = 24
	// AnalyticsSeriesSampleLimit bounds the finished tasks of a series
	// whose steps are read, split evenly among its buckets (the last to
	// finish in each); every finished task is still counted.
	AnalyticsSeriesSampleLimit = 20000
	// AnalyticsSeriesTTL is how long a series is served from the cache
	// (at most one bucket's width: a new bucket is a new answer anyway).
	AnalyticsSeriesTTL = 90 * time.Second
	// analyticsCacheEntries bounds the cache (scopes are caller input).
	analyticsCacheEntries = 256
	// analyticsTop is how many slowest tasks and steps are listed.
	analyticsTop = 10
)

// analyticsBuckets are the upper bounds, in seconds, of the task duration
// histogram: 0-1s, 1-10s, 10-30s, 30-60s, 60-300s, 300s+.
var analyticsBuckets = []float64{1, 10, 30, 60, 300}

// AnalyticsOptions are the options of Client.AnalyticsPerformance.
type AnalyticsOptions struct {
	// NoCache computes a fresh answer (and caches it) even when a cached
	// one is still valid.
	NoCache bool
}

// BottleneckQuery selects the tasks of Client.AnalyticsBottlenecks: those
// created in the last PeriodHours, of a namespace, name and version when
// set.
type BottleneckQuery struct {
	Namespace string
	Name      string
	Version   string
	// PeriodHours is the window, 1 to 720 hours. Zero means 24.
	PeriodHours int
	// NoCache computes a fresh answer, as AnalyticsOptions.NoCache.
	NoCache bool
}

// Distribution describes durations in seconds: how many, their mean,
// interpolated percentiles and maximum (all zero when there are none).
type Distribution = taskerdriver.AnalyticsDistribution

// CacheInfo says whether an analytics answer came from the cache.
type CacheInfo struct {
	Cached     bool      `json:"cached"`
	CacheKey   string    `json:"cache_key"`
	TTLSeconds int       `json:"ttl_seconds"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// PerformanceReport is the answer of Client.AnalyticsPerformance (GET
// /tasker/analytics/performance).
type PerformanceReport struct {
	SystemOverview    SystemOverview    `json:"system_overview"`
	PerformanceTrends PerformanceTrends `json:"performance_trends"`
	TelemetryInsights TelemetryInsights `json:"telemetry_insights"`
	GeneratedAt       time.Time         `json:"generated_at"`
	CacheInfo         CacheInfo         `json:"cache_info"`
}

// SystemOverview is the headline of the whole database.
type SystemOverview struct {
	// ActiveTasks counts the tasks pending or in progress.
	ActiveTasks int `json:"active_tasks"`
	// TotalNamespaces and UniqueTaskTypes count the namespaces and
	// templates (namespace, name, version) that tasks use.
	TotalNamespaces int `json:"total_namespaces"`
	UniqueTaskTypes int `json:"unique_task_types"`
	// SystemHealthScore is 1 − (tasks of the last hour in error / tasks
	// of the last hour), rounded to 3 places; 1 when there are none.
	SystemHealthScore float64 `json:"system_health_score"`
}

// PerformanceTrends are the figures of the last hour, 4 hours and 24 hours.
type PerformanceTrends struct {
	LastHour    PeriodPerformance `json:"last_hour"`
	Last4Hours  PeriodPerformance `json:"last_4_hours"`
	Last24Hours PeriodPerformance `json:"last_24_hours"`
}

// PeriodPerformance is the figures of the tasks created in one period.
type PeriodPerformance struct {
	// TaskThroughput counts the tasks created in the period.
	TaskThroughput int `json:"task_throughput"`
	// CompletionRate and ErrorRate are the percentages of them (analyzed)
	// that are complete and in error, rounded to 2 places.
	CompletionRate float64 `json:"completion_rate"`
	ErrorRate      float64 `json:"error_rate"`
	// AvgTaskDuration is the mean of TaskDuration, AvgStepDuration of
	// StepDuration.
	AvgTaskDuration float64 `json:"avg_task_duration"`
	AvgStepDuration float64 `json:"avg_step_duration"`
	// StepThroughput counts the steps of the analyzed tasks.
	StepThroughput int `json:"step_throughput"`
	// TaskDuration is completed − created of the complete tasks;
	// StepDuration the run time of the successful attempt of the complete
	// steps.
	TaskDuration Distribution `json:"task_duration"`
	StepDuration Distribution `json:"step_duration"`
	// AnalyzedTasks is how many tasks the figures describe (at most
	// AnalyticsSampleLimit, the newest).
	AnalyzedTasks int `json:"analyzed_tasks"`
}

// TelemetryInsights describes the in-process event delivery.
type TelemetryInsights struct {
	// DroppedEvents counts the events a slow in-process subscriber missed.
	DroppedEvents int64 `json:"dropped_events"`
}

// BottleneckReport is the answer of Client.AnalyticsBottlenecks (GET
// /tasker/analytics/bottlenecks).
type BottleneckReport struct {
	ScopeSummary            ScopeSummary            `json:"scope_summary"`
	BottleneckAnalysis      BottleneckAnalysis      `json:"bottleneck_analysis"`
	PerformanceDistribution PerformanceDistribution `json:"performance_distribution"`
	// Recommendations are at most 5 findings, most important first.
	Recommendations     []string       `json:"recommendations"`
	Scope               AnalyticsScope `json:"scope"`
	AnalysisPeriodHours int            `json:"analysis_period_hours"`
	GeneratedAt         time.Time      `json:"generated_at"`
	CacheInfo           CacheInfo      `json:"cache_info"`
}

// AnalyticsScope is the template filter of a bottleneck report.
type AnalyticsScope struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Version   string `json:"version,omitempty"`
}

// ScopeSummary sizes a bottleneck report's window.
type ScopeSummary struct {
	TotalTasks      int     `json:"total_tasks"`
	AnalyzedTasks   int     `json:"analyzed_tasks"`
	UniqueTaskTypes int     `json:"unique_task_types"`
	TimeSpanHours   float64 `json:"time_span_hours"`
}

// BottleneckAnalysis is where the time and the failures go.
type BottleneckAnalysis struct {
	SlowestTasks          []SlowTask            `json:"slowest_tasks"`
	SlowestSteps          []SlowStep            `json:"slowest_steps"`
	ErrorPatterns         ErrorPatterns         `json:"error_patterns"`
	DependencyBottlenecks DependencyBottlenecks `json:"dependency_bottlenecks"`
}

// SlowTask is one of the slowest finished (complete or error) tasks:
// completed − created.
type SlowTask struct {
	TaskID          int64   `json:"task_id"`
	DurationSeconds float64 `json:"duration_seconds"`
	TaskName        string  `json:"task_name"`
	NamespaceName   string  `json:"namespace_name"`
	Version         string  `json:"version"`
	Status          string  `json:"status"`
	StepCount       int     `json:"step_count"`
	CompletedSteps  int     `json:"completed_steps"`
	ErrorSteps      int     `json:"error_steps"`
}

// SlowStep is one of the slowest complete steps: the run time of its
// successful attempt.
type SlowStep struct {
	WorkflowStepID  int64   `json:"workflow_step_id"`
	TaskID          int64   `json:"task_id"`
	DurationSeconds float64 `json:"duration_seconds"`
	StepName        string  `json:"step_name"`
	TaskName        string  `json:"task_name"`
	NamespaceName   string  `json:"namespace_name"`
	Version         string  `json:"version"`
	Attempts        int     `json:"attempts"`
	Retryable       bool    `json:"retryable"`
}

// ErrorPatterns describes the failed attempts.
type ErrorPatterns struct {
	// TotalErrors counts the failed attempts (every in_progress → error
	// transition, retried or not).
	TotalErrors int `json:"total_errors"`
	// RecentErrorRate is the percentage of the analyzed tasks in error.
	RecentErrorRate float64 `json:"recent_error_rate"`
	// CommonErrorTypes are the error kinds (retryable, permanent, timeout,
	// worker_lost, panic), most frequent first; ErrorTypeCounts counts
	// the failed attempts by kind.
	CommonErrorTypes []string       `json:"common_error_types"`
	ErrorTypeCounts  map[string]int `json:"error_type_counts"`
	// RetrySuccessRate is the percentage of RetriedSteps that completed.
	RetrySuccessRate float64 `json:"retry_success_rate"`
	// RetriedSteps counts the steps that failed at least once and reached
	// an outcome (complete, or error with no retry left).
	RetriedSteps int `json:"retried_steps"`
}

// DependencyBottlenecks describes the time steps wait for their parents.
type DependencyBottlenecks struct {
	// BlockingDependencies counts the pending steps still waiting for a
	// parent (behind a running, retrying or failed parent).
	BlockingDependencies int `json:"blocking_dependencies"`
	// AvgWaitTime is the mean of WaitTime.
	AvgWaitTime float64 `json:"avg_wait_time"`
	// MostBlockedSteps are the step names with the longest mean wait,
	// longest first (at most 5); BlockedSteps gives their figures.
	MostBlockedSteps []string      `json:"most_blocked_steps"`
	BlockedSteps     []BlockedStep `json:"blocked_steps"`
	// WaitTime is, for the started steps that have parents, first start
	// − creation: the time their dependencies held them, plus the queue.
	WaitTime Distribution `json:"wait_time"`
	// QueueTime is, for every started step, first start − the time it
	// became ready (its creation for a root step, its last parent's
	// completion otherwise): the time it waited for a worker.
	QueueTime Distribution `json:"queue_time"`
}

// BlockedStep is the dependency wait of one step of a template.
type BlockedStep struct {
	StepName      string       `json:"step_name"`
	TaskName      string       `json:"task_name"`
	NamespaceName string       `json:"namespace_name"`
	Version       string       `json:"version"`
	WaitTime      Distribution `json:"wait_time"`
}

// PerformanceDistribution is how durations spread, overall, per template
// and per step.
type PerformanceDistribution struct {
	// Percentiles are those of the complete tasks' durations.
	Percentiles         Percentiles           `json:"percentiles"`
	DistributionBuckets []DurationBucket      `json:"distribution_buckets"`
	TaskDuration        Distribution          `json:"task_duration"`
	StepDuration        Distribution          `json:"step_duration"`
	Templates           []TemplatePerformance `json:"templates"`
	Steps               []StepPerformance     `json:"steps"`
}

// Percentiles are p50, p95 and p99 in seconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// DurationBucket counts the complete tasks whose duration is in Range.
type DurationBucket struct {
	Range string `json:"range"`
	Count int    `json:"count"`
}

// TemplatePerformance is the figures of one template.
type TemplatePerformance struct {
	NamespaceName string       `json:"namespace_name"`
	TaskName      string       `json:"task_name"`
	Version       string       `json:"version"`
	Tasks         int          `json:"tasks"`
	Complete      int          `json:"complete"`
	Error         int          `json:"error"`
	Duration      Distribution `json:"duration"`
}

// StepPerformance is the figures of one step of a template.
type StepPerformance struct {
	NamespaceName  string       `json:"namespace_name"`
	TaskName       string       `json:"task_name"`
	Version        string       `json:"version"`
	StepName       string       `json:"step_name"`
	Steps          int          `json:"steps"`
	FailedAttempts int          `json:"failed_attempts"`
	Duration       Distribution `json:"duration"`
	WaitTime       Distribution `json:"wait_time"`
}

// SeriesQuery selects the time series of Client.AnalyticsSeries: the tasks
// that finished in the last PeriodHours, of a namespace, name and version
// when set, in Buckets equal buckets.
type SeriesQuery struct {
	Namespace string
	Name      string
	Version   string
	// PeriodHours is the span, 1 to 720 hours. Zero means 24.
	PeriodHours int
	// Buckets is how many buckets divide the span, 1 to 240; a bucket is
	// a whole number of minutes (PeriodHours·60 must be a multiple of
	// Buckets). Zero means 24.
	Buckets int
	// NoCache computes a fresh answer, as AnalyticsOptions.NoCache.
	NoCache bool
}

// SeriesReport is the answer of Client.AnalyticsSeries (GET
// /tasker/analytics/series): the tasks that finished in each bucket of
// time, and the steps of those tasks. Buckets are aligned on multiples of
// their width since the Unix epoch (UTC): the last one holds now and is
// still filling.
type SeriesReport struct {
	Scope       AnalyticsScope `json:"scope"`
	PeriodHours int            `json:"period_hours"`
	// BucketSeconds is the width of a bucket.
	BucketSeconds int `json:"bucket_seconds"`
	// Since is the first bucket's start, Until the last one's end.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// SampleLimitPerBucket is the most finished tasks of a bucket whose
	// steps are analyzed (AnalyticsSeriesSampleLimit / buckets).
	SampleLimitPerBucket int            `json:"sample_limit_per_bucket"`
	Buckets              []SeriesBucket `json:"buckets"`
	GeneratedAt          time.Time      `json:"generated_at"`
	CacheInfo            CacheInfo      `json:"cache_info"`
}

// SeriesBucket is one bucket of a series, [Start, End): the tasks that
// finished in it (their completed_at), and the steps of the analyzed ones.
type SeriesBucket struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// TasksFinished counts the tasks that reached a final state in the
	// bucket; TasksCompleted those complete, TasksFailed those in error.
	TasksFinished  int `json:"tasks_finished"`
	TasksCompleted int `json:"tasks_completed"`
	TasksFailed    int `json:"tasks_failed"`
	// ErrorRate is TasksFailed / (TasksCompleted + TasksFailed) in
	// percent, rounded to 2 places; 0 when there are none.
	ErrorRate float64 `json:"error_rate"`
	// AnalyzedTasks is how many of the finished tasks the step figures
	// describe (all of them, or SampleLimitPerBucket, the last to finish).
	AnalyzedTasks int `json:"analyzed_tasks"`
	// StepsCompleted counts the complete steps of the analyzed tasks,
	// StepAttemptsFailed their failed attempts (in_progress → error
	// transitions, retried or not).
	StepsCompleted     int `json:"steps_completed"`
	StepAttemptsFailed int `json:"step_attempts_failed"`
	// StepDuration is the run time of the successful attempt of those
	// complete steps: count, mean, interpolated p50/p95/p99 and maximum.
	StepDuration Distribution `json:"step_duration"`
}

// analyticsCache holds recent answers by key.
type analyticsCache struct {
	mu      sync.Mutex
	entries map[string]analyticsEntry
}

type analyticsEntry struct {
	value   any
	expires time.Time
}

func (a *analyticsCache) get(key string, now time.Time) (any, time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[key]
	if !ok || !now.Before(e.expires) {
		return nil, time.Time{}, false
	}
	return e.value, e.expires, true
}

func (a *analyticsCache) put(key string, v any, expires, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries = map[string]analyticsEntry{}
	}
	if len(a.entries) >= analyticsCacheEntries {
		for k, e := range a.entries {
			if !now.Before(e.expires) {
				delete(a.entries, k)
			}
		}
		if len(a.entries) >= analyticsCacheEntries {
			clear(a.entries)
		}
	}
	a.entries[key] = analyticsEntry{value: v, expires: expires}
}

// cachedAnalytics returns the report cached under key while it is fresh (a
// copy, marked Cached) unless noCache is set; else it computes the report,
// caches it for ttl from now and returns a copy. info is the report's
// CacheInfo.
func cachedAnalytics[R any](c *Client, key string, now time.Time, ttl time.Duration, noCache bool, info func(*R) *CacheInfo,
	compute func() (*R, error),
) (*R, error) {
	if !noCache {
		if v, exp, ok := c.analytics.get(key, now); ok {
			r := *v.(*R)
			info(&r).Cached, info(&r).ExpiresAt = true, exp
			return &r, nil
		}
	}
	r, err := compute()
	if err != nil {
		return nil, err
	}
	*info(r) = CacheInfo{CacheKey: key, TTLSeconds: int(ttl / time.Second), ExpiresAt: now.Add(ttl)}
	c.analytics.put(key, r, info(r).ExpiresAt, now)
	out := *r
	return &out, nil
}

// AnalyticsPerformance returns the system overview and the performance of
// the tasks created in the last hour, 4 hours and 24 hours, computed by the
// database (from the cache when a fresh enough answer is there, see
// CacheInfo; opts may be nil).
func (c *Client) AnalyticsPerformance(ctx context.Context, opts *AnalyticsOptions) (*PerformanceReport, error) {
	if opts == nil {
		opts = &AnalyticsOptions{}
	}
	now := c.cfg.Now().UTC()
	const key = "tasker:analytics:performance"
	return cachedAnalytics(c, key, now, AnalyticsPerformanceTTL, opts.NoCache, func(r *PerformanceReport) *CacheInfo { return &r.CacheInfo }, func() (*PerformanceReport, error) {
		o, err := c.exec.AnalyticsOverview(ctx)
		if err != nil {
			return nil, err
		}
		r := &PerformanceReport{GeneratedAt: now, TelemetryInsights: TelemetryInsights{DroppedEvents: c.DroppedEvents()},
			SystemOverview: SystemOverview{ActiveTasks: o.ActiveTasks, TotalNamespaces: o.Namespaces, UniqueTaskTypes: o.TaskTypes}}
		for _, p := range []struct {
			hours int
			into  *PeriodPerformance
		}{{1, &r.PerformanceTrends.LastHour}, {4, &r.PerformanceTrends.Last4Hours}, {24, &r.PerformanceTrends.Last24Hours}} {
			w, err := c.exec.AnalyticsWindow(ctx, &taskerdriver.AnalyticsParams{Since: now.Add(-time.Duration(p.hours) * time.Hour),
				Until: now.Add(time.Nanosecond), Limit: AnalyticsSampleLimit})
			if err != nil {
				return nil, err
			}
			*p.into = PeriodPerformance{TaskThroughput: w.Tasks, AnalyzedTasks: w.Analyzed,
				CompletionRate: percent(w.TaskStates[string(StateComplete)], w.Analyzed), ErrorRate: percent(w.TaskStates[string(StateError)], w.Analyzed),
				TaskDuration: roundDist(w.TaskDuration), StepDuration: roundDist(w.StepDuration), StepThroughput: sum(w.StepStates)}
			p.into.AvgTaskDuration, p.into.AvgStepDuration = p.into.TaskDuration.Avg, p.into.StepDuration.Avg
			if p.hours == 1 {
				r.SystemOverview.SystemHealthScore = 1
				if w.Analyzed > 0 {
					r.SystemOverview.SystemHealthScore = round(1-float64(w.TaskStates[string(StateError)])/float64(w.Analyzed), 3)
				}
			}
		}
		return r, nil
	})
}

// AnalyticsBottlenecks returns where the time and the failures of the tasks
// created in the last q.PeriodHours (of q's template scope) go: duration
// percentiles per template and per step, the slowest tasks and steps, error
// kinds, retry outcome, dependency and queue waits, and recommendations.
// Computed by the database; cached as AnalyticsPerformance. q may be nil
// (24 hours, every template).
func (c *Client) AnalyticsBottlenecks(ctx context.Context, q *BottleneckQuery) (*BottleneckReport, error) {
	if q == nil {
		q = &BottleneckQuery{}
	}
	period := cmp.Or(q.PeriodHours, AnalyticsDefaultPeriodHours)
	if period < 1 || period > AnalyticsMaxPeriodHours {
		return nil, &ValidationError{Message: "invalid analytics query", Fields: map[string]string{
			"period": fmt.Sprintf("%d hours is out of range: give a whole number of hours from 1 to %d", q.PeriodHours, AnalyticsMaxPeriodHours)}}
	}
	if fields := nulFields(map[string]any{"namespace": q.Namespace, "name": q.Name, "version": q.Version}); fields != nil {
		return nil, &ValidationError{Message: "invalid analytics query", Fields: fields}
	}
	now := c.cfg.Now().UTC()
	scope := AnalyticsScope{Namespace: q.Namespace, Name: q.Name, Version: q.Version}
	key := fmt.Sprintf("tasker:analytics:bottlenecks:%q:%q:%q:%dh", scope.Namespace, scope.Name, scope.Version, period)
	return cachedAnalytics(c, key, now, AnalyticsBottlenecksTTL, q.NoCache, func(r *BottleneckReport) *CacheInfo { return &r.CacheInfo }, func() (*BottleneckReport, error) {
		w, err := c.exec.AnalyticsWindow(ctx, &taskerdriver.AnalyticsParams{Since: now.Add(-time.Duration(period) * time.Hour),
			Until: now.Add(time.Nanosecond), Namespace: q.Namespace, Name: q.Name, Version: q.Version,
			Limit: AnalyticsSampleLimit, Detail: true, Top: analyticsTop, Buckets: analyticsBuckets})
		if err != nil {
			return nil, err
		}
		r := bottleneckReport(w)
		r.Scope, r.AnalysisPeriodHours, r.GeneratedAt = scope, period, now
		r.ScopeSummary.TimeSpanHours = float64(period)
		return r, nil
	})
}

// AnalyticsSeries returns the throughput, error rate and step latency of
// the last q.PeriodHours (of q's template scope) in q.Buckets buckets of
// time: per bucket, the tasks that finished complete and in error, and the
// complete steps, failed attempts and step run times of (a bounded sample
// of) those tasks. Computed by the database, one index range per bucket;
// cached as AnalyticsPerformance (AnalyticsSeriesTTL). q may be nil (24
// hours in 24 buckets, every template).
func (c *Client) AnalyticsSeries(ctx context.Context, q *SeriesQuery) (*SeriesReport, error) {
	if q == nil {
		q = &SeriesQuery{}
	}
	period, buckets := cmp.Or(q.PeriodHours, AnalyticsDefaultPeriodHours), cmp.Or(q.Buckets, AnalyticsSeriesDefaultBuckets)
	fields := map[string]string{}
	if period < 1 || period > AnalyticsMaxPeriodHours {
		fields["period"] = fmt.Sprintf("%d hours is out of range: give a whole number of hours from 1 to %d", q.PeriodHours, AnalyticsMaxPeriodHours)
	}
	switch {
	case buckets < 1 || buckets > AnalyticsSeriesMaxBuckets:
		fields["buckets"] = fmt.Sprintf("%d buckets is out of range: give a whole number from 1 to %d", q.Buckets, AnalyticsSeriesMaxBuckets)
	case len(fields) == 0 && period*60%buckets != 0:
		fields["buckets"] = fmt.Sprintf("%d buckets do not divide %d hours into whole minutes: give a divisor of %d, for example %d",
			buckets, period, period*60, period)
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Message: "invalid analytics series query", Fields: fields}
	}
	if fields := nulFields(map[string]any{"namespace": q.Namespace, "name": q.Name, "version": q.Version}); fields != nil {
		return nil, &ValidationError{Message: "invalid analytics series query", Fields: fields}
	}
	now := c.cfg.Now().UTC()
	width := time.Duration(period*60/buckets) * time.Minute
	ws := int64(width / time.Second)
	last := time.Unix(now.Unix()/ws*ws, 0).UTC()
	since := last.Add(-time.Duration(buckets-1) * width)
	scope := AnalyticsScope{Namespace: q.Namespace, Name: q.Name, Version: q.Version}
	key := fmt.Sprintf("tasker:analytics:series:%q:%q:%q:%dh:%d:%d", scope.Namespace, scope.Name, scope.Version, period, buckets, since.Unix())
	return cachedAnalytics(c, key, now, min(AnalyticsSeriesTTL, width), q.NoCache, func(r *SeriesReport) *CacheInfo { return &r.CacheInfo }, func() (*SeriesReport, error) {
		limit := max(AnalyticsSeriesSampleLimit/buckets, 1)
		got, err := c.exec.AnalyticsSeries(ctx, &taskerdriver.AnalyticsSeriesParams{Since: since, Width: width, Buckets: buckets,
			Namespace: q.Namespace, Name: q.Name, Version: q.Version, Limit: limit})
		if err != nil {
			return nil, err
		}
		r := &SeriesReport{Scope: scope, PeriodHours: period, BucketSeconds: int(ws), Since: since, Until: since.Add(time.Duration(buckets) * width),
			SampleLimitPerBucket: limit, Buckets: make([]SeriesBucket, len(got)), GeneratedAt: now}
		for i, b := range got {
			start := since.Add(time.Duration(i) * width)
			r.Buckets[i] = SeriesBucket{Start: start, End: start.Add(width), TasksFinished: b.Finished, TasksCompleted: b.Complete,
				TasksFailed: b.Error, ErrorRate: percent(b.Error, b.Complete+b.Error), AnalyzedTasks: b.Analyzed,
				StepsCompleted: b.StepsComplete, StepAttemptsFailed: b.FailedAttempts, StepDuration: roundDist(b.StepDuration)}
		}
		return r, nil
	})
}

// bottleneckReport shapes a window's figures as the report.
func bottleneckReport(w *taskerdriver.AnalyticsWindow) *BottleneckReport {
	r := &BottleneckReport{ScopeSummary: ScopeSummary{TotalTasks: w.Tasks, AnalyzedTasks: w.Analyzed, UniqueTaskTypes: w.TaskTypes}}
	a := &r.BottleneckAnalysis
	a.SlowestTasks = make([]SlowTask, len(w.SlowestTasks))
	for i, t := range w.SlowestTasks {
		a.SlowestTasks[i] = SlowTask{TaskID: t.TaskID, DurationSeconds: round(t.Duration, 3), TaskName: t.Name, NamespaceName: t.Namespace,
			Version: t.Version, Status: t.State, StepCount: t.Steps, CompletedSteps: t.CompleteSteps, ErrorSteps: t.ErrorSteps}
	}
	a.SlowestSteps = make([]SlowStep, len(w.SlowestSteps))
	for i, s := range w.SlowestSteps {
		a.SlowestSteps[i] = SlowStep{WorkflowStepID: s.StepID, TaskID: s.TaskID, DurationSeconds: round(s.Duration, 3), StepName: s.Step,
			TaskName: s.Name, NamespaceName: s.Namespace, Version: s.Version, Attempts: s.Attempts, Retryable: s.Retryable}
	}
	kinds := make([]string, 0, len(w.ErrorKinds))
	for k := range w.ErrorKinds {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(x, y string) int { return cmp.Or(w.ErrorKinds[y]-w.ErrorKinds[x], strings.Compare(x, y)) })
	a.ErrorPatterns = ErrorPatterns{TotalErrors: w.FailedAttempts, RecentErrorRate: percent(w.TaskStates[string(StateError)], w.Analyzed),
		CommonErrorTypes: kinds, ErrorTypeCounts: w.ErrorKinds, RetrySuccessRate: percent(w.RetriedCompleted, w.RetriedSteps), RetriedSteps: w.RetriedSteps}

	d := &a.DependencyBottlenecks
	d.BlockingDependencies, d.WaitTime, d.QueueTime = w.WaitingSteps, roundDist(w.DependencyWait), roundDist(w.QueueWait)
	d.AvgWaitTime = d.WaitTime.Avg
	d.BlockedSteps = []BlockedStep{}
	for _, s := range w.Steps {
		if s.DependencyWait.Count > 0 {
			d.BlockedSteps = append(d.BlockedSteps, BlockedStep{StepName: s.Step, TaskName: s.Name, NamespaceName: s.Namespace, Version: s.Version,
				WaitTime: roundDist(s.DependencyWait)})
		}
	}
	slices.SortStableFunc(d.BlockedSteps, func(x, y BlockedStep) int { return cmp.Compare(y.WaitTime.Avg, x.WaitTime.Avg) })
	d.BlockedSteps = d.BlockedSteps[:min(len(d.BlockedSteps), 5)]
	d.MostBlockedSteps = make([]string, len(d.BlockedSteps))
	for i, s := range d.BlockedSteps {
		d.MostBlockedSteps[i] = s.StepName
	}

	p := &r.PerformanceDistribution
	p.TaskDuration, p.StepDuration = roundDist(w.TaskDuration), roundDist(w.StepDuration)
	p.Percentiles = Percentiles{P50: p.TaskDuration.P50, P95: p.TaskDuration.P95, P99: p.TaskDuration.P99}
	lo := "0"
	for i, n := range w.DurationBuckets {
		rng := lo + "s+"
		if i < len(analyticsBuckets) {
			rng = fmt.Sprintf("%s-%gs", lo, analyticsBuckets[i])
			lo = fmt.Sprintf("%g", analyticsBuckets[i])
		}
		p.DistributionBuckets = append(p.DistributionBuckets, DurationBucket{Range: rng, Count: n})
	}
	p.Templates = make([]TemplatePerformance, len(w.Templates))
	for i, t := range w.Templates {
		p.Templates[i] = TemplatePerformance{NamespaceName: t.Namespace, TaskName: t.Name, Version: t.Version, Tasks: t.Tasks,
			Complete: t.Complete, Error: t.Error, Duration: roundDist(t.Duration)}
	}
	p.Steps = make([]StepPerformance, len(w.Steps))
	for i, s := range w.Steps {
		p.Steps[i] = StepPerformance{NamespaceName: s.Namespace, TaskName: s.Name, Version: s.Version, StepName: s.Step, Steps: s.Steps,
			FailedAttempts: s.FailedAttempts, Duration: roundDist(s.Duration), WaitTime: roundDist(s.DependencyWait)}
	}
	r.Recommendations = recommendations(r)
	return r
}

// recommendations are the report's findings, most important first, at
// most 5; none when nothing stands out.
func recommendations(r *BottleneckReport) []string {
	out := []string{}
	a := r.BottleneckAnalysis
	if e := a.ErrorPatterns; e.RecentErrorRate >= 10 {
		msg := fmt.Sprintf("%.2f%% of the tasks ended in error", e.RecentErrorRate)
		if len(e.CommonErrorTypes) > 0 {
			msg += fmt.Sprintf("; the most common failure kind is %s (%d attempts)", e.CommonErrorTypes[0], e.ErrorTypeCounts[e.CommonErrorTypes[0]])
		}
		out = append(out, msg)
	}
	if e := a.ErrorPatterns; e.RetriedSteps > 0 && e.RetrySuccessRate < 50 {
		out = append(out, fmt.Sprintf("retries rarely help: %.2f%% of the %d steps that failed once completed; mark hopeless failures permanent or lower retry_limit",
			e.RetrySuccessRate, e.RetriedSteps))
	}
	var slowest *StepPerformance
	for i, s := range r.PerformanceDistribution.Steps {
		if s.Duration.Count > 0 && (slowest == nil || s.Duration.P95 > slowest.Duration.P95) {
			slowest = &r.PerformanceDistribution.Steps[i]
		}
	}
	if slowest != nil && slowest.Duration.P95 >= 1 {
		out = append(out, fmt.Sprintf("step %s of %s.%s@%s is the slowest: p95 %.3fs, p50 %.3fs over %d runs",
			slowest.StepName, slowest.NamespaceName, slowest.TaskName, slowest.Version, slowest.Duration.P95, slowest.Duration.P50, slowest.Duration.Count))
	}
	if q := a.DependencyBottlenecks.QueueTime; q.Count > 0 && q.P95 >= 1 {
		out = append(out, fmt.Sprintf("ready steps wait p95 %.3fs for a worker: add workers or concurrency", q.P95))
	}
	if d := a.DependencyBottlenecks; len(d.BlockedSteps) > 0 && d.BlockedSteps[0].WaitTime.Avg >= 1 {
		b := d.BlockedSteps[0]
		out = append(out, fmt.Sprintf("step %s of %s.%s@%s waits %.3fs on average for its dependencies: shorten or parallelize its parents",
			b.StepName, b.NamespaceName, b.TaskName, b.Version, b.WaitTime.Avg))
	}
	if n := a.DependencyBottlenecks.BlockingDependencies; n > 0 {
		out = append(out, fmt.Sprintf("%d steps are waiting behind unfinished parents; for tasks in error, retry or resolve the failed steps", n))
	}
	return out[:min(len(out), 5)]
}

// percent is n/of·100 rounded to 2 places, 0 when of is 0.
func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return round(float64(n)/float64(of)*100, 2)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func roundDist(d Distribution) Distribution {
	return Distribution{Count: d.Count, Avg: round(d.Avg, 3), P50: round(d.P50, 3), P95: round(d.P95, 3), P99: round(d.P99, 3), Max: round(d.Max, 3)}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
