package tasker

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskertype"
)

// The original engine's dependency_graph scoring constants (spec §9).
const (
	depDownstreamWeight       = 5
	depBlockedWeight          = 15
	depPathLengthWeight       = 10
	depCompletedPenalty       = 15
	depBlockedPenalty         = 25
	depErrorPenalty           = 30
	depRetryPenalty           = 10
	depErrorStateMultiplier   = 2.0
	depExhaustedRetryBonus    = 0.5
	depDependencyIssueMult    = 1.2
	depRetryInstability       = 3
	depNonRetryablePenalty    = 10
	depExhaustedRetryPenalty  = 20
	depSeverityCritical       = 100
	depSeverityHigh           = 50
	depSeverityMedium         = 20
	depBaseStepSeconds        = 30
	depErrorPenaltySeconds    = 60
	depRetryPenaltySeconds    = 30
	depMaxEnumeratedPaths     = 1000
	depTopPaths               = 5
	depTopBottlenecks         = 10
	depTopRecoveryPriorities  = 3
	depParallelismRecommendAt = 50.0 // percent
)

// TaskDependencyAnalysis is the runtime dependency analysis of a task, the
// original engine's RuntimeGraphAnalyzer answer with its serializer's
// task_execution_summary (spec §13). The REST API serves it under
// dependency_analysis of GET /tasker/tasks/{id}?include_dependencies=true.
type TaskDependencyAnalysis struct {
	TaskID                   int64                `json:"task_id"`
	DependencyGraph          RuntimeGraph         `json:"dependency_graph"`
	CriticalPaths            CriticalPaths        `json:"critical_paths"`
	ParallelismOpportunities ParallelismAnalysis  `json:"parallelism_opportunities"`
	ErrorChains              ErrorChainAnalysis   `json:"error_chains"`
	Bottlenecks              StepBottlenecks      `json:"bottlenecks"`
	GeneratedAt              time.Time            `json:"generated_at"`
	TaskExecutionSummary     TaskExecutionSummary `json:"task_execution_summary"`
}

// RuntimeGraph is the task's step graph: nodes with their dependency level,
// edges parent → child, and adjacency lists keyed by step id.
type RuntimeGraph struct {
	Nodes                []RuntimeNode      `json:"nodes"`
	Edges                []RuntimeEdge      `json:"edges"`
	AdjacencyList        map[string][]int64 `json:"adjacency_list"`
	ReverseAdjacencyList map[string][]int64 `json:"reverse_adjacency_list"`
	// DependencyLevels maps step id to level (0 for roots, else one more
	// than its deepest parent).
	DependencyLevels map[string]int `json:"dependency_levels"`
}

// RuntimeNode is one step of a RuntimeGraph.
type RuntimeNode struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// RuntimeEdge is one dependency of a RuntimeGraph.
type RuntimeEdge struct {
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	FromName string `json:"from_name"`
	ToName   string `json:"to_name"`
}

// CriticalPaths ranks the root-to-leaf paths by criticality.
type CriticalPaths struct {
	// TotalPaths counts every root-to-leaf path (saturating at the
	// largest int).
	TotalPaths int `json:"total_paths"`
	// LongestPathLength is the number of steps of the longest path.
	LongestPathLength int `json:"longest_path_length"`
	// Paths are the most critical paths (at most 5), ranked among the
	// first 1,000 paths enumerated (PathsTruncated says when there are
	// more).
	Paths          []PathAnalysis `json:"paths"`
	PathsTruncated bool           `json:"paths_truncated"`
	RootNodes      []int64        `json:"root_nodes"`
	LeafNodes      []int64        `json:"leaf_nodes"`
}

// PathAnalysis scores one root-to-leaf path.
type PathAnalysis struct {
	Path                 []int64          `json:"path"`
	Length               int              `json:"length"`
	StepNames            []string         `json:"step_names"`
	CompletedSteps       int              `json:"completed_steps"`
	BlockedSteps         int              `json:"blocked_steps"`
	ErrorSteps           int              `json:"error_steps"`
	RetrySteps           int              `json:"retry_steps"`
	ReadySteps           int              `json:"ready_steps"`
	EstimatedDuration    int              `json:"estimated_duration"`
	Bottlenecks          []PathBottleneck `json:"bottlenecks"`
	CriticalityScore     float64          `json:"criticality_score"`
	CompletionPercentage float64          `json:"completion_percentage"`
}

