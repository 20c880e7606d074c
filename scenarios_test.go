package tasker_test

// Acceptance scenarios ported from the original engine's specs (spec section
// (a)). "Single pass" runs with the clock frozen until no step is ready;
// "to quiescence" advances the clock past every backoff until the task ends.
//
// Deliberate differences from the original (spec §17, docs/design.md):
//   - While a step waits for its retry, the task stays in_progress: there is
//     no re-enqueued task runner that parks the task in pending.
//   - A duplicate request under the hash identity returns the existing task
//     (HTTP 200) instead of failing.

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

func dummyTask() *tasker.TaskTemplate {
	return template("default", "dummy_task", "0.1.0",
		stepDef{name: "step-one"}, stepDef{name: "step-two"},
		stepDef{name: "step-three", deps: []string{"step-two"}}, stepDef{name: "step-four", deps: []string{"step-three"}})
}

func linearWorkflow() *tasker.TaskTemplate {
	return template("default", "linear_workflow", "1.0.0",
		stepDef{name: "initialize_data"},
		stepDef{name: "validate_input", deps: []string{"initialize_data"}},
		stepDef{name: "process_data", deps: []string{"validate_input"}},
		stepDef{name: "transform_results", deps: []string{"process_data"}},
		stepDef{name: "validate_output", deps: []string{"transform_results"}},
		stepDef{name: "finalize_workflow", deps: []string{"validate_output"}})
}

func diamondWorkflow() *tasker.TaskTemplate {
	return template("default", "diamond_workflow", "1.0.0",
		stepDef{name: "start_workflow"},
		stepDef{name: "branch_one_process", deps: []string{"start_workflow"}},
		stepDef{name: "branch_two_process", deps: []string{"start_workflow"}},
		stepDef{name: "branch_one_validate", deps: []string{"branch_one_process"}},
		stepDef{name: "branch_two_validate", deps: []string{"branch_two_process"}},
		stepDef{name: "merge_branches", deps: []string{"branch_one_validate", "branch_two_validate"}},
		stepDef{name: "end_workflow", deps: []string{"merge_branches"}})
}

func parallelMerge() *tasker.TaskTemplate {
	return template("default", "parallel_merge", "1.0.0",
		stepDef{name: "fetch_user_data"}, stepDef{name: "fetch_order_data"},
		stepDef{name: "fetch_inventory_data"}, stepDef{name: "fetch_pricing_data"},
		stepDef{name: "process_user_data", deps: []string{"fetch_user_data"}},
		stepDef{name: "process_order_data", deps: []string{"fetch_order_data"}},
		stepDef{name: "merge_all_data", deps: []string{"process_user_data", "process_order_data", "fetch_inventory_data", "fetch_pricing_data"}})
}

func treeWorkflow() *tasker.TaskTemplate {
	return template("default", "tree_workflow", "1.0.0",
		stepDef{name: "root_initialization"},
		stepDef{name: "branch_a_setup", deps: []string{"root_initialization"}},
		stepDef{name: "branch_b_setup", deps: []string{"root_initialization"}},
		stepDef{name: "branch_a_task_one", deps: []string{"branch_a_setup"}},
		stepDef{name: "branch_a_task_two", deps: []string{"branch_a_setup"}},
		stepDef{name: "branch_b_task_one", deps: []string{"branch_b_setup"}},
		stepDef{name: "branch_b_task_two", deps: []string{"branch_b_setup"}},
		stepDef{name: "aggregate_results", deps: []string{"branch_a_task_one", "branch_a_task_two", "branch_b_task_one", "branch_b_task_two"}})
}

