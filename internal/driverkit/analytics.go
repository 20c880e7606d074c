package driverkit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/taskerdriver"
)

// Analytics defaults.
const (
	AnalyticsDefaultLimit = 50000
	AnalyticsDefaultTop   = 10
)

// AnalyticsWhere returns the conditions selecting the tasks of p's window
// and scope, with ph(i) the placeholder of the i-th argument (from 1), and
// the arguments (since and until are the driver's encoding of p's times).
func AnalyticsWhere(p *taskerdriver.AnalyticsParams, ph func(i int) string, since, until any) (string, []any) {
	args := []any{since, until}
	conds := []string{"created_at >= " + ph(1), "created_at < " + ph(2)}
	for _, f := range []Equal{{"namespace", p.Namespace}, {"name", p.Name}, {"version", p.Version}} {
		if f.Value != "" {
			args = append(args, f.Value)
			conds = append(conds, f.Column+" = "+ph(len(args)))
		}
	}
	return strings.Join(conds, " AND "), args
}

// AnalyticsBuckets returns the aggregate expressions counting the rows of
// v (seconds) by the bounds of p's histogram, one per bound and one for
// longer: count(CASE ...) so that both drivers run them.
func AnalyticsBuckets(p *taskerdriver.AnalyticsParams, v string) []string {
	out := make([]string, 0, len(p.Buckets)+1)
	lo := ""
	for _, b := range p.Buckets {
		c := fmt.Sprintf("%s <= %g", v, b)
		if lo != "" {
			c += " AND " + v + " > " + lo
		}
		out = append(out, "count(CASE WHEN "+c+" THEN 1 END)")
		lo = fmt.Sprintf("%g", b)
	}
	if lo == "" {
		return append(out, "count("+v+")")
	}
	return append(out, "count(CASE WHEN "+v+" > "+lo+" THEN 1 END)")
}

// AnalyticsOverview is Executor.AnalyticsOverview: row is the driver's
// overview statement's row (active tasks, namespaces, templates); driver
// names it in the error.
func AnalyticsOverview(driver string, row interface{ Scan(dest ...any) error }) (*taskerdriver.AnalyticsOverview, error) {
	var o taskerdriver.AnalyticsOverview
	if err := row.Scan(&o.ActiveTasks, &o.Namespaces, &o.TaskTypes); err != nil {
		return nil, fmt.Errorf("%s: analytics overview: %w", driver, err)
	}
	return &o, nil
}

// AnalyticsStepTimes is the select list of the CTE tr of a detailed
// analytics statement, over the transitions tt of the window's steps
// grouped by step: each step's first start, first completion and failed
// attempts. Both drivers run it: one definition of each time.
const AnalyticsStepTimes = `tt.workflow_step_id,
			min(tt.created_at) FILTER (WHERE tt.to_state = 'in_progress') AS started_at,
			min(tt.created_at) FILTER (WHERE tt.to_state IN ('complete', 'resolved_manually')) AS done_at,
			count(*) FILTER (WHERE tt.from_state = 'in_progress' AND tt.to_state = 'error') AS failed`

// AnalyticsStepWaits returns the CTE sx of a detailed analytics statement:
// the steps of s with their failed attempts and their waits (dependency
// wait: from creation to the first start, for a step with parents; queue
// wait: from when it could start to the first start), read from the CTEs
// tr (each step's first start, first completion and failed attempts) and
// par (when a step's parents were all done), with secs the driver's
// seconds between two of its timestamps.
func AnalyticsStepWaits(secs func(to, from string) string) string {
	return `sx AS MATERIALIZED (
		SELECT s.*, coalesce(tr.failed, 0) AS failed,
			CASE WHEN par.to_step_id IS NOT NULL THEN ` + secs("tr.started_at", "s.created_at") + ` END AS dep_wait,
			` + secs("tr.started_at", "CASE WHEN par.to_step_id IS NULL THEN s.created_at ELSE par.ready_at END") + ` AS queue_wait
		FROM s LEFT JOIN tr ON tr.workflow_step_id = s.workflow_step_id
		LEFT JOIN par ON par.to_step_id = s.workflow_step_id)`
}

// AnalyticsRetryCounts are the fields of a detailed analytics document
// that count failed attempts, retried steps and steps waiting for their
// parents, from the CTEs s and sx, in SQL both drivers run: one definition
// of what each count means.
var AnalyticsRetryCounts = []string{
	`'failed_attempts', (SELECT coalesce(sum(failed), 0) FROM sx)`,
	`'retried_steps', (SELECT count(*) FROM sx WHERE failed > 0 AND (state = 'complete' OR (state = 'error' AND blocked)))`,
	`'retried_completed', (SELECT count(*) FROM sx WHERE failed > 0 AND state = 'complete')`,
	`'waiting_steps', (SELECT count(*) FROM s WHERE state = 'pending' AND pending_parents > 0)`,
}

// analyticsKeys are the group columns of the per-template and per-step
// rows of an analytics answer.
type analyticsKeys struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Step      string `json:"step"`
}

type analyticsDistRow struct {
	analyticsKeys
	taskerdriver.AnalyticsDistribution
}