// PathBottleneck is a step of a path that holds the rest of it up.
type PathBottleneck struct {
	StepID   int64  `json:"step_id"`
	StepName string `json:"step_name"`
	Reason   string `json:"reason"`
	Severity int    `json:"severity"`
	Impact   string `json:"impact"`
}

// ParallelismAnalysis describes what can run at once, level by level.
type ParallelismAnalysis struct {
	TotalSteps                   int                `json:"total_steps"`
	TotalLevels                  int                `json:"total_levels"`
	MaxParallelSteps             int                `json:"max_parallel_steps"`
	CurrentParallelOpportunities int                `json:"current_parallel_opportunities"`
	BlockedParallelOpportunities int                `json:"blocked_parallel_opportunities"`
	OverallCompletion            float64            `json:"overall_completion"`
	Levels                       []LevelParallelism `json:"levels"`
	// ParallelismEfficiency is the percentage of levels with more than one
	// ready step; OverallEfficiency is the same number under the key the
	// original's summary reads.
	ParallelismEfficiency float64 `json:"parallelism_efficiency"`
	OverallEfficiency     float64 `json:"overall_efficiency"`
}

// LevelParallelism is one dependency level of a ParallelismAnalysis.
type LevelParallelism struct {
	Level                int      `json:"level"`
	TotalSteps           int      `json:"total_steps"`
	ReadySteps           int      `json:"ready_steps"`
	BlockedSteps         int      `json:"blocked_steps"`
	ErrorSteps           int      `json:"error_steps"`
	CompletedSteps       int      `json:"completed_steps"`
	StepNames            []string `json:"step_names"`
	ParallelismPotential string   `json:"parallelism_potential"`
	BottleneckRisk       string   `json:"bottleneck_risk"`
}

// ErrorChainAnalysis follows each step in error to what it holds up.
type ErrorChainAnalysis struct {
	TotalErrorSteps      int                `json:"total_error_steps"`
	TotalSteps           int                `json:"total_steps"`
	ErrorPercentage      float64            `json:"error_percentage"`
	TotalBlockedByErrors int                `json:"total_blocked_by_errors"`
	MostCriticalError    *ErrorChain        `json:"most_critical_error"`
	ErrorChains          []ErrorChain       `json:"error_chains"`
	RecoveryPriority     []RecoveryPriority `json:"recovery_priority"`
	TaskHealth           string             `json:"task_health"`
}

// ErrorChain is one step in error and its downstream steps.
type ErrorChain struct {
	ErrorStepID            int64              `json:"error_step_id"`
	ErrorStepName          string             `json:"error_step_name"`
	ErrorAttempts          int                `json:"error_attempts"`
	RetryLimit             int                `json:"retry_limit"`
	RetryAnalysis          RetryAnalysis      `json:"retry_analysis"`
	DownstreamSteps        []int64            `json:"downstream_steps"`
	BlockedDownstreamSteps int                `json:"blocked_downstream_steps"`
	TotalDownstreamSteps   int                `json:"total_downstream_steps"`
	TotalImpact            int                `json:"total_impact"`
	RecoveryStrategies     []RecoveryStrategy `json:"recovery_strategies"`
}

// RetryAnalysis says whether and when a step in error runs again.
type RetryAnalysis struct {
	Exhausted         bool      `json:"exhausted"`
	RemainingAttempts int       `json:"remaining_attempts"`
	InBackoff         bool      `json:"in_backoff"`
	NextRetryAt       time.Time `json:"next_retry_at,omitzero"`
	Retryable         bool      `json:"retryable"`
}

// RecoveryStrategy is one suggestion for a step in error.
type RecoveryStrategy struct {
	Strategy    string `json:"strategy"`
	Priority    string `json:"priority"`
	Description string `json:"description"`
}

// RecoveryPriority ranks the error chains to work on first.
type RecoveryPriority struct {
	StepName          string `json:"step_name"`
	PriorityLevel     string `json:"priority_level"`
	Reason            string `json:"reason"`
	RecommendedAction string `json:"recommended_action"`
}