func mixedDAG() *tasker.TaskTemplate {
	return template("default", "mixed_dag", "1.0.0",
		stepDef{name: "init_auth"}, stepDef{name: "init_config"},
		stepDef{name: "validate_permissions", deps: []string{"init_auth"}},
		stepDef{name: "setup_environment", deps: []string{"init_config"}},
		stepDef{name: "begin_processing", deps: []string{"validate_permissions", "setup_environment"}},
		stepDef{name: "process_critical_data", deps: []string{"begin_processing"}},
		stepDef{name: "process_optional_data", deps: []string{"begin_processing"}},
		stepDef{name: "cleanup_temp_files", deps: []string{"setup_environment"}},
		stepDef{name: "finalize_and_report", deps: []string{"process_critical_data", "cleanup_temp_files"}})
}

// Scenario 1: initial readiness of DummyTask.
func TestScenario01InitialReadiness(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, dummyTask())
		task := e.create("dummy_task", nil)
		e.expect(task.ID, map[string]stepWant{"step-one": pending(0), "step-two": pending(0), "step-three": pending(0), "step-four": pending(0)})
		ec, err := e.client.TaskExecutionContext(e.ctx, task.ID)
		require.NoError(t, err)
		var ready []string
		for _, s := range ec.Steps {
			if s.Ready {
				ready = append(ready, s.Name)
			}
		}
		require.Equal(t, []string{"step-one", "step-two"}, ready)
		require.Equal(t, 4, ec.Pending)
		require.Equal(t, 2, ec.Ready)
		require.Equal(t, "has_ready_steps", ec.ExecutionStatus)
		require.Equal(t, "execute_ready_steps", ec.RecommendedAction)
		require.Equal(t, "healthy", ec.HealthStatus)
		require.InDelta(t, 0.0, ec.CompletionPercentage, 0)
	})
}

// Scenario 2: DummyTask happy path.
func TestScenario02HappyPath(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, dummyTask())
		task := e.create("dummy_task", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		steps := e.steps(task.ID)
		for _, s := range steps {
			require.Equal(t, taskertype.StateComplete, s.State)
			require.Equal(t, 1, s.Attempts)
			require.True(t, s.Processed())
			require.False(t, s.ProcessedAt.IsZero())
		}
		require.Empty(t, steps["step-one"].ParentIDs)
		require.Len(t, steps["step-two"].ChildIDs, 1)
		require.Equal(t, []int64{steps["step-two"].ID}, steps["step-three"].ParentIDs)
		require.Equal(t, []int64{steps["step-three"].ID}, steps["step-four"].ParentIDs)
		e.checkAudit(task.ID)
	})
}

// Scenario 3: the two roots run at the same time; step-three starts only
// after both ended. Each root waits until the other has started (a barrier),
// which can only finish if they overlap.
func TestScenario03Concurrency(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "concurrent", "1.0.0",
			stepDef{name: "step-one"}, stepDef{name: "step-two"}, stepDef{name: "step-three", deps: []string{"step-one", "step-two"}})
		e := newEnv(t, tmpl)
		var started sync.WaitGroup
		started.Add(2)
		var mu sync.Mutex
		ended := map[string]bool{}
		var threeSawBothEnded bool
		e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
			switch s.Step.Name {
			case "step-one", "step-two":
				started.Done()
				waited := make(chan struct{})
				go func() { started.Wait(); close(waited) }()
				select {
				case <-waited:
				case <-time.After(10 * time.Second):
					t.Errorf("%s never overlapped with its sibling", s.Step.Name)
				}
				mu.Lock()
				ended[s.Step.Name] = true
				mu.Unlock()
			case "step-three":
				mu.Lock()
				threeSawBothEnded = ended["step-one"] && ended["step-two"]
				mu.Unlock()
			}
		}
		task := e.create("concurrent", nil)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		require.True(t, threeSawBothEnded)
	})
}

