package dag_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/taskertype"
)

const (
	pending   = taskertype.StatePending
	running   = taskertype.StateInProgress
	complete  = taskertype.StateComplete
	failed    = taskertype.StateError
	cancelled = taskertype.StateCancelled
	resolved  = taskertype.StateResolvedManually
)

var now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// st is a retryable step in state s with the given attempts (limit 3).
func st(s taskertype.State, attempts int) dag.StepStatus {
	return dag.StepStatus{State: s, Attempts: attempts, RetryLimit: 3, Retryable: true}
}

func TestBlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    dag.StepStatus
		want bool
	}{
		{"pending never", dag.StepStatus{State: pending, Attempts: 5, RetryLimit: 3}, false},
		{"pending non-retryable first attempt", dag.StepStatus{State: pending}, false},
		{"error with attempts left", st(failed, 2), false},
		{"error exhausted", st(failed, 3), true},
		{"error not retryable", dag.StepStatus{State: failed, Attempts: 1, RetryLimit: 3}, true},
		{"error permanent", dag.StepStatus{State: failed, Attempts: 1, RetryLimit: 3, Retryable: true, Permanent: true}, true},
		{"zero limit means 3: 2 attempts", dag.StepStatus{State: failed, Attempts: 2, Retryable: true}, false},
		{"zero limit means 3: 3 attempts", dag.StepStatus{State: failed, Attempts: 3, Retryable: true}, true},
		{"limit 1", dag.StepStatus{State: failed, Attempts: 1, RetryLimit: 1, Retryable: true}, true},
		{"complete", st(complete, 3), false},
		{"cancelled", st(cancelled, 3), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, dag.Blocked(tt.s))
		})
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	chain := []dag.Node{{Name: "a"}, {Name: "b", DependsOn: []string{"a"}}}
	tests := []struct {
		name  string
		nodes []dag.Node
		steps []dag.StepStatus
		want  []int
	}{
		{
			name:  "scenario 1: initial readiness of DummyTask",
			nodes: dummyTask(),
			steps: []dag.StepStatus{st(pending, 0), st(pending, 0), st(pending, 0), st(pending, 0)},
			want:  []int{0, 1},
		},
		{
			name:  "child released once its parent completes",
			nodes: dummyTask(),
			steps: []dag.StepStatus{st(running, 1), st(complete, 1), st(pending, 0), st(pending, 0)},
			want:  []int{2},
		},
		{
			name:  "resolved_manually satisfies a dependency",
			nodes: chain,
			steps: []dag.StepStatus{st(resolved, 1), st(pending, 0)},
			want:  []int{1},
		},
		{
			name:  "scenario 19: a complete step is never ready",
			nodes: chain,
			steps: []dag.StepStatus{st(complete, 1), st(complete, 1)},
			want:  nil,
		},
		{
			name:  "parent in error blocks the child",
			nodes: chain,
			steps: []dag.StepStatus{{State: failed, Attempts: 3, RetryLimit: 3, Retryable: true}, st(pending, 0)},
			want:  nil,
		},
		{
			name:  "retryable error after backoff",
			nodes: chain,
			steps: []dag.StepStatus{{State: failed, Attempts: 1, RetryLimit: 3, Retryable: true, NextAttemptAt: now}, st(pending, 0)},
			want:  []int{0},
		},
		{
			name:  "scenario 16: backoff gating",
			nodes: chain,
			steps: []dag.StepStatus{{State: failed, Attempts: 1, RetryLimit: 3, Retryable: true, NextAttemptAt: now.Add(2 * time.Second)}, st(pending, 0)},
			want:  nil,
		},
		{
			name:  "pending step waiting for a requested delay",
			nodes: chain,
			steps: []dag.StepStatus{{State: pending, NextAttemptAt: now.Add(time.Nanosecond)}, st(pending, 0)},
			want:  nil,
		},
		{
			name:  "exhausted error is not ready",
			nodes: chain,
			steps: []dag.StepStatus{st(failed, 3), st(pending, 0)},
			want:  nil,
		},
		{
			name:  "non-retryable first attempt is allowed",
			nodes: chain,
			steps: []dag.StepStatus{{State: pending, RetryLimit: 3}, st(pending, 0)},
			want:  []int{0},
		},
		{
			name:  "non-retryable step is not retried",
			nodes: chain,
			steps: []dag.StepStatus{{State: failed, Attempts: 1, RetryLimit: 3}, st(pending, 0)},
			want:  nil,
		},
		{
			name:  "permanent failure is not retried",
			nodes: chain,
			steps: []dag.StepStatus{{State: failed, Attempts: 1, RetryLimit: 3, Retryable: true, Permanent: true}, st(pending, 0)},
			want:  nil,
		},
		{
			name:  "cancelled and in-progress steps are never ready",
			nodes: []dag.Node{{Name: "a"}, {Name: "b"}, {Name: "c"}},
			steps: []dag.StepStatus{st(cancelled, 0), st(running, 1), {}},
			want:  []int{2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := dag.New(tt.nodes)
			require.NoError(t, err)
			require.Equal(t, tt.want, g.Ready(tt.steps, now, nil))
		})
	}
}

func TestReadyAppendsToDst(t *testing.T) {
	t.Parallel()
	g, err := dag.New(dummyTask())
	require.NoError(t, err)
	dst := make([]int, 1, 8)
	dst[0] = 42
	require.Equal(t, []int{42, 0, 1}, g.Ready(make([]dag.StepStatus, 4), now, dst))
}

func TestReadyPanicsOnLengthMismatch(t *testing.T) {
	t.Parallel()
	g, err := dag.New(dummyTask())
	require.NoError(t, err)
	require.PanicsWithValue(t, "dag: got 1 step statuses for a graph of 4 steps", func() {
		g.Ready(make([]dag.StepStatus, 1), now, nil)
	})
}