// StepBottlenecks ranks the steps that hold the task up.
type StepBottlenecks struct {
	TotalBottlenecks    int          `json:"total_bottlenecks"`
	CriticalBottlenecks int          `json:"critical_bottlenecks"`
	TotalBlockedSteps   int          `json:"total_blocked_steps"`
	Bottlenecks         []Bottleneck `json:"bottlenecks"`
	TaskHealth          string       `json:"task_health"`
	TaskCompletion      float64      `json:"task_completion"`
	FailedStepsRatio    float64      `json:"failed_steps_ratio"`
	OverallImpact       string       `json:"overall_impact"`
}

// Bottleneck is one step that holds the task up, with its impact.
type Bottleneck struct {
	StepID                  int64  `json:"step_id"`
	StepName                string `json:"step_name"`
	CurrentState            State  `json:"current_state"`
	Attempts                int    `json:"attempts"`
	RetryLimit              int    `json:"retry_limit"`
	DependenciesSatisfied   bool   `json:"dependencies_satisfied"`
	DownstreamStepsCount    int    `json:"downstream_steps_count"`
	BlockedDownstreamCount  int    `json:"blocked_downstream_count"`
	ImpactScore             int    `json:"impact_score"`
	Severity                string `json:"severity"`
	BottleneckType          string `json:"bottleneck_type"`
	ResolutionStrategy      string `json:"resolution_strategy"`
	EstimatedResolutionTime string `json:"estimated_resolution_time"`
}

// TaskExecutionSummary is the headline of the analysis.
type TaskExecutionSummary struct {
	TotalSteps               int      `json:"total_steps"`
	TotalDependencies        int      `json:"total_dependencies"`
	DependencyLevels         int      `json:"dependency_levels"`
	LongestPathLength        int      `json:"longest_path_length"`
	CriticalBottlenecksCount int      `json:"critical_bottlenecks_count"`
	ErrorChainsCount         int      `json:"error_chains_count"`
	ParallelismEfficiency    float64  `json:"parallelism_efficiency"`
	OverallHealth            string   `json:"overall_health"`
	Recommendations          []string `json:"recommendations"`
}