// Scenarios 4 and 5: linear workflow, process_data fails once.
func TestScenario04And05Linear(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, linearWorkflow())
		e.h.fails["process_data"] = 1
		task := e.create("linear_workflow", nil)

		e.singlePass()
		e.expect(task.ID, map[string]stepWant{
			"initialize_data": complete(1), "validate_input": complete(1), "process_data": failed(1),
			"transform_results": pending(0), "validate_output": pending(0), "finalize_workflow": pending(0),
		})
		require.Equal(t, 3, e.steps(task.ID)["process_data"].RetryLimit)
		// Differs from the original (task pending): the task stays in_progress.
		require.Equal(t, taskertype.StateInProgress, e.task(task.ID).State)
		ec, err := e.client.TaskExecutionContext(e.ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, "waiting_for_dependencies", ec.ExecutionStatus)
		require.Equal(t, "recovering", ec.HealthStatus)
		require.Equal(t, 1, ec.Failed)

		final := e.quiesce(task.ID)
		require.Equal(t, taskertype.StateComplete, final.State)
		e.expect(task.ID, map[string]stepWant{
			"initialize_data": complete(1), "validate_input": complete(1), "process_data": complete(2),
			"transform_results": complete(1), "validate_output": complete(1), "finalize_workflow": complete(1),
		})
		tr, err := e.client.StepTransitions(e.ctx, task.ID, e.steps(task.ID)["process_data"].ID)
		require.NoError(t, err)
		var sawRetry bool
		for _, x := range tr {
			sawRetry = sawRetry || (x.FromState == taskertype.StateError && x.ToState == taskertype.StatePending)
		}
		require.True(t, sawRetry, "process_data went error → pending")
		e.checkAudit(task.ID)
	})
}

// Scenario 6: retry exhaustion.
func TestScenario06RetryExhaustion(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, linearWorkflow())
		e.h.fails["process_data"] = 5
		events, unsub := e.client.Subscribe("task.failed")
		defer unsub()
		task := e.create("linear_workflow", nil)
		e.singlePass()
		e.expect(task.ID, map[string]stepWant{"process_data": failed(1)})
		require.Equal(t, taskertype.StateInProgress, e.task(task.ID).State)

		final := e.quiesce(task.ID)
		require.Equal(t, taskertype.StateError, final.State)
		require.Equal(t, 3, e.h.Calls("process_data"))
		e.expect(task.ID, map[string]stepWant{
			"process_data": failed(3), "transform_results": pending(0), "validate_output": pending(0), "finalize_workflow": pending(0),
		})
		ec, err := e.client.TaskExecutionContext(e.ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, "blocked_by_failures", ec.ExecutionStatus)
		require.Equal(t, "handle_failures", ec.RecommendedAction)
		require.Equal(t, "blocked", ec.HealthStatus)
		select {
		case ev := <-events:
			require.Equal(t, "task.failed", ev.Name)
			require.Equal(t, task.ID, ev.Task.ID)
		default:
			t.Fatal("no task.failed event")
		}
		tr, err := e.client.TaskTransitions(e.ctx, task.ID)
		require.NoError(t, err)
		require.Contains(t, string(tr[len(tr)-1].Metadata), "steps_in_error_state")
		e.checkAudit(task.ID)
	})
}

// retryScenario runs a workflow whose handler fails some steps a few times:
// one single pass, then to quiescence, checking the steps after each.
type retryScenario struct {
	name      string
	tmpl      func() *tasker.TaskTemplate
	fails     map[string]int      // step name → failures before success
	afterPass map[string]stepWant // nil: no single pass first
	passState taskertype.State    // the task's state after the pass, when set
	final     taskertype.State
	atEnd     map[string]stepWant
	check     func(t *testing.T, e *env, taskID int64) // optional, after the end
}

