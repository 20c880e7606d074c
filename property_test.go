package tasker_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// randomStep is one step of a random workflow and how its handler behaves.
type randomStep struct {
	name      string
	parents   []int // indices of earlier steps
	fails     int   // failures before the handler succeeds
	permanent bool  // the handler fails with a PermanentError
	limit     int   // retry limit (maximum total attempts)
}

// randomDAG builds a random workflow of n steps; each step depends
// on 0-3 distinct earlier steps. failRate is the chance that a step fails at
// least once (a fifth of those fail permanently).
func randomDAG(r *rand.Rand, n int, failRate float64) []randomStep {
	steps := make([]randomStep, n)
	for i := range steps {
		s := randomStep{name: fmt.Sprintf("s%03d", i), limit: 1 + r.IntN(4)}
		if i > 0 {
			k := min(r.IntN(4), i)
			s.parents = append(s.parents, r.Perm(i)[:k]...)
		}
		if r.Float64() < failRate {
			if r.IntN(5) == 0 {
				s.permanent = true
			} else {
				s.fails = 1 + r.IntN(4)
			}
		}
		steps[i] = s
	}
	return steps
}

// modelOutcome is the expected end of a random workflow, computed without
// the engine: for each step its final state and attempt count, and the task's
// final state.
func modelOutcome(steps []randomStep) ([]stepWant, taskertype.State) {
	want := make([]stepWant, len(steps))
	ok := make([]bool, len(steps)) // the step succeeded
	taskState := taskertype.StateComplete
	for i, s := range steps { // parents always precede their children
		runs := true
		for _, p := range s.parents {
			runs = runs && ok[p]
		}
		switch {
		case !runs:
			want[i] = pending(0)
		case s.permanent:
			want[i] = failed(1)
		case s.fails+1 <= s.limit:
			want[i] = complete(s.fails + 1)
			ok[i] = true
		default:
			want[i] = failed(s.limit)
		}
		if !ok[i] {
			taskState = taskertype.StateError
		}
	}
	return want, taskState
}

// TestPropertyRandomDAGs runs random workflows with random failures and retry
// limits to the end and compares every step, the task and the handler calls
// with an independent model. It also checks in the handler that no step
// starts before all of its parents are complete.
func TestPropertyRandomDAGs(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		const seeds, maxSteps = 60, 200
		// -short skips the workflows above 40 steps (seed 0 included).
		sizeCap := maxSteps
		if testing.Short() {
			sizeCap = 40
		}
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 0x7a5c3e))
				// Sizes are log-uniform over 1..maxSteps: mostly small
				// workflows, a few large ones.
				n := min(max(int(math.Exp(r.Float64()*math.Log(maxSteps+1))), 1), maxSteps)
				if seed == 0 {
					n = maxSteps
				}
				failRate := []float64{0, 0.05, 0.15, 0.4}[r.IntN(4)]
				steps := randomDAG(r, n, failRate)
				if n > sizeCap && (seed != 0 || testing.Short()) {
					t.Skipf("seed %d: %d steps; workflows above %d steps run without -short", seed, n, sizeCap)
				}
				t.Parallel()
				t.Logf("seed %d: %d steps, fail rate %.2f (reproduce: go test -run 'TestPropertyRandomDAGs/seed=%d$')", seed, len(steps), failRate, seed)

				tmpl := &tasker.TaskTemplate{Name: "random_dag", Version: "1.0.0"}
				for _, s := range steps {
					st := tasker.StepTemplate{Name: s.name, Handler: "test", RetryLimit: s.limit}
					for _, p := range s.parents {
						st.DependsOn = append(st.DependsOn, steps[p].name)
					}
					tmpl.Steps = append(tmpl.Steps, st)
				}
				e := newEnv(t, tmpl)
				for _, s := range steps {
					e.h.fails[s.name] = s.fails
					e.h.permanent[s.name] = s.permanent
				}

				// The handler checks that every parent is done when it starts. It
				// runs on worker goroutines: record violations, assert afterwards.
				var mu sync.Mutex
				var violations []string
				e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
					for _, pid := range s.Step.ParentIDs {
						p, err := e.client.GetStep(ctx, pid)
						mu.Lock()
						switch {
						case err != nil:
							violations = append(violations, fmt.Sprintf("%s: get parent %d: %v", s.Step.Name, pid, err))
						case !p.State.Done():
							violations = append(violations, fmt.Sprintf("%s (attempt %d) started while its parent %s is %s", s.Step.Name, s.Attempt, p.Name, p.State))
						}
						mu.Unlock()
					}
				}

				task := e.create("random_dag", nil)
				// Each pass runs with the clock frozen until nothing is ready; the
				// clock then jumps past every backoff (at most 30 s). Every pass
				// but the last finishes at least one attempt, so 5 passes per step
				// are plenty.
				var final *tasker.Task
				for range 5*len(steps) + 10 {
					e.singlePass()
					if final = e.task(task.ID); final.State.Final() {
						break
					}
					e.clock.Advance(31 * time.Second)
				}
				require.True(t, final.State.Final(), "seed %d: task did not finish: %s", seed, final.State)

				mu.Lock()
				require.Empty(t, violations, "seed %d", seed)
				mu.Unlock()

				want, wantTask := modelOutcome(steps)
				got := e.steps(task.ID)
				require.Len(t, got, len(steps), "seed %d", seed)
				for i, s := range steps {
					g := got[s.name]
					require.NotNil(t, g, "seed %d: step %s", seed, s.name)
					require.Equal(t, want[i].state, g.State, "seed %d: state of %s (%+v)", seed, s.name, s)
					require.Equal(t, want[i].attempts, g.Attempts, "seed %d: attempts of %s (%+v)", seed, s.name, s)
					require.Equal(t, want[i].attempts, e.h.Calls(s.name), "seed %d: handler calls of %s (%+v)", seed, s.name, s)
					require.Equal(t, s.limit, g.RetryLimit, "seed %d: retry limit of %s", seed, s.name)
					switch g.State {
					case taskertype.StateError:
						require.True(t, g.Blocked, "seed %d: failed step %s is blocked", seed, s.name)
						require.NotNil(t, g.LastError, "seed %d: %s", seed, s.name)
						if s.permanent {
							require.Equal(t, "permanent", g.LastError.Kind, "seed %d: %s", seed, s.name)
						} else {
							require.Equal(t, "retryable", g.LastError.Kind, "seed %d: %s", seed, s.name)
						}
					case taskertype.StateComplete:
						require.JSONEq(t, fmt.Sprintf(`{"step": %q, "attempt": %d}`, s.name, s.fails+1), string(g.Results), "seed %d: %s", seed, s.name)
					case taskertype.StatePending:
						require.False(t, g.Blocked, "seed %d: %s", seed, s.name)
						require.Nil(t, g.LastError, "seed %d: %s", seed, s.name)
					}
				}
				require.Equal(t, wantTask, final.State, "seed %d: task state", seed)
				if len(steps) <= 30 {
					e.checkAudit(task.ID)
				}
			})
		}
	})
}