// TaskDependencyAnalysis analyzes the task's step graph at the client's
// current time: critical paths, parallelism, error chains, bottlenecks
// with severity, and a summary with recommendations, scored with the
// original engine's constants (docs/observability.md says where it
// deliberately differs).
func (c *Client) TaskDependencyAnalysis(ctx context.Context, taskID int64) (*TaskDependencyAnalysis, error) {
	task, steps, err := c.taskWithSteps(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return AnalyzeTaskDependencies(task, steps, c.cfg.Now()), nil
}

// depStep is a step with its readiness, as the analysis sees it.
type depStep struct {
	s        *Step
	r        StepReadiness
	children []int64
}

func (d *depStep) exhausted() bool {
	return statemachine.Failure{Attempts: d.s.Attempts, RetryLimit: d.s.RetryLimit}.Exhausted()
}

func (d *depStep) retryLimit() int {
	if d.s.RetryLimit <= 0 {
		return statemachine.DefaultRetryLimit
	}
	return d.s.RetryLimit
}

// AnalyzeTaskDependencies is TaskDependencyAnalysis over a task and its
// steps as read at now (a pure function: the same input, the same answer).
func AnalyzeTaskDependencies(task *Task, steps []*Step, now time.Time) *TaskDependencyAnalysis {
	now = now.UTC()
	ec := executionContext(task, steps, now)
	byID := make(map[int64]*depStep, len(steps))
	ordered := make([]*depStep, len(steps))
	for i, s := range steps {
		ordered[i] = &depStep{s: s, r: ec.Steps[i]}
		byID[s.ID] = ordered[i]
	}
	slices.SortStableFunc(ordered, func(a, b *depStep) int { return cmpInt64(a.s.ID, b.s.ID) })
	a := &TaskDependencyAnalysis{TaskID: task.ID, GeneratedAt: now}
	a.DependencyGraph = runtimeGraph(ordered, byID)
	a.CriticalPaths = criticalPaths(ordered, byID, a.DependencyGraph, ec)
	a.ParallelismOpportunities = parallelism(ordered, a.DependencyGraph, ec)
	a.ErrorChains = errorChains(ordered, byID, ec, now)
	a.Bottlenecks = bottlenecks(ordered, byID, ec)
	a.TaskExecutionSummary = executionSummary(a, ec)
	return a
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func key(id int64) string { return strconv.FormatInt(id, 10) }

func runtimeGraph(ordered []*depStep, byID map[int64]*depStep) RuntimeGraph {
	n := len(ordered)
	g := RuntimeGraph{Nodes: make([]RuntimeNode, 0, n), Edges: []RuntimeEdge{}, AdjacencyList: make(map[string][]int64, n),
		ReverseAdjacencyList: make(map[string][]int64, n), DependencyLevels: make(map[string]int, n)}
	nodes := make([]dag.Node, len(ordered))
	for i, d := range ordered {
		g.AdjacencyList[key(d.s.ID)] = []int64{}
		g.ReverseAdjacencyList[key(d.s.ID)] = []int64{}
		nodes[i].Name = d.s.Name
	}
	for i, d := range ordered {
		parents := slices.Clone(d.s.ParentIDs)
		slices.Sort(parents)
		for _, p := range parents {
			pd := byID[p]
			if pd == nil {
				continue
			}
			pd.children = append(pd.children, d.s.ID)
			nodes[i].DependsOn = append(nodes[i].DependsOn, pd.s.Name)
			g.ReverseAdjacencyList[key(d.s.ID)] = append(g.ReverseAdjacencyList[key(d.s.ID)], p)
		}
	}
	for _, d := range ordered {
		slices.Sort(d.children)
		g.AdjacencyList[key(d.s.ID)] = append(g.AdjacencyList[key(d.s.ID)], d.children...)
		for _, c := range d.children {
			g.Edges = append(g.Edges, RuntimeEdge{From: d.s.ID, To: c, FromName: d.s.Name, ToName: byID[c].s.Name})
		}
	}
	levels := map[string]int{}
	if dg, err := dag.New(nodes); err == nil {
		levels = dg.Levels()
	}
	for _, d := range ordered {
		l := levels[d.s.Name]
		g.Nodes = append(g.Nodes, RuntimeNode{ID: d.s.ID, Name: d.s.Name, Level: l})
		g.DependencyLevels[key(d.s.ID)] = l
	}
	return g
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }

func criticalPaths(ordered []*depStep, byID map[int64]*depStep, g RuntimeGraph, ec *ExecutionContext) CriticalPaths {
	cp := CriticalPaths{Paths: []PathAnalysis{}, RootNodes: []int64{}, LeafNodes: []int64{}}
	for _, d := range ordered {
		if len(g.ReverseAdjacencyList[key(d.s.ID)]) == 0 {
			cp.RootNodes = append(cp.RootNodes, d.s.ID)
		}
		if len(d.children) == 0 {
			cp.LeafNodes = append(cp.LeafNodes, d.s.ID)
		}
	}
	// Count every path (from each step to a leaf, children first) and the
	// longest one, without enumerating them.
	count := make(map[int64]int, len(ordered))
	longest := make(map[int64]int, len(ordered))
	for i := len(ordered) - 1; i >= 0; i-- {
		// ordered is by id; a child may have a smaller id than its parent
		// in a task built by hand, so resolve recursively with memoization.
		pathCount(ordered[i], byID, count, longest)
	}
	for _, r := range cp.RootNodes {
		cp.TotalPaths = satAdd(cp.TotalPaths, count[r])
		cp.LongestPathLength = max(cp.LongestPathLength, longest[r])
	}
	// Enumerate paths depth first (roots and children in id order), up to
	// depMaxEnumeratedPaths, keeping running counts along the path so that
	// a path is scored in constant time at its leaf; only the most
	// critical ones are kept and described in full.
	type ranked struct {
		score float64
		path  []int64
	}
	var top []ranked
	enumerated := 0
	var stack []*depStep
	var acc pathCounts
	var walk func(d *depStep)
	walk = func(d *depStep) {
		if enumerated >= depMaxEnumeratedPaths {
			return
		}
		stack = append(stack, d)
		saved := acc
		acc.add(d)
		if len(d.children) == 0 {
			enumerated++
			score := acc.score(len(stack), ec)
			// Ties keep the order of enumeration: a later path enters only
			// with a strictly higher score than the last kept one.
			if len(top) < depTopPaths || score > top[len(top)-1].score {
				ids := make([]int64, len(stack))
				for i, x := range stack {
					ids[i] = x.s.ID
				}
				at := len(top)
				for at > 0 && top[at-1].score < score {
					at--
				}
				top = slices.Insert(top, at, ranked{score, ids})
				top = top[:min(len(top), depTopPaths)]
			}
		} else {
			for _, c := range d.children {
				walk(byID[c])
			}
		}
		acc = saved
		stack = stack[:len(stack)-1]
	}
	for _, r := range cp.RootNodes {
		walk(byID[r])
	}
	cp.PathsTruncated = enumerated < cp.TotalPaths
	for _, r := range top {
		cp.Paths = append(cp.Paths, pathCriticality(r.path, byID, ec))
	}
	return cp
}

// pathCounts are the running counts of a path's steps that its
// criticality depends on.
type pathCounts struct {
	completed, blocked, errors, retried, attempts int
}

func (c *pathCounts) add(d *depStep) {
	if d.s.State.Done() {
		c.completed++
	}
	if !d.r.DependenciesSatisfied {
		c.blocked++
	}
	if d.s.State == taskertype.StateError {
		c.errors++
		if d.s.Attempts > 0 {
			c.retried++
		}
	}
	c.attempts += d.s.Attempts
}

// duration is the original's estimate of a path's duration in seconds.
func (c *pathCounts) duration(length int) int {
	return length*depBaseStepSeconds + c.errors*depErrorPenaltySeconds + c.attempts*depRetryPenaltySeconds
}

// score is the original's path criticality.
func (c *pathCounts) score(length int, ec *ExecutionContext) float64 {
	healthFactor := 1.0
	if ec.HealthStatus != "healthy" {
		healthFactor = 1.5
	}
	score := float64(length * depPathLengthWeight)
	score -= float64(c.completed * depCompletedPenalty)
	score += float64(c.blocked*depBlockedPenalty) * healthFactor
	score += float64(c.errors*depErrorPenalty) * healthFactor
	score += float64(c.retried * depRetryPenalty)
	score += float64(c.duration(length)) / 60 * 2
	score *= 1 - ec.CompletionPercentage/100*0.3
	return round2(max(score, 0))
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func pathCount(d *depStep, byID map[int64]*depStep, count, longest map[int64]int) {
	if _, ok := count[d.s.ID]; ok {
		return
	}
	if len(d.children) == 0 {
		count[d.s.ID], longest[d.s.ID] = 1, 1
		return
	}
	n, l := 0, 0
	for _, c := range d.children {
		pathCount(byID[c], byID, count, longest)
		n = satAdd(n, count[c])
		l = max(l, longest[c])
	}
	count[d.s.ID], longest[d.s.ID] = n, l+1
}

func pathCriticality(path []int64, byID map[int64]*depStep, ec *ExecutionContext) PathAnalysis {
	p := PathAnalysis{Path: path, Length: len(path), StepNames: make([]string, len(path)), Bottlenecks: []PathBottleneck{}}
	var c pathCounts
	for i, id := range path {
		d := byID[id]
		c.add(d)
		p.StepNames[i] = d.s.Name
		if d.r.Ready {
			p.ReadySteps++
		}
		if !d.r.DependenciesSatisfied || d.s.State == taskertype.StateError {
			p.Bottlenecks = append(p.Bottlenecks, PathBottleneck{StepID: id, StepName: d.s.Name, Reason: bottleneckReason(d),
				Severity: stepSeverity(d), Impact: fmt.Sprintf("Blocks %d downstream steps", len(path)-i-1)})
		}
	}
	slices.SortStableFunc(p.Bottlenecks, func(a, b PathBottleneck) int { return b.Severity - a.Severity })
	p.CompletedSteps, p.BlockedSteps, p.ErrorSteps, p.RetrySteps = c.completed, c.blocked, c.errors, c.retried
	p.EstimatedDuration = c.duration(len(path))
	p.CriticalityScore = c.score(len(path), ec)
	p.CompletionPercentage = round1(float64(p.CompletedSteps) / float64(len(path)) * 100)
	return p
}

// stepSeverity is the original's step bottleneck severity: 10 in error, 5
// per attempt, 20 when exhausted, 5 when its dependencies are unmet.
func stepSeverity(d *depStep) int {
	s := 5 * d.s.Attempts
	if d.s.State == taskertype.StateError {
		s += 10
	}
	if d.exhausted() {
		s += 20
	}
	if !d.r.DependenciesSatisfied {
		s += 5
	}
	return s
}

func bottleneckReason(d *depStep) string {
	switch d.r.BlockingReason {
	case statemachine.NotReadyDependencies:
		return "Dependencies not satisfied"
	case statemachine.NotReadyBlocked:
		if d.exhausted() {
			return "Exhausted retries"
		}
		return "Not retryable"
	case statemachine.NotReadyBackoff:
		return "In backoff period"
	case statemachine.NotReadyInProgress:
		return "In progress"
	case statemachine.NotReadyInvalidState:
		return "Invalid state: " + string(d.s.State)
	case "":
		return "Not blocked (ready for execution)"
	}
	return "Unrecognized blocking reason: " + d.r.BlockingReason
}

func parallelism(ordered []*depStep, g RuntimeGraph, ec *ExecutionContext) ParallelismAnalysis {
	pa := ParallelismAnalysis{TotalSteps: ec.Total, CurrentParallelOpportunities: ec.Ready,
		OverallCompletion: ec.CompletionPercentage, Levels: []LevelParallelism{}}
	byLevel := map[int]*LevelParallelism{}
	for _, d := range ordered {
		l := g.DependencyLevels[key(d.s.ID)]
		lp := byLevel[l]
		if lp == nil {
			lp = &LevelParallelism{Level: l, StepNames: []string{}}
			byLevel[l] = lp
		}
		lp.TotalSteps++
		lp.StepNames = append(lp.StepNames, d.s.Name)
		if d.r.Ready {
			lp.ReadySteps++
		}
		if !d.r.DependenciesSatisfied {
			lp.BlockedSteps++
		}
		if d.s.State == taskertype.StateError {
			lp.ErrorSteps++
		}
		if d.s.State.Done() {
			lp.CompletedSteps++
		}
	}
	withParallel := 0
	for l := range byLevel {
		pa.TotalLevels = max(pa.TotalLevels, l+1)
	}
	for l := range pa.TotalLevels {
		lp := byLevel[l]
		if lp == nil {
			continue
		}
		switch {
		case lp.ReadySteps > 1:
			lp.ParallelismPotential = "High"
			withParallel++
		case lp.ReadySteps == 1:
			lp.ParallelismPotential = "Medium"
		default:
			lp.ParallelismPotential = "Low"
		}
		lp.BottleneckRisk = "Low"
		if lp.BlockedSteps > lp.TotalSteps/2 {
			lp.BottleneckRisk = "High"
		}
		pa.MaxParallelSteps = max(pa.MaxParallelSteps, lp.TotalSteps)
		pa.BlockedParallelOpportunities += lp.BlockedSteps
		pa.Levels = append(pa.Levels, *lp)
	}
	if len(pa.Levels) > 0 {
		pa.ParallelismEfficiency = round1(float64(withParallel) / float64(len(pa.Levels)) * 100)
	}
	pa.OverallEfficiency = pa.ParallelismEfficiency
	return pa
}

// downstream lists the steps reachable from d, depth first (children in id
// order), each once.
func downstream(d *depStep, byID map[int64]*depStep) []int64 {
	out := []int64{}
	seen := map[int64]bool{}
	var walk func(*depStep)
	walk = func(x *depStep) {
		for _, c := range x.children {
			if seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, c)
			walk(byID[c])
		}
	}
	walk(d)
	return out
}

func blockedAmong(ids []int64, byID map[int64]*depStep) int {
	n := 0
	for _, id := range ids {
		if !byID[id].r.DependenciesSatisfied {
			n++
		}
	}
	return n
}

func priorityLevel(score int) string {
	switch {
	case score >= depSeverityCritical:
		return "Critical"
	case score >= depSeverityHigh:
		return "High"
	case score >= depSeverityMedium:
		return "Medium"
	}
	return "Low"
}