// Scenarios 7 to 15.
func TestScenarios07To15RetryToEnd(t *testing.T) {
	t.Parallel()
	for _, sc := range []retryScenario{
		{
			// Scenarios 7 and 8: diamond, both process branches fail once.
			name: "07And08Diamond", tmpl: diamondWorkflow,
			fails: map[string]int{"branch_one_process": 1, "branch_two_process": 1},
			afterPass: map[string]stepWant{
				"start_workflow": complete(1), "branch_one_process": failed(1), "branch_two_process": failed(1),
				"branch_one_validate": pending(0), "branch_two_validate": pending(0), "merge_branches": pending(0), "end_workflow": pending(0),
			},
			final: taskertype.StateComplete,
			atEnd: map[string]stepWant{
				"start_workflow": complete(1), "branch_one_process": complete(2), "branch_two_process": complete(2),
				"branch_one_validate": complete(1), "branch_two_validate": complete(1), "merge_branches": complete(1), "end_workflow": complete(1),
			},
			check: func(t *testing.T, e *env, _ int64) {
				order := e.h.order
				idx := func(name string) int {
					for i, n := range order {
						if n == name {
							return i
						}
					}
					return -1
				}
				require.Greater(t, idx("merge_branches"), idx("branch_one_validate"))
				require.Greater(t, idx("merge_branches"), idx("branch_two_validate"))
				require.Equal(t, "end_workflow", order[len(order)-1])
			},
		},
		{
			// Scenario 9: the convergence step fails once.
			name: "09DiamondConvergenceFailsOnce", tmpl: diamondWorkflow,
			fails:     map[string]int{"merge_branches": 1},
			afterPass: map[string]stepWant{"merge_branches": failed(1), "end_workflow": pending(0)},
			final:     taskertype.StateComplete,
			atEnd:     map[string]stepWant{"merge_branches": complete(2), "end_workflow": complete(1)},
		},
		{
			// Scenario 10: one branch fails permanently (exhausts its
			// attempts); the other branch still finishes and the task ends
			// in error.
			name: "10DiamondPermanentBranchFailure", tmpl: diamondWorkflow,
			fails:     map[string]int{"branch_one_process": 5},
			afterPass: map[string]stepWant{"merge_branches": pending(0)},
			passState: taskertype.StateInProgress,
			final:     taskertype.StateError,
			atEnd: map[string]stepWant{
				"branch_one_process": failed(3), "branch_two_process": complete(1), "branch_two_validate": complete(1),
				"branch_one_validate": pending(0), "merge_branches": pending(0), "end_workflow": pending(0),
			},
			check: func(t *testing.T, e *env, taskID int64) {
				for _, name := range []string{"branch_one_validate", "merge_branches", "end_workflow"} {
					require.False(t, e.steps(taskID)[name].Processed())
				}
			},
		},
		{
			// Scenarios 11 and 12: parallel merge.
			name: "11And12ParallelMerge", tmpl: parallelMerge,
			fails: map[string]int{"fetch_order_data": 1, "fetch_inventory_data": 1, "merge_all_data": 1},
			afterPass: map[string]stepWant{
				"fetch_user_data": complete(1), "fetch_pricing_data": complete(1), "process_user_data": complete(1),
				"fetch_order_data": failed(1), "fetch_inventory_data": failed(1), "process_order_data": pending(0), "merge_all_data": pending(0),
			},
			final: taskertype.StateComplete,
			atEnd: map[string]stepWant{
				"fetch_user_data": complete(1), "fetch_pricing_data": complete(1), "process_user_data": complete(1), "process_order_data": complete(1),
				"fetch_order_data": complete(2), "fetch_inventory_data": complete(2), "merge_all_data": complete(2),
			},
		},
		{
			// Scenario 13: tree.
			name: "13Tree", tmpl: treeWorkflow,
			fails: map[string]int{"branch_b_setup": 1, "branch_a_task_two": 1, "branch_b_task_two": 1},
			afterPass: map[string]stepWant{
				"root_initialization": complete(1), "branch_a_setup": complete(1), "branch_a_task_one": complete(1),
				"branch_b_setup": failed(1), "branch_a_task_two": failed(1),
				"branch_b_task_one": pending(0), "branch_b_task_two": pending(0), "aggregate_results": pending(0),
			},
			final: taskertype.StateComplete,
			atEnd: map[string]stepWant{
				"root_initialization": complete(1), "branch_a_setup": complete(1), "branch_a_task_one": complete(1), "branch_b_task_one": complete(1),
				"branch_b_setup": complete(2), "branch_a_task_two": complete(2), "branch_b_task_two": complete(2), "aggregate_results": complete(1),
			},
		},
		{
			// Scenario 14: mixed DAG; process_critical_data succeeds exactly
			// at its limit.
			name: "14MixedDAG", tmpl: mixedDAG,
			fails: map[string]int{"validate_permissions": 1, "setup_environment": 1, "process_critical_data": 2},
			afterPass: map[string]stepWant{
				"init_auth": complete(1), "init_config": complete(1), "validate_permissions": failed(1), "setup_environment": failed(1),
			},
			final: taskertype.StateComplete,
			atEnd: map[string]stepWant{
				"process_critical_data": complete(3), "validate_permissions": complete(2), "setup_environment": complete(2),
				"finalize_and_report": complete(1), "begin_processing": complete(1), "process_optional_data": complete(1), "cleanup_temp_files": complete(1),
			},
			check: func(t *testing.T, e *env, _ int64) { require.Equal(t, 1, e.h.Calls("finalize_and_report")) },
		},
		{
			// Scenario 15: ConfigurableFailureTask, run to its end at once.
			name: "15ConfigurableFailures",
			tmpl: func() *tasker.TaskTemplate {
				return template("default", "configurable_failure_task", "1.0.0",
					stepDef{name: "reliable_step"}, stepDef{name: "flaky_step", deps: []string{"reliable_step"}},
					stepDef{name: "timeout_step", deps: []string{"flaky_step"}}, stepDef{name: "idempotent_step", deps: []string{"timeout_step"}})
			},
			fails: map[string]int{"flaky_step": 2, "timeout_step": 1},
			final: taskertype.StateComplete,
			atEnd: map[string]stepWant{
				"reliable_step": complete(1), "flaky_step": complete(3), "timeout_step": complete(2), "idempotent_step": complete(1),
			},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			eachDriver(t, func(t *testing.T) {
				tmpl := sc.tmpl()
				e := newEnv(t, tmpl)
				maps.Copy(e.h.fails, sc.fails)
				task := e.create(tmpl.Name, nil)
				if sc.afterPass != nil {
					e.singlePass()
					e.expect(task.ID, sc.afterPass)
				}
				if sc.passState != "" {
					require.Equal(t, sc.passState, e.task(task.ID).State)
				}
				require.Equal(t, sc.final, e.quiesce(task.ID).State)
				e.expect(task.ID, sc.atEnd)
				if sc.check != nil {
					sc.check(t, e, task.ID)
				}
				e.checkAudit(task.ID)
			})
		})
	}
}

