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
