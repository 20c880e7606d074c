package tasker

// The error chains, recovery strategies, bottlenecks and summary of a
// task's dependency analysis (see depanalysis.go).

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

func errorChains(ordered []*depStep, byID map[int64]*depStep, ec *ExecutionContext, now time.Time) ErrorChainAnalysis {
	ea := ErrorChainAnalysis{TotalSteps: ec.Total, TotalErrorSteps: ec.Failed, ErrorChains: []ErrorChain{},
		RecoveryPriority: []RecoveryPriority{}, TaskHealth: ec.HealthStatus}
	if ec.Failed == 0 {
		return ea
	}
	ea.ErrorPercentage = round1(float64(ec.Failed) / float64(ec.Total) * 100)
	for _, d := range ordered {
		if d.s.State != taskertype.StateError {
			continue
		}
		down := downstream(d, byID)
		blocked := blockedAmong(down, byID)
		ra := RetryAnalysis{Exhausted: d.exhausted(), RemainingAttempts: max(d.retryLimit()-d.s.Attempts, 0),
			NextRetryAt: d.r.NextRetryAt, InBackoff: d.r.NextRetryAt.After(now), Retryable: d.r.RetryEligible}
		impact := blocked*depBlockedWeight + len(down)*depDownstreamWeight + d.s.Attempts*depRetryInstability
		if ra.Exhausted {
			impact += depExhaustedRetryPenalty
		}
		ea.ErrorChains = append(ea.ErrorChains, ErrorChain{ErrorStepID: d.s.ID, ErrorStepName: d.s.Name,
			ErrorAttempts: d.s.Attempts, RetryLimit: d.retryLimit(), RetryAnalysis: ra, DownstreamSteps: down,
			BlockedDownstreamSteps: blocked, TotalDownstreamSteps: len(down), TotalImpact: impact,
			RecoveryStrategies: recoveryStrategies(ra)})
	}
	slices.SortStableFunc(ea.ErrorChains, func(a, b ErrorChain) int { return b.TotalImpact - a.TotalImpact })
	for i := range ea.ErrorChains {
		ea.TotalBlockedByErrors += ea.ErrorChains[i].BlockedDownstreamSteps
	}
	if len(ea.ErrorChains) > 0 {
		first := ea.ErrorChains[0]
		ea.MostCriticalError = &first
	}
	for _, c := range ea.ErrorChains[:min(len(ea.ErrorChains), depTopRecoveryPriorities)] {
		ea.RecoveryPriority = append(ea.RecoveryPriority, RecoveryPriority{StepName: c.ErrorStepName,
			PriorityLevel: priorityLevel(c.TotalImpact), Reason: fmt.Sprintf("Blocking %d downstream steps", c.BlockedDownstreamSteps),
			RecommendedAction: c.RecoveryStrategies[0].Strategy})
	}
	return ea
}

func recoveryStrategies(ra RetryAnalysis) []RecoveryStrategy {
	switch {
	case ra.Exhausted:
		return []RecoveryStrategy{
			{Strategy: "Manual Resolution", Priority: "High", Description: "Step has exhausted retries and requires manual intervention"},
			{Strategy: "Increase Retry Limit", Priority: "Medium", Description: "Consider increasing retry limit if error is transient"},
		}
	case ra.InBackoff:
		return []RecoveryStrategy{{Strategy: "Wait for Backoff", Priority: "Low",
			Description: "Step will retry automatically at " + ra.NextRetryAt.UTC().Format(time.RFC3339)}}
	case ra.Retryable:
		return []RecoveryStrategy{{Strategy: "Monitor Retries", Priority: "Medium",
			Description: fmt.Sprintf("Step has %d retry attempts remaining", ra.RemainingAttempts)}}
	}
	return []RecoveryStrategy{{Strategy: "Investigate Root Cause", Priority: "High", Description: "Step is not retryable, requires investigation"}}
}