// Scenario 16: backoff gating: +2 s after the first failure, +4 s after the
// second, capped at 30 s.
func TestScenario16BackoffGating(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "backoff", "1.0.0", stepDef{name: "flaky", limit: 10})
		e := newEnv(t, tmpl)
		e.h.fails["flaky"] = 9
		task := e.create("backoff", nil)
		want := []time.Duration{2, 4, 8, 16, 30, 30}
		for i, w := range want {
			failedAt := e.clock.Now()
			e.singlePass()
			s := e.steps(task.ID)["flaky"]
			require.Equal(t, i+1, s.Attempts)
			require.Equal(t, taskertype.StateError, s.State)
			require.Equal(t, failedAt.Add(w*time.Second), s.NextAttemptAt, "after failure %d", i+1)
			ec, err := e.client.TaskExecutionContext(e.ctx, task.ID)
			require.NoError(t, err)
			r := ec.Steps[0]
			require.False(t, r.Ready)
			require.Equal(t, "waiting_for_backoff", r.BlockingReason)
			require.True(t, r.RetryEligible)
			require.Equal(t, w*time.Second, r.TimeUntilReady)
			// Not ready one tick before the backoff elapses.
			e.clock.Advance(w*time.Second - time.Millisecond)
			e.singlePass()
			require.Equal(t, i+1, e.steps(task.ID)["flaky"].Attempts)
			e.clock.Advance(time.Millisecond)
		}
	})
}

