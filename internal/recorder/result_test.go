package recorder_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/taskertype"
)

func TestReadiesNothing(t *testing.T) {
	leaf := recorder.Attempt{Children: 0}
	parent := recorder.Attempt{Children: 2}
	failed := recorder.Attempt{Result: recorder.Result{Err: errors.New("boom")}}
	require.False(t, recorder.ReadiesNothing(nil), "no results: nothing to say")
	require.True(t, recorder.ReadiesNothing([]recorder.Attempt{leaf, leaf}))
	require.False(t, recorder.ReadiesNothing([]recorder.Attempt{leaf, parent}), "a completion with children readies them")
	require.False(t, recorder.ReadiesNothing([]recorder.Attempt{leaf, failed}), "a failure may be retried at once")
}

func TestRetryAt(t *testing.T) {
	base := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	inError := func(at time.Time) recorder.Recorded {
		return recorder.Recorded{Step: &taskertype.Step{State: taskertype.StateError, NextAttemptAt: at}}
	}
	require.Zero(t, recorder.RetryAt(nil))
	require.Equal(t, base.Add(time.Second), recorder.RetryAt([]recorder.Recorded{
		inError(base.Add(3 * time.Second)),
		inError(base.Add(time.Second)),
		{Step: &taskertype.Step{State: taskertype.StateComplete}},
		{Lost: true},
		{Step: &taskertype.Step{State: taskertype.StateError, NextAttemptAt: base}, Blocked: true},
	}), "the earliest retry of a step left in error, not blocked")
}