func bottlenecks(ordered []*depStep, byID map[int64]*depStep, ec *ExecutionContext) StepBottlenecks {
	ba := StepBottlenecks{Bottlenecks: []Bottleneck{}, TaskHealth: ec.HealthStatus, TaskCompletion: ec.CompletionPercentage,
		OverallImpact: "None"}
	if ec.Total > 0 {
		ba.FailedStepsRatio = round1(float64(ec.Failed) / float64(ec.Total) * 100)
	}
	// Candidates: the steps in error when there are some; otherwise the
	// unfinished steps held up by a parent, retried at least twice, or not
	// eligible to run (finished and cancelled steps never hold anything up).
	var cands []*depStep
	for _, d := range ordered {
		if d.s.State == taskertype.StateError {
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		for _, d := range ordered {
			if d.s.State.Done() || d.s.State == taskertype.StateCancelled {
				continue
			}
			if !d.r.DependenciesSatisfied || d.s.Attempts >= 2 || !d.r.RetryEligible {
				cands = append(cands, d)
			}
		}
	}
	all := make([]Bottleneck, 0, len(cands))
	for _, d := range cands {
		down := downstream(d, byID)
		blocked := blockedAmong(down, byID)
		mult := 1.0
		switch d.s.State {
		case taskertype.StateError:
			mult = depErrorStateMultiplier
			if d.exhausted() {
				mult += depExhaustedRetryBonus
			}
		case taskertype.StatePending:
			if !d.r.DependenciesSatisfied {
				mult = depDependencyIssueMult
			}
		}
		penalty := d.s.Attempts * depRetryInstability
		if !d.r.RetryEligible {
			penalty += depNonRetryablePenalty
		}
		if d.exhausted() {
			penalty += depExhaustedRetryPenalty
		}
		score := int(math.Round(float64(len(down)*depDownstreamWeight+blocked*depBlockedWeight)*mult + float64(penalty)))
		all = append(all, Bottleneck{StepID: d.s.ID, StepName: d.s.Name, CurrentState: d.s.State, Attempts: d.s.Attempts,
			RetryLimit: d.retryLimit(), DependenciesSatisfied: d.r.DependenciesSatisfied, DownstreamStepsCount: len(down),
			BlockedDownstreamCount: blocked, ImpactScore: score, Severity: priorityLevel(score),
			BottleneckType: bottleneckType(d), ResolutionStrategy: bottleneckResolution(d), EstimatedResolutionTime: resolutionTime(d)})
	}
	slices.SortStableFunc(all, func(a, b Bottleneck) int { return b.ImpactScore - a.ImpactScore })
	critical, high := 0, 0
	for _, b := range all {
		ba.TotalBlockedSteps += b.BlockedDownstreamCount
		switch b.Severity {
		case "Critical":
			critical++
		case "High":
			high++
		}
	}
	ba.TotalBottlenecks, ba.CriticalBottlenecks = len(all), critical
	ba.Bottlenecks = append(ba.Bottlenecks, all[:min(len(all), depTopBottlenecks)]...)
	switch {
	case len(all) == 0:
	case critical >= 3 || ec.Failed > ec.Total/2:
		ba.OverallImpact = "Severe"
	case critical >= 1 || high >= 3:
		ba.OverallImpact = "High"
	case high >= 1 || len(all) >= 5:
		ba.OverallImpact = "Medium"
	default:
		ba.OverallImpact = "Low"
	}
	return ba
}

func bottleneckType(d *depStep) string {
	switch {
	case d.s.State == taskertype.StateError && d.exhausted():
		return "Permanent Failure"
	case d.s.State == taskertype.StateError:
		return "Active Error"
	case !d.r.DependenciesSatisfied:
		return "Dependency Block"
	case d.s.Attempts >= 2:
		return "Retry Exhaustion"
	case !d.r.RetryEligible:
		return "Non-Retryable"
	}
	return "Unknown"
}

func bottleneckResolution(d *depStep) string {
	switch {
	case d.s.State == taskertype.StateError && d.exhausted():
		return "Manual intervention required"
	case d.s.State == taskertype.StateError:
		return "Investigate error cause"
	case d.r.BlockingReason == statemachine.NotReadyDependencies:
		return "Check upstream dependencies"
	case d.r.BlockingReason == statemachine.NotReadyBackoff:
		return "Wait for backoff period"
	case d.s.Attempts >= 1:
		return "Monitor retry attempts"
	}
	return "Review step configuration"
}

func resolutionTime(d *depStep) string {
	switch {
	case d.s.State == taskertype.StateError && d.exhausted():
		return "Immediate action needed"
	case d.r.TimeUntilReady > 0:
		m := int(math.Ceil(d.r.TimeUntilReady.Minutes()))
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	case d.s.State == taskertype.StateError && d.r.RetryEligible:
		return "Within next retry cycle"
	case d.r.BlockingReason == statemachine.NotReadyDependencies:
		return "Depends on upstream steps"
	}
	return "Unknown"
}

func executionSummary(a *TaskDependencyAnalysis, ec *ExecutionContext) TaskExecutionSummary {
	s := TaskExecutionSummary{TotalSteps: len(a.DependencyGraph.Nodes), TotalDependencies: len(a.DependencyGraph.Edges),
		DependencyLevels: a.ParallelismOpportunities.TotalLevels, LongestPathLength: a.CriticalPaths.LongestPathLength,
		CriticalBottlenecksCount: a.Bottlenecks.CriticalBottlenecks, ErrorChainsCount: len(a.ErrorChains.ErrorChains),
		ParallelismEfficiency: a.ParallelismOpportunities.OverallEfficiency, Recommendations: []string{}}
	highBottleneck := false
	for _, b := range a.Bottlenecks.Bottlenecks {
		if b.Severity == "High" {
			highBottleneck = true
		}
	}
	switch {
	case s.CriticalBottlenecksCount > 0 || s.ErrorChainsCount > 0:
		s.OverallHealth = "critical"
	case highBottleneck:
		s.OverallHealth = "warning"
	default:
		s.OverallHealth = "healthy"
	}
	if s.CriticalBottlenecksCount > 0 {
		s.Recommendations = append(s.Recommendations, "Address critical bottlenecks to unblock task execution")
	}
	if s.ErrorChainsCount > 0 {
		s.Recommendations = append(s.Recommendations, "Resolve error chains to prevent further failures")
	}
	// Parallelism is worth improving while steps can still run: not for a
	// finished task, nor one held by failures.
	running := ec.Completed+ec.Cancelled < ec.Total && ec.ExecutionStatus != "blocked_by_failures"
	if running && s.TotalSteps > 1 && s.ParallelismEfficiency < depParallelismRecommendAt {
		s.Recommendations = append(s.Recommendations, "Consider optimizing step dependencies to improve parallelism")
	}
	if len(s.Recommendations) == 0 {
		s.Recommendations = append(s.Recommendations, "Task execution appears healthy")
	}
	return s
}