// Scenarios 17 and 18: an explicit (server-requested) delay wins over the
// exponential backoff and is capped at 300 s. Each step waits for its own
// delay; differs from the original, which re-enqueued the whole task after
// the largest delay.
func TestScenario17And18ExplicitBackoff(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("default", "explicit", "1.0.0", stepDef{name: "a"}, stepDef{name: "b"}, stepDef{name: "c"})
		e := newEnv(t, tmpl)
		delays := map[string]time.Duration{"a": 60 * time.Second, "b": 180 * time.Second, "c": time.Hour}
		e.h.hook = func(_ context.Context, s *tasker.StepContext) {}
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			if s.Attempt == 1 {
				return nil, tasker.RetryAfter(errTest, delays[s.Step.Name])
			}
			return "ok", nil
		}), true))
		task := e.create("explicit", nil)
		start := e.clock.Now()
		e.singlePass()
		steps := e.steps(task.ID)
		require.Equal(t, start.Add(60*time.Second), steps["a"].NextAttemptAt)
		require.Equal(t, start.Add(180*time.Second), steps["b"].NextAttemptAt)
		require.Equal(t, start.Add(300*time.Second), steps["c"].NextAttemptAt, "capped at max_requested")
		require.Equal(t, 120*time.Second+60*time.Second, steps["b"].NextAttemptAt.Sub(start))
		e.clock.Advance(60 * time.Second)
		e.singlePass()
		e.expect(task.ID, map[string]stepWant{"a": complete(2), "b": failed(1), "c": failed(1)})
		e.clock.Advance(240 * time.Second)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
	})
}

// Scenario 19: a complete step is never ready.
func TestScenario19ProcessedStepNeverReady(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, dummyTask())
		task := e.create("dummy_task", nil)
		e.singlePass()
		ec, err := e.client.TaskExecutionContext(e.ctx, task.ID)
		require.NoError(t, err)
		for _, s := range ec.Steps {
			require.False(t, s.Ready)
			require.Equal(t, "invalid_state", s.BlockingReason)
		}
		e.singlePass()
		for _, s := range e.steps(task.ID) {
			require.Equal(t, 1, s.Attempts)
		}
	})
}

// Scenario 20: illegal state changes are refused through the API and the
// audit trail keeps one most recent row per entity.
func TestScenario20StateLegality(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, dummyTask())
		task := e.create("dummy_task", nil)
		steps := e.steps(task.ID)
		_, err := e.client.ResolveStep(e.ctx, steps["step-one"].ID, nil, "")
		require.NoError(t, err, "pending → resolved_manually is allowed")
		_, err = e.client.ResolveStep(e.ctx, steps["step-one"].ID, nil, "")
		require.ErrorIs(t, err, tasker.ErrInvalidState, "a transition to the current state is refused")
		_, err = e.client.RetryTask(e.ctx, task.ID)
		require.ErrorIs(t, err, tasker.ErrInvalidState, "only a task in error can be retried")
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		_, err = e.client.CancelTask(e.ctx, task.ID, "")
		require.ErrorIs(t, err, tasker.ErrInvalidState, "a complete task cannot be cancelled")
		e.checkAudit(task.ID)
	})
}