// analyticsAnswer is the JSON document a driver's analytics query returns.
type analyticsAnswer struct {
	taskerdriver.AnalyticsWindow
	TemplateCounts []struct {
		analyticsKeys
		Tasks    int `json:"tasks"`
		Complete int `json:"complete"`
		Error    int `json:"error"`
	} `json:"template_counts"`
	TemplateDurations []analyticsDistRow `json:"template_durations"`
	StepCounts        []struct {
		analyticsKeys
		Steps  int `json:"steps"`
		Failed int `json:"failed_attempts"`
	} `json:"step_counts"`
	StepDurations []analyticsDistRow `json:"step_durations"`
	StepWaits     []analyticsDistRow `json:"step_waits"`
}

// DecodeAnalytics turns a driver's analytics JSON document into the window
// figures: the per-template and per-step rows joined by their keys, and
// every list and map not nil.
func DecodeAnalytics(b []byte, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	var a analyticsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode analytics: %w", err)
	}
	w := a.AnalyticsWindow
	if w.TaskStates == nil {
		w.TaskStates = map[string]int{}
	}
	if w.StepStates == nil {
		w.StepStates = map[string]int{}
	}
	if w.ErrorKinds == nil {
		w.ErrorKinds = map[string]int{}
	}
	if len(w.DurationBuckets) == 0 {
		w.DurationBuckets = make([]int, len(p.Buckets)+1)
	}
	w.Templates = []taskerdriver.AnalyticsTemplate{}
	tdur := map[analyticsKeys]taskerdriver.AnalyticsDistribution{}
	for _, r := range a.TemplateDurations {
		tdur[r.analyticsKeys] = r.AnalyticsDistribution
	}
	for _, r := range a.TemplateCounts {
		w.Templates = append(w.Templates, taskerdriver.AnalyticsTemplate{Namespace: r.Namespace, Name: r.Name, Version: r.Version,
			Tasks: r.Tasks, Complete: r.Complete, Error: r.Error, Duration: tdur[r.analyticsKeys]})
	}
	sdur := map[analyticsKeys]taskerdriver.AnalyticsDistribution{}
	for _, r := range a.StepDurations {
		sdur[r.analyticsKeys] = r.AnalyticsDistribution
	}
	swait := map[analyticsKeys]taskerdriver.AnalyticsDistribution{}
	for _, r := range a.StepWaits {
		swait[r.analyticsKeys] = r.AnalyticsDistribution
	}
	w.Steps = []taskerdriver.AnalyticsStep{}
	for _, r := range a.StepCounts {
		w.Steps = append(w.Steps, taskerdriver.AnalyticsStep{Namespace: r.Namespace, Name: r.Name, Version: r.Version, Step: r.Step,
			Steps: r.Steps, FailedAttempts: r.Failed, Duration: sdur[r.analyticsKeys], DependencyWait: swait[r.analyticsKeys]})
	}
	if w.SlowestTasks == nil {
		w.SlowestTasks = []taskerdriver.AnalyticsSlowTask{}
	}
	if w.SlowestSteps == nil {
		w.SlowestSteps = []taskerdriver.AnalyticsSlowStep{}
	}
	return &w, nil
}

// Series defaults.
const AnalyticsSeriesDefaultLimit = 1000

// AnalyticsSeriesScope returns the conditions (each with a leading " AND
// ") restricting a series' tasks to p's namespace, name and version, with
// ph(i) the placeholder of the i-th argument, numbered after the first n
// arguments, and their arguments.
func AnalyticsSeriesScope(p *taskerdriver.AnalyticsSeriesParams, ph func(i int) string, n int) (string, []any) {
	var conds string
	var args []any
	for _, f := range []Equal{{"namespace", p.Namespace}, {"name", p.Name}, {"version", p.Version}} {
		if f.Value != "" {
			args = append(args, f.Value)
			conds += " AND " + f.Column + " = " + ph(n+len(args))
		}
	}
	return conds, args
}

// analyticsSeriesAnswer is the JSON document a driver's series query
// returns: the counts of every bucket by its index (bucket), and the step
// durations of the buckets that have some.
type analyticsSeriesAnswer struct {
	Buckets []struct {
		Bucket int `json:"bucket"`
		taskerdriver.AnalyticsSeriesBucket
	} `json:"buckets"`
	Durations []struct {
		Bucket int `json:"bucket"`
		taskerdriver.AnalyticsDistribution
	} `json:"durations"`
}

// DecodeAnalyticsSeries turns a driver's series JSON document into
// p.Buckets buckets, the oldest first (a bucket the document lacks is all
// zero).
func DecodeAnalyticsSeries(b []byte, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	var a analyticsSeriesAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode analytics series: %w", err)
	}
	out := make([]taskerdriver.AnalyticsSeriesBucket, max(p.Buckets, 0))
	for _, r := range a.Buckets {
		if r.Bucket >= 0 && r.Bucket < len(out) {
			out[r.Bucket] = r.AnalyticsSeriesBucket
		}
	}
	for _, r := range a.Durations {
		if r.Bucket >= 0 && r.Bucket < len(out) {
			out[r.Bucket].StepDuration = r.AnalyticsDistribution
		}
	}
	return out, nil
}
