package tasker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// newSeamEnv is newEnv with hooks and step middleware configured.
func newSeamEnv(t *testing.T, hooks []tasker.Hook, mw []tasker.StepMiddleware, templates ...*tasker.TaskTemplate) *env {
	t.Helper()
	return newEnvWith(t, func(c *tasker.Config) { c.Hooks, c.StepMiddleware = hooks, mw }, templates...)
}

// A hook sees every event, in order, even those a slow subscriber loses.
func TestHookSeesEveryEventWhileASubscriberDrops(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string]int{}
		hook := tasker.HookFunc(func(ev *tasker.Event) {
			mu.Lock()
			defer mu.Unlock()
			seen[ev.Name]++
		})
		e := newSeamEnv(t, []tasker.Hook{hook}, nil, template("default", "one", "1.0.0", stepDef{name: "only"}))
		_, unsub := e.client.Subscribe() // never read: it fills after 1,024 events
		defer unsub()
		const tasks = 200 // 6 events each: more than a subscriber's buffer
		for range tasks {
			e.create("one", nil)
		}
		e.singlePass()
		require.Positive(t, e.client.DroppedEvents(), "the silent subscriber lost events")
		mu.Lock()
		defer mu.Unlock()
		for _, name := range []string{tasker.EventTaskInitializeRequested, tasker.EventTaskStartRequested, tasker.EventWorkflowViableStepsDiscovered,
			tasker.EventStepExecutionRequested, tasker.EventStepCompleted, tasker.EventTaskCompleted} {
			require.Equal(t, tasks, seen[name], name)
		}
	})
}

// The change feed reports every task and step state change, not only the
// final ones, in commit order.
func TestSubscribeChangesReportsEveryStateChange(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "two", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}, limit: 2}))
		e.h.fails["b"] = 1
		feed, stop := e.client.SubscribeChanges()
		task := e.create("two", nil)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		stop()
		var got []string
		for ch := range feed {
			require.Equal(t, task.ID, ch.Task.ID)
			what := "task"
			if ch.Step != nil {
				what = ch.Step.Name
			}
			got = append(got, what+" "+string(ch.To))
		}
		require.Equal(t, []string{
			"task pending", "task in_progress", "a in_progress", "a complete",
			"b in_progress", "b error", "b in_progress", "b complete", "task complete",
		}, got)
	})
}

// Step middleware wraps every handler, the first the outermost, sees the
// step, and may change its outcome.
func TestStepMiddlewareWrapsHandlers(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		var mu sync.Mutex
		var trace []string
		record := func(s string) { mu.Lock(); trace = append(trace, s); mu.Unlock() }
		named := func(name string) tasker.StepMiddleware {
			return tasker.StepMiddlewareFunc(func(ctx context.Context, s *tasker.StepContext, next func(context.Context) (any, error)) (any, error) {
				record(fmt.Sprintf("%s before %s#%d", name, s.Step.Name, s.Attempt))
				out, err := next(ctx)
				record(fmt.Sprintf("%s after %s err=%v", name, s.Step.Name, err != nil))
				return out, err
			})
		}
		rescue := tasker.StepMiddlewareFunc(func(ctx context.Context, s *tasker.StepContext, next func(context.Context) (any, error)) (any, error) {
			out, err := next(ctx)
			if err != nil && s.Step.Name == "flaky" {
				return map[string]string{"rescued": err.Error()}, nil
			}
			return out, err
		})
		e := newSeamEnv(t, nil, []tasker.StepMiddleware{named("outer"), named("inner"), rescue}, template("default", "mw", "1.0.0", stepDef{name: "flaky", limit: 1}))
		e.h.permanent["flaky"] = true
		task := e.create("mw", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State, "the middleware turned the failure into a result")
		require.JSONEq(t, `{"rescued":"flaky failed permanently"}`, string(e.steps(task.ID)["flaky"].Results))
		require.Equal(t, []string{"outer before flaky#1", "inner before flaky#1", "inner after flaky err=false", "outer after flaky err=false"}, trace)
	})
}

// NewClient refuses a configuration that makes no sense, naming each field.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	cfg := &tasker.Config{
		Worker:           tasker.WorkerConfig{Concurrency: -1, LeaseDuration: -1, Handlers: []string{""}, Passes: tasker.MaxWorkerPasses + 1},
		IdentityStrategy: "random",
		Backoff:          tasker.Backoff{Jitter: new(2.0)},
		Hooks:            []tasker.Hook{nil},
	}
	_, err := tasker.NewClient(t.Context(), openTestDriver(t), cfg)
	var ve *tasker.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Fields["Worker.Concurrency"], "is -1")
	require.Contains(t, ve.Fields["Worker.Passes"], "is 9; it must be 1 to 8")
	require.Contains(t, ve.Fields["Worker.LeaseDuration"], "must be positive")
	require.Contains(t, ve.Fields["Worker.Handlers[0]"], "is empty")
	require.Contains(t, ve.Fields["IdentityStrategy"], `"random" is unknown`)
	require.Contains(t, ve.Fields["Backoff"], "Jitter")
	require.Contains(t, ve.Fields["Hooks[0]"], "nil")
	require.NoError(t, (&tasker.Config{}).Validate(), "zero values mean the defaults")
}