// Scenario 22: namespaces and versions.
func TestScenario22NamespacesAndVersions(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		payments := template("payments", "process_refund", "2.1.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}},
			stepDef{name: "c", deps: []string{"b"}}, stepDef{name: "d", deps: []string{"c"}})
		cs := template("customer_success", "process_refund", "1.3.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}},
			stepDef{name: "c", deps: []string{"b"}}, stepDef{name: "d", deps: []string{"c"}}, stepDef{name: "e", deps: []string{"d"}})
		testing1 := dummyTask()
		testing1.Namespace, testing1.Version = "testing", "1.0.0"
		e := newEnv(t, payments, cs, testing1, dummyTask())
		p := e.createIn("payments", "process_refund", "2.1.0")
		c := e.createIn("customer_success", "process_refund", "")
		require.Len(t, e.steps(p.ID), 4)
		require.Len(t, e.steps(c.ID), 5)
		require.Equal(t, "customer_success.process_refund@1.3.0", c.FullName())
		d := e.createIn("testing", "dummy_task", "1.0.0")
		require.Equal(t, "testing.dummy_task@1.0.0", d.FullName())
		require.Equal(t, []string{"customer_success", "default", "payments", "testing"}, e.reg.Namespaces())

		err := e.reg.RegisterTemplate(template("payments", "process_refund", "2.1.0", stepDef{name: "x"}), tasker.RegisterOptions{})
		require.ErrorContains(t, err, "payments.process_refund@2.1.0 is already registered; bump the version, or register with Replace to replace it")
		require.NoError(t, e.reg.RegisterTemplate(template("payments", "process_refund", "2.1.0", stepDef{name: "x"}), tasker.RegisterOptions{Replace: true}))
		require.NoError(t, e.reg.RegisterTemplate(template("payments", "process_refund", "2.10.0", stepDef{name: "x"}), tasker.RegisterOptions{}))
		latest, err := e.reg.Template("payments", "process_refund", "latest")
		require.NoError(t, err)
		require.Equal(t, "2.10.0", latest.Version, "latest compares versions numerically")
		require.Equal(t, []string{"2.1.0", "2.10.0"}, e.reg.Versions("payments", "process_refund"))

		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "dummy_task", Namespace: "nonexistent", Version: "1.0.0"})
		require.ErrorIs(t, err, tasker.ErrNotFound)
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "dummy_task", Namespace: "testing", Version: "9.9.9"})
		require.ErrorIs(t, err, tasker.ErrNotFound)
		require.ErrorContains(t, err, `no version "9.9.9" of task template testing.dummy_task`)
	})
}

// Scenario 23: hash identity.
func TestScenario23Identity(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		hashed := dummyTask()
		hashed.Name, hashed.IdentityStrategy = "hashed", tasker.IdentityHash
		e := newEnv(t, hashed, dummyTask())
		req := func(ctx string, initiator string) *tasker.TaskRequest {
			return &tasker.TaskRequest{Name: "hashed", Context: ctx, Initiator: initiator, SourceSystem: "s", Reason: "r"}
		}
		first, err := e.client.CreateTask(e.ctx, req(`{"a":1,"b":2}`, "me"))
		require.NoError(t, err)
		require.Regexp(t, `^[0-9a-f]{64}$`, first.Task.IdentityHash)
		second, err := e.client.CreateTask(e.ctx, req(`{"b": 2, "a": 1}`, "me"))
		require.NoError(t, err)
		require.True(t, second.Duplicate, "same request (key order and spacing aside) is the same task")
		require.Equal(t, first.Task.ID, second.Task.ID)
		other, err := e.client.CreateTask(e.ctx, req(`{"a":1,"b":2}`, "someone else"))
		require.NoError(t, err)
		require.False(t, other.Duplicate)
		require.NotEqual(t, first.Task.IdentityHash, other.Task.IdentityHash)
		a, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "dummy_task"})
		require.NoError(t, err)
		b, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "dummy_task"})
		require.NoError(t, err)
		require.NotEqual(t, a.Task.ID, b.Task.ID, "the default strategy never collides")
	})
}

