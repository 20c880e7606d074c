package taskerdrivertest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// steps exercises steps: claims, leases, queues and wake-ups; recording attempts; state changes.
func (s *suite) steps(t *testing.T) {
	// Steps and claims: readiness, limits, queues, leases and wake-ups.

	s.run(t, "ClaimFollowsDependencies", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "h1")
		cs := claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"a"}, names(cs))
		require.Equal(t, 1, cs[0].Step.Attempts)
		require.Equal(t, taskertype.StateInProgress, cs[0].Step.State)
		require.Equal(t, "w1", cs[0].Step.LeaseOwner)
		require.Equal(t, res.Task.ID, cs[0].Task.ID)
		require.Equal(t, taskertype.StateInProgress, cs[0].Task.State)
		require.True(t, cs[0].TaskStarted)
		require.Equal(t, base, cs[0].Task.UpdatedAt, "the task as the claim left it")
		require.JSONEq(t, `{"n":1}`, string(cs[0].Task.Context))
		require.Empty(t, cs[0].Dependencies)
		require.Equal(t, 2, cs[0].Children, "b and c depend on a")
		require.Empty(t, claim(t, b, base, "w2", 10), "nothing else is ready")

		r := complete(t, b, cs[0], "w1", base)
		require.Equal(t, 2, r.ChildrenReady)
		require.Equal(t, taskertype.StateComplete, r.Step.State)
		require.Equal(t, base, r.Step.ProcessedAt)

		cs = claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"b", "c"}, names(cs))
		require.False(t, cs[0].TaskStarted, "the task was already in progress")
		for _, c := range cs {
			require.JSONEq(t, `{"from":"a"}`, string(c.Dependencies["a"]))
			// Every claimed step carries its whole task, however the driver
			// reads it (PostgreSQL sends the context once per task).
			require.Equal(t, res.Task.ID, c.Task.ID)
			require.JSONEq(t, `{"n":1}`, string(c.Task.Context), "step %s", c.Step.Name)
			require.Equal(t, []string{"x", "y"}, c.Task.Tags, "step %s", c.Step.Name)
			require.Equal(t, taskertype.StateInProgress, c.Task.State)
			require.Equal(t, 1, c.Children, "d depends on %s", c.Step.Name)
		}
		require.Empty(t, claim(t, b, base, "w1", 10))
		complete(t, b, cs[0], "w1", base)
		require.Empty(t, claim(t, b, base, "w1", 10), "d waits for both parents")
		r = complete(t, b, cs[1], "w1", base)
		require.Equal(t, 1, r.ChildrenReady)
		cs = claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"d"}, names(cs))
		require.Len(t, cs[0].Dependencies, 2)
		require.Zero(t, cs[0].Children, "d is a leaf")

		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 2)
		require.Equal(t, taskertype.StateInProgress, tt[1].ToState)
		require.JSONEq(t, `{"reason":"steps_claimed"}`, string(tt[1].Metadata), "the claim's start of the task")
		require.Equal(t, 10, tt[1].SortKey)
	})

	s.run(t, "ClaimReadyAt", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		cs := claim(t, b, base.Add(time.Second), "w", 10)
		require.Equal(t, []string{"a"}, names(cs))
		require.Equal(t, base, cs[0].ReadyAt, "a root step is ready from its creation")

		complete(t, b, cs[0], "w", base.Add(2*time.Second))
		cs = claim(t, b, base.Add(5*time.Second), "w", 10)
		require.Equal(t, []string{"b", "c"}, names(cs))
		for _, c := range cs {
			require.Equal(t, base.Add(2*time.Second), c.ReadyAt, "a child is ready from its last parent's completion")
		}
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: cs[0].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "x"}, NextAttemptAt: base.Add(time.Minute), Now: base.Add(6 * time.Second)})
		require.NoError(t, err)
		retry := claim(t, b, base.Add(2*time.Minute), "w", 10)
		require.Len(t, retry, 1)
		require.Equal(t, base.Add(time.Minute), retry[0].ReadyAt, "a retry is ready from its retry time")
	})

	s.run(t, "ClaimRespectsLimitAndHandlers", func(t *testing.T, b *bundle) {
		for range 3 {
			diamond(t, b, "")
		}
		first := claim(t, b, base, "w", 2)
		require.Len(t, first, 2)
		cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "w", LeaseExpiresAt: base.Add(time.Minute), Handlers: []string{"h2"}})
		require.NoError(t, err)
		require.Empty(t, cs, "no h2 step is ready yet")
		wake, err := b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Handlers: []string{"h2", "h3"}})
		require.NoError(t, err)
		require.True(t, wake.IsZero(), "the ready steps are not of these handlers: nothing wakes their worker")
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Handlers: []string{"h2", "h"}})
		require.NoError(t, err)
		require.False(t, wake.IsZero() || wake.After(base), "a ready step of one of the handlers wakes now")

		// Once the roots finish, a claim by handler takes only that handler's children.
		for _, c := range append(first, claim(t, b, base, "w", 10)...) {
			complete(t, b, c, "w", base)
		}
		cs, err = b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "w", LeaseExpiresAt: base.Add(time.Minute), Handlers: []string{"h2"}})
		require.NoError(t, err)
		require.Equal(t, []string{"c", "c", "c"}, names(cs), "only the h2 steps, of every task")
	})

	s.run(t, "ConcurrentClaimsNeverShareAStep", func(t *testing.T, b *bundle) {
		for range 20 {
			diamond(t, b, "")
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				owner := string(rune('A' + w))
				for range 10 {
					cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 3, Owner: owner, LeaseExpiresAt: base.Add(time.Minute)})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, c := range cs {
						if prev, ok := seen[c.Step.ID]; ok {
							t.Errorf("step %d claimed by %s and %s", c.Step.ID, prev, owner)
						}
						seen[c.Step.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, 20, "each task has exactly one ready root")
	})

	s.run(t, "NextWake", func(t *testing.T, b *bundle) {
		wake, err := b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Leases: true})
		require.NoError(t, err)
		require.True(t, wake.IsZero(), "nothing to wait for in an empty database")
		diamond(t, b, "")
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Leases: true})
		require.NoError(t, err)
		require.False(t, wake.IsZero())
		require.False(t, wake.After(base), "a ready step makes the wake time now or earlier")
		c := claim(t, b, base, "w", 1)[0]
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Leases: true})
		require.NoError(t, err)
		require.Equal(t, c.Step.LeaseExpiresAt, wake, "the lease expiry of the running step")
	})

	s.run(t, "QueuesRouteClaims", func(t *testing.T, b *bundle) {
		res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
			Namespace: "default", Name: "queues", Version: "1.0.0", Context: json.RawMessage(`{}`),
			IdentityHash: fmt.Sprintf("unique-%d", hashSeq.Add(1)), RequestedAt: base, Now: base,
			Steps: []taskerdriver.StepCreateParams{
				{Name: "local", Handler: "h", RetryLimit: 1, Retryable: true},
				{Name: "billing", Handler: "remote", Queue: "billing", RetryLimit: 1, Retryable: true},
				{Name: "mail", Handler: "remote", Queue: "mail", RetryLimit: 1, Retryable: true},
			},
		})
		require.NoError(t, err)
		require.Equal(t, "billing", byName(res.Steps)["billing"].Queue)
		got, err := b.ex.StepGet(b.ctx, byName(res.Steps)["mail"].ID)
		require.NoError(t, err)
		require.Equal(t, "mail", got.Queue)

		wake, err := b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Queues: []string{"nothing-here"}})
		require.NoError(t, err)
		require.True(t, wake.IsZero(), "no step in that queue")
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Queues: []string{"mail"}})
		require.NoError(t, err)
		require.False(t, wake.After(base), "the mail step is ready")

		local := claim(t, b, base, "w", 10)
		require.Equal(t, []string{"local"}, names(local), "in-process claims take only steps without a queue")
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base})
		require.NoError(t, err)
		require.True(t, wake.IsZero(), "remote steps do not wake in-process workers")
		wake, err = b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base, Leases: true})
		require.NoError(t, err)
		require.Equal(t, local[0].Step.LeaseExpiresAt, wake, "with Leases, the running step's lease expiry")

		remote, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "r",
			LeaseExpiresAt: base.Add(time.Minute), Queues: []string{"billing", "other"}})
		require.NoError(t, err)
		require.Equal(t, []string{"billing"}, names(remote))
		require.Equal(t, "billing", remote[0].Step.Queue)
		require.False(t, remote[0].TaskStarted, "the local claim started the task")
		remote, err = b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "r",
			LeaseExpiresAt: base.Add(time.Minute), Queues: []string{"billing", "mail"}})
		require.NoError(t, err)
		require.Equal(t, []string{"mail"}, names(remote))
	})

	s.run(t, "HeartbeatAndExpiry", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		diamond(t, b, "")
		cs := claim(t, b, base, "w1", 2)
		require.Len(t, cs, 2)
		ids := []int64{cs[0].Step.ID, cs[1].Step.ID}
		kept, err := b.ex.StepHeartbeat(b.ctx, &taskerdriver.StepHeartbeatParams{Owner: "w1", IDs: ids[:1], LeaseExpiresAt: base.Add(time.Hour), Now: base})
		require.NoError(t, err)
		require.Equal(t, ids[:1], kept)
		kept, err = b.ex.StepHeartbeat(b.ctx, &taskerdriver.StepHeartbeatParams{Owner: "intruder", IDs: ids, LeaseExpiresAt: base.Add(time.Hour), Now: base})
		require.NoError(t, err)
		require.Empty(t, kept)
		expired, err := b.ex.StepListExpired(b.ctx, &taskerdriver.StepListExpiredParams{Now: base.Add(2 * time.Minute)})
		require.NoError(t, err)
		require.Len(t, expired, 1)
		require.Equal(t, ids[1], expired[0].ID)
		require.Equal(t, "w1", expired[0].LeaseOwner)
	})

	s.run(t, "ReleaseGivesTheAttemptBack", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		got, err := b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{IDs: []int64{c.Step.ID}, From: []taskertype.State{taskertype.StateInProgress},
			To: taskertype.StatePending, Owner: "w1", DecrementAttempt: true, Now: base})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Zero(t, got[0].Attempts)
		require.Empty(t, got[0].LeaseOwner)
		cs := claim(t, b, base, "w2", 1)
		require.Len(t, cs, 1)
		require.Equal(t, 1, cs[0].Step.Attempts)
	})

	s.run(t, "ClaimIsFairOlderTasksFirst", func(t *testing.T, b *bundle) {
		// An older task's step that was rescued (its worker lost) becomes
		// ready after the pending steps of newer tasks; it is claimed first.
		old := diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		require.Equal(t, old.Task.ID, c.Task.ID)
		later := base.Add(time.Minute)
		var newer []int64
		for range 3 {
			res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
				Namespace: "default", Name: "one", Version: "1.0.0", Context: json.RawMessage(`{}`), Tags: []string{},
				IdentityHash: fmt.Sprintf("unique-%d", hashSeq.Add(1)), RequestedAt: later, Now: later,
				Steps: []taskerdriver.StepCreateParams{{Name: "x", Handler: "h", RetryLimit: 3, Retryable: true}},
			})
			require.NoError(t, err)
			newer = append(newer, res.Task.ID)
		}
		rescuedAt := base.Add(2 * time.Minute)
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "worker w1 lost", Kind: "worker_lost", Attempt: 1, At: rescuedAt}, NextAttemptAt: rescuedAt, Now: rescuedAt})
		require.NoError(t, err)
		now := base.Add(3 * time.Minute)
		cs := claim(t, b, now, "w2", 1)
		require.Len(t, cs, 1)
		require.Equal(t, c.Step.ID, cs[0].Step.ID, "the rescued step of the oldest task comes before newer tasks' pending steps")
		for _, id := range newer {
			cs = claim(t, b, now, "w2", 1)
			require.Len(t, cs, 1)
			require.Equal(t, id, cs[0].Task.ID, "then the other tasks, oldest first")
		}
	})

	// Recording attempts: the lease guard, retries, blocks.

	s.run(t, "FinishIsGuardedByLease", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "other", Attempt: 1, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 2, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost)
		complete(t, b, c, "w1", base)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateComplete, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrLeaseLost, "a second result for the same attempt is rejected")
	})

	s.run(t, "RetryWaitsForBackoffThenGoesThroughPending", func(t *testing.T, b *bundle) {
		diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		next := base.Add(2 * time.Second)
		r, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "boom", Kind: "retryable", Attempt: 1, At: base}, NextAttemptAt: next, Now: base})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateError, r.Step.State)
		require.Equal(t, "boom", r.Step.LastError.Message)
		require.Equal(t, next, r.Step.NextAttemptAt)
		require.False(t, r.Step.Blocked)

		require.Empty(t, claim(t, b, base.Add(time.Second), "w1", 1), "backoff not elapsed")
		wake, err := b.ex.StepNextWake(b.ctx, &taskerdriver.StepNextWakeParams{Now: base.Add(time.Second), Leases: true})
		require.NoError(t, err)
		require.Equal(t, next, wake)

		cs := claim(t, b, next, "w1", 1)
		require.Len(t, cs, 1)
		require.Equal(t, 2, cs[0].Step.Attempts)
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: c.Step.ID})
		require.NoError(t, err)
		var moves []string
		for i, x := range tr {
			moves = append(moves, string(x.FromState)+">"+string(x.ToState))
			require.Equal(t, i == len(tr)-1, x.MostRecent)
			if i > 0 {
				require.Greater(t, x.SortKey, tr[i-1].SortKey)
			}
		}
		require.Equal(t, []string{">pending", "pending>in_progress", "in_progress>error", "error>pending", "pending>in_progress"}, moves)
		// The claim's rows, as both drivers write them (PostgreSQL in the
		// claim's statement, SQLite from driverkit.ClaimTransitions).
		require.JSONEq(t, `{"attempt":1,"worker":"w1"}`, string(tr[1].Metadata))
		require.JSONEq(t, `{"retry_attempt":2}`, string(tr[3].Metadata))
		require.JSONEq(t, `{"attempt":2,"worker":"w1"}`, string(tr[4].Metadata))
		require.Equal(t, []int{30, 40}, []int{tr[3].SortKey, tr[4].SortKey})
		require.Equal(t, next, tr[4].CreatedAt)
	})

	s.run(t, "BlockedStepIsNeverClaimedAndCounts", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "")
		c := claim(t, b, base, "w1", 1)[0]
		_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w1", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "no", Kind: "permanent"}, Blocked: true, Now: base})
		require.NoError(t, err)
		require.Empty(t, claim(t, b, base.Add(time.Hour), "w1", 10))
		p, err := progressOf(b.ctx, b.ex, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Blocked: 1}, *p)
	})

	// Step state changes and their transitions: cancel, resolve, retry.

	s.run(t, "SetStateCancelsResolvesAndRetries", func(t *testing.T, b *bundle) {
		res := diamond(t, b, "")
		s := byName(res.Steps)
		// Resolve a manually: b and c become ready, with a's manual results.
		got, err := b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{IDs: []int64{s["a"].ID}, From: []taskertype.State{taskertype.StatePending},
			To: taskertype.StateResolvedManually, Results: json.RawMessage(`{"manual":true}`), Now: base})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, taskertype.StateResolvedManually, got[0].State)
		cs := claim(t, b, base, "w", 10)
		require.Equal(t, []string{"b", "c"}, names(cs))
		require.JSONEq(t, `{"manual":true}`, string(cs[0].Dependencies["a"]))
		// From filters: a is not pending any more.
		got, err = b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{IDs: []int64{s["a"].ID}, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Empty(t, got)
		// Cancel every unfinished step of the task.
		got, err = b.ex.StepSetState(b.ctx, &taskerdriver.StepSetStateParams{TaskID: res.Task.ID,
			From: []taskertype.State{taskertype.StatePending, taskertype.StateInProgress, taskertype.StateError}, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for _, c := range cs {
			_, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateComplete, Now: base})
			require.ErrorIs(t, err, taskerdriver.ErrLeaseLost, "a cancelled step's late result is rejected")
		}
		p, err := progressOf(b.ctx, b.ex, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TaskProgress{Total: 4, Done: 1, Resolved: 1, Cancelled: 3}, *p)
	})
}
