package taskermetrics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
)

const (
	tmpl = "name=order,namespace=shop,version=1.0.0"
	a    = "{" + tmpl + ",step=a}"
	b    = "{" + tmpl + ",step=b}"
	c    = "{" + tmpl + ",step=c}"
	d    = "{" + tmpl + ",step=d}"
)

// Golden workflows: the exact counters and histogram counts each leaves,
// on both databases. The clock is frozen but where a test moves it, so
// the durations are exact too.
func TestGoldenWorkflows(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		t.Run("Success", func(t *testing.T) {
			e := newEnv(t)
			task := e.create(plan{})
			e.clock.Advance(5 * time.Second) // a waits 5s ready before the pass
			require.Equal(t, tasker.StateComplete, e.quiesce(task.ID).State)
			require.Equal(t, normAll([]string{
				"tasker_step_completed_total" + a + " 1",
				"tasker_step_completed_total" + b + " 1",
				"tasker_step_completed_total" + c + " 1",
				"tasker_step_completed_total" + d + " 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=a} 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=b} 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=c} 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=d} 1",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=a} 0",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=b} 0",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=c} 0",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=d} 0",
				"tasker_step_queue_seconds_count" + a + " 1",
				"tasker_step_queue_seconds_count" + b + " 1",
				"tasker_step_queue_seconds_count" + c + " 1",
				"tasker_step_queue_seconds_count" + d + " 1",
				"tasker_step_queue_seconds_sum" + a + " 5",
				"tasker_step_queue_seconds_sum" + b + " 0",
				"tasker_step_queue_seconds_sum" + c + " 0",
				"tasker_step_queue_seconds_sum" + d + " 0",
				"tasker_step_started_total" + a + " 1",
				"tasker_step_started_total" + b + " 1",
				"tasker_step_started_total" + c + " 1",
				"tasker_step_started_total" + d + " 1",
				"tasker_task_completed_total{" + tmpl + "} 1",
				"tasker_task_duration_seconds_count{" + tmpl + ",status=complete} 1",
				"tasker_task_duration_seconds_sum{" + tmpl + ",status=complete} 5",
				"tasker_task_started_total{" + tmpl + "} 1",
			}), counters(scrape(t, e.metrics.Handler())))
		})

		t.Run("Retries", func(t *testing.T) {
			e := newEnv(t)
			task := e.create(plan{Fail: map[string]int{"b": 2}})
			require.Equal(t, tasker.StateComplete, e.quiesce(task.ID).State)
			got := counters(scrape(t, e.metrics.Handler()))
			for _, want := range []string{
				"tasker_step_started_total" + b + " 3",
				"tasker_step_failed_total{kind=retryable," + tmpl + ",step=b} 2",
				"tasker_step_retried_total" + b + " 2",
				"tasker_step_completed_total" + b + " 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=failed,step=b} 2",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=b} 1",
				// Retry 1 is due 2s after the failure and claimed 10s after it;
				// retry 2 is due 4s after and claimed 10s after: 8 + 6.
				"tasker_step_queue_seconds_count" + b + " 3",
				"tasker_step_queue_seconds_sum" + b + " 14",
				"tasker_step_started_total" + d + " 1",
				"tasker_task_started_total{" + tmpl + "} 1",
				"tasker_task_completed_total{" + tmpl + "} 1",
				"tasker_task_duration_seconds_sum{" + tmpl + ",status=complete} 20",
			} {
				require.Contains(t, got, norm(want))
			}
			for _, s := range got {
				require.NotContains(t, s, "tasker_task_failed_total")
				require.NotContains(t, s, "kind=permanent")
			}
		})

		t.Run("Exhaustion", func(t *testing.T) {
			e := newEnv(t)
			task := e.create(plan{Always: "b"})
			require.Equal(t, tasker.StateError, e.quiesce(task.ID).State)
			fams := scrape(t, e.metrics.Handler())
			require.Equal(t, normAll([]string{
				"tasker_step_completed_total" + a + " 1",
				"tasker_step_completed_total" + c + " 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=a} 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=completed,step=c} 1",
				"tasker_step_duration_seconds_count{" + tmpl + ",outcome=failed,step=b} 3",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=a} 0",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=completed,step=c} 0",
				"tasker_step_duration_seconds_sum{" + tmpl + ",outcome=failed,step=b} 0",
				"tasker_step_failed_total{kind=retryable," + tmpl + ",step=b} 3",
				"tasker_step_queue_seconds_count" + a + " 1",
				"tasker_step_queue_seconds_count" + b + " 3",
				"tasker_step_queue_seconds_count" + c + " 1",
				"tasker_step_queue_seconds_sum" + a + " 0",
				"tasker_step_queue_seconds_sum" + b + " 14",
				"tasker_step_queue_seconds_sum" + c + " 0",
				"tasker_step_retried_total" + b + " 2",
				"tasker_step_started_total" + a + " 1",
				"tasker_step_started_total" + b + " 3",
				"tasker_step_started_total" + c + " 1",
				"tasker_task_duration_seconds_count{" + tmpl + ",status=error} 1",
				"tasker_task_duration_seconds_sum{" + tmpl + ",status=error} 20",
				"tasker_task_failed_total{" + tmpl + "} 1",
				"tasker_task_started_total{" + tmpl + "} 1",
			}), counters(fams))
			// The database gauges: a and c complete, b blocked in error, d
			// pending behind it; nothing ready.
			require.Equal(t, normAll([]string{
				"tasker_database_up{} 1",
				"tasker_steps_blocked{} 1",
				"tasker_steps{state=complete} 2",
				"tasker_steps{state=error} 1",
				"tasker_steps{state=pending} 1",
				"tasker_tasks{state=error} 1",
			}), gauges(fams))
		})

		t.Run("Cancellation", func(t *testing.T) {
			e := newEnv(t)
			task := e.create(plan{Fail: map[string]int{"b": 1}})
			require.NoError(t, e.client.RunUntilIdle(t.Context())) // a completes, b fails, c completes
			e.clock.Advance(3 * time.Second)
			_, err := e.client.CancelTask(t.Context(), task.ID, "not needed")
			require.NoError(t, err)
			e.clock.Advance(10 * time.Second)
			require.NoError(t, e.client.RunUntilIdle(t.Context()))
			got := counters(scrape(t, e.metrics.Handler()))
			require.Contains(t, got, norm("tasker_task_cancelled_total{"+tmpl+"} 1"))
			require.Contains(t, got, norm("tasker_task_duration_seconds_count{"+tmpl+",status=cancelled} 1"))
			require.Contains(t, got, norm("tasker_task_duration_seconds_sum{"+tmpl+",status=cancelled} 3"))
			require.Contains(t, got, norm("tasker_step_started_total"+b+" 1"), "the cancelled retry never starts")
			require.Contains(t, got, norm("tasker_step_failed_total{kind=retryable,"+tmpl+",step=b} 1"))
			for _, s := range got {
				require.NotContains(t, s, "tasker_task_completed_total")
				require.NotContains(t, s, "tasker_task_failed_total")
				require.NotContains(t, s, "step=d")
			}
		})
	})
}