// Scenario 26: data pipeline; a permanent failure stops at once.
func TestScenario26DataPipeline(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		pipeline := func() *tasker.TaskTemplate {
			return template("default", "data_pipeline", "1.0.0",
				stepDef{name: "extract_orders"}, stepDef{name: "extract_users", limit: 5}, stepDef{name: "extract_products"},
				stepDef{name: "transform_customer_metrics", deps: []string{"extract_orders", "extract_users"}, limit: 2},
				stepDef{name: "transform_product_metrics", deps: []string{"extract_orders", "extract_products"}, limit: 2},
				stepDef{name: "generate_insights", deps: []string{"transform_customer_metrics", "transform_product_metrics"}},
				stepDef{name: "update_dashboard", deps: []string{"generate_insights"}},
				stepDef{name: "send_notifications", deps: []string{"update_dashboard"}, limit: 5})
		}
		t.Run("happy", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, pipeline())
			task := e.create("data_pipeline", nil)
			e.singlePass()
			require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
			require.Len(t, e.steps(task.ID), 8)
		})
		t.Run("permanent", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, pipeline())
			e.h.permanent["update_dashboard"] = true
			task := e.create("data_pipeline", nil)
			e.singlePass()
			require.Equal(t, taskertype.StateError, e.task(task.ID).State, "no retry of a permanent error: the task fails in one pass")
			e.expect(task.ID, map[string]stepWant{"update_dashboard": failed(1), "send_notifications": pending(0), "generate_insights": complete(1)})
			require.Equal(t, 1, e.h.Calls("update_dashboard"))
			s := e.steps(task.ID)["update_dashboard"]
			require.True(t, s.Blocked)
			require.Equal(t, "permanent", s.LastError.Kind)
			done := 0
			for _, s := range e.steps(task.ID) {
				if s.State == taskertype.StateComplete {
					done++
				}
			}
			require.Equal(t, 6, done)
		})
	})
}

// Scenario 27: microservices registration.
func TestScenario27Microservices(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "user_registration", "1.0.0",
			stepDef{name: "create_user_account"},
			stepDef{name: "setup_billing_profile", deps: []string{"create_user_account"}},
			stepDef{name: "initialize_preferences", deps: []string{"create_user_account"}},
			stepDef{name: "send_welcome_sequence", deps: []string{"setup_billing_profile", "initialize_preferences"}, limit: 5},
			stepDef{name: "update_user_status", deps: []string{"send_welcome_sequence"}, limit: 2}))
		e.h.fails["update_user_status"] = 1
		task := e.create("user_registration", nil)
		e.singlePass()
		e.expect(task.ID, map[string]stepWant{
			"create_user_account": complete(1), "setup_billing_profile": complete(1), "initialize_preferences": complete(1),
			"send_welcome_sequence": complete(1), "update_user_status": failed(1),
		})
		order := e.h.order
		require.Equal(t, "create_user_account", order[0])
		require.ElementsMatch(t, []string{"setup_billing_profile", "initialize_preferences"}, order[1:3])
		require.Equal(t, "send_welcome_sequence", order[3])
		require.Equal(t, taskertype.StateInProgress, e.task(task.ID).State)
	})
}

// Scenario 28: template analysis, and a cycle rejected with its path.
func TestScenario28TemplateAnalysis(t *testing.T) {
	t.Parallel()
	an := diamondWorkflow().Analyze()
	require.Equal(t, "start_workflow", an.Topology[0])
	require.Equal(t, map[string]int{"start_workflow": 0, "branch_one_process": 1, "branch_two_process": 1,
		"branch_one_validate": 2, "branch_two_validate": 2, "merge_branches": 3, "end_workflow": 4}, an.Levels)
	require.Equal(t, []string{"start_workflow"}, an.Roots)
	require.Equal(t, []string{"end_workflow"}, an.Leaves)
	require.Equal(t, 2, an.Summary.ParallelBranches)
	require.False(t, an.Summary.HasCycles)

	cyclic := template("default", "cyclic", "1.0.0", stepDef{name: "a", deps: []string{"c"}}, stepDef{name: "b", deps: []string{"a"}}, stepDef{name: "c", deps: []string{"b"}})
	can := cyclic.Analyze()
	require.NotEmpty(t, can.Cycles)
	require.Empty(t, can.Topology)
	err := tasker.NewRegistry().RegisterTemplate(cyclic, tasker.RegisterOptions{AllowUnknownHandlers: true})
	require.ErrorContains(t, err, "dependency cycle: a -> b -> c -> a; remove one of these dependencies")
}
