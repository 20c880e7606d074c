// Package taskerdrivertest is the conformance suite every taskerdriver.Driver
// must pass. A driver's test calls Exercise with a constructor that returns a
// fresh, migrated, empty database for each test.
package taskerdrivertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

var hashSeq atomic.Int64

// Exercise runs the conformance suite against drivers made by newDriver.
func Exercise(t *testing.T, newDriver func(t *testing.T) taskerdriver.Driver) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	type bundle struct {
		d   taskerdriver.Driver
		ex  taskerdriver.Executor
		ctx context.Context
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		d := newDriver(t)
		return &bundle{d: d, ex: d.Executor(), ctx: t.Context()}
	}
	// diamond creates a → b, c → d.
	diamond := func(t *testing.T, b *bundle, hash string) *taskerdriver.TaskCreateResult {
		t.Helper()
		if hash == "" {
			hash = fmt.Sprintf("unique-%d", hashSeq.Add(1))
		}
		res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
			Namespace: "default", Name: "diamond", Version: "1.0.0", Context: json.RawMessage(`{"n":1}`),
			Initiator: "test", SourceSystem: "suite", Reason: "conformance", Tags: []string{"x", "y"},
			IdentityHash: hash, RequestedAt: base, Now: base,
			Steps: []taskerdriver.StepCreateParams{
				{Name: "a", Handler: "h", RetryLimit: 3, Retryable: true},
				{Name: "b", Handler: "h", RetryLimit: 3, Retryable: true, Parents: []int{0}},
				{Name: "c", Handler: "h2", RetryLimit: 1, Retryable: true, Parents: []int{0}},
				{Name: "d", Handler: "h", RetryLimit: 3, Retryable: true, Parents: []int{1, 2}},
			},
		})
		require.NoError(t, err)
		return res
	}
	byName := func(steps []*taskertype.Step) map[string]*taskertype.Step {
		m := map[string]*taskertype.Step{}
		for _, s := range steps {
			m[s.Name] = s
		}
		return m
	}
	claim := func(t *testing.T, b *bundle, now time.Time, owner string, limit int) []*taskerdriver.ClaimedStep {
		t.Helper()
		cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: now, Limit: limit, Owner: owner, LeaseExpiresAt: now.Add(time.Minute)})
		require.NoError(t, err)
		return cs
	}
	names := func(cs []*taskerdriver.ClaimedStep) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Step.Name
		}
		sort.Strings(out)
		return out
	}
	complete := func(t *testing.T, b *bundle, c *taskerdriver.ClaimedStep, owner string, now time.Time) *taskerdriver.StepFinishResult {
		t.Helper()
		r, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: owner, Attempt: c.Step.Attempts,
			State: taskertype.StateComplete, Results: json.RawMessage(`{"from":"` + c.Step.Name + `"}`), Now: now})
		require.NoError(t, err)
		return r
	}

	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.d.Migrate(b.ctx))
		v, err := b.d.MigrationVersion(b.ctx)
		require.NoError(t, err)
		require.Equal(t, MigrationVersion, v, "every driver numbers the same schema change the same")
	})

	t.Run("TaskCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := diamond(t, b, "h1")
		require.False(t, res.Existing)
		require.Equal(t, taskertype.StatePending, res.Task.State)
		require.Equal(t, "default.diamond@1.0.0", res.Task.FullName())
		require.JSONEq(t, `{"n":1}`, string(res.Task.Context))
		require.Equal(t, []string{"x", "y"}, res.Task.Tags)
		require.Equal(t, base, res.Task.CreatedAt)
		require.Len(t, res.Steps, 4)
		s := byName(res.Steps)
		require.Equal(t, 0, s["a"].PendingParents)
		require.Equal(t, 2, s["d"].PendingParents)
		require.Equal(t, []int64{s["b"].ID, s["c"].ID}, s["a"].ChildIDs)
		require.ElementsMatch(t, []int64{s["b"].ID, s["c"].ID}, s["d"].ParentIDs)
		for _, st := range res.Steps {
			require.Equal(t, taskertype.StatePending, st.State)
			require.Zero(t, st.Attempts)
			tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{StepID: st.ID})
			require.NoError(t, err)
			require.Len(t, tr, 1)
			require.Equal(t, taskertype.State(""), tr[0].FromState)
			require.Equal(t, taskertype.StatePending, tr[0].ToState)
			require.True(t, tr[0].MostRecent)
			require.Zero(t, tr[0].SortKey)
		}
		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 1)
		got, err := b.ex.TaskGet(b.ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, res.Task, got)
	})

	t.Run("TaskCreateIdentityConflictReturnsExisting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := diamond(t, b, "same")
		second := diamond(t, b, "same")
		require.True(t, second.Existing)
		require.Equal(t, first.Task.ID, second.Task.ID)
		_, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{})
		require.NoError(t, err)
		require.Equal(t, 1, total)
	})

	t.Run("TaskGetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.ex.TaskGet(b.ctx, 999)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		_, err = b.ex.StepGet(b.ctx, 999)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
	})

	t.Run("ClaimFollowsDependencies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := diamond(t, b, "h1")
		cs := claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"a"}, names(cs))
		require.Equal(t, 1, cs[0].Step.Attempts)
		require.Equal(t, taskertype.StateInProgress, cs[0].Step.State)
		require.Equal(t, "w1", cs[0].Step.LeaseOwner)
		require.Equal(t, res.Task.ID, cs[0].Task.ID)
		require.Equal(t, taskertype.StateInProgress, cs[0].Task.State)
		require.True(t, cs[0].TaskStarted)
		require.Empty(t, cs[0].Dependencies)
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
		}
		require.Empty(t, claim(t, b, base, "w1", 10))
		complete(t, b, cs[0], "w1", base)
		require.Empty(t, claim(t, b, base, "w1", 10), "d waits for both parents")
		r = complete(t, b, cs[1], "w1", base)
		require.Equal(t, 1, r.ChildrenReady)
		cs = claim(t, b, base, "w1", 10)
		require.Equal(t, []string{"d"}, names(cs))
		require.Len(t, cs[0].Dependencies, 2)

		tt, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: res.Task.ID})
		require.NoError(t, err)
		require.Len(t, tt, 2)
		require.Equal(t, taskertype.StateInProgress, tt[1].ToState)
	})

	t.Run("ClaimRespectsLimitAndHandlers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 3 {
			diamond(t, b, "")
		}
		require.Len(t, claim(t, b, base, "w", 2), 2)
		cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: base, Limit: 10, Owner: "w", LeaseExpiresAt: base.Add(time.Minute), Handlers: []string{"h2"}})
		require.NoError(t, err)
		require.Empty(t, cs, "no h2 step is ready yet")
	})

	t.Run("ConcurrentClaimsNeverShareAStep", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("FinishIsGuardedByLease", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("RetryWaitsForBackoffThenGoesThroughPending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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
	})

	t.Run("NextWake", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("QueuesRouteClaims", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("BlockedStepIsNeverClaimedAndCounts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("SetStateCancelsResolvesAndRetries", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("ReleaseGivesTheAttemptBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("HeartbeatAndExpiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

	t.Run("TaskListFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ids []int64
		for i := range 5 {
			res, err := b.ex.TaskCreate(b.ctx, &taskerdriver.TaskCreateParams{
				Namespace: []string{"a", "b"}[i%2], Name: "t", Version: "1.0.0", Initiator: "me", SourceSystem: "s", Reason: "r",
				Tags: []string{[]string{"even", "odd"}[i%2]}, IdentityHash: string(rune('a' + i)), RequestedAt: base, Now: base.Add(time.Duration(i) * time.Minute),
				Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", RetryLimit: 1, Retryable: true}},
			})
			require.NoError(t, err)
			ids = append(ids, res.Task.ID)
		}
		list, total, err := b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Namespace: "a", Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Len(t, list, 2)
		require.Equal(t, ids[0], list[0].ID)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{Tags: []string{"odd"}, OrderBy: "created_at", Desc: true})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, ids[3], list[0].ID)
		list, total, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{CreatedAfter: base.Add(2 * time.Minute), Offset: 1, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Len(t, list, 2)
		_, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{OrderBy: "1; DROP TABLE x"})
		require.Error(t, err)
		list, _, err = b.ex.TaskList(b.ctx, &taskerdriver.TaskListParams{States: []taskertype.State{taskertype.StateComplete}})
		require.NoError(t, err)
		require.Empty(t, list)
	})

	t.Run("TaskSetStateAndUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := diamond(t, b, "")
		_, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: res.Task.ID, From: []taskertype.State{taskertype.StateError}, To: taskertype.StatePending, Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict)
		task, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: res.Task.ID, To: taskertype.StateCancelled, Now: base})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateCancelled, task.State)
		require.Equal(t, base, task.CompletedAt)
		reason := "because"
		task, err = b.ex.TaskUpdate(b.ctx, &taskerdriver.TaskUpdateParams{ID: res.Task.ID, Reason: &reason, Tags: []string{"z"}, Now: base})
		require.NoError(t, err)
		require.Equal(t, "because", task.Reason)
		require.Equal(t, []string{"z"}, task.Tags)
		limit := 9
		step, err := b.ex.StepUpdate(b.ctx, &taskerdriver.StepUpdateParams{ID: res.Steps[0].ID, RetryLimit: &limit, Inputs: json.RawMessage(`{"i":1}`), Now: base})
		require.NoError(t, err)
		require.Equal(t, 9, step.RetryLimit)
		require.JSONEq(t, `{"i":1}`, string(step.Inputs))
	})

	t.Run("NotifyAfterCommitOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ch, unsub := b.d.Listener().Subscribe(taskerdriver.TopicStepsReady)
		defer unsub()
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Notify(b.ctx, taskerdriver.TopicStepsReady))
		require.NoError(t, tx.Rollback(b.ctx))
		select {
		case <-ch:
			t.Fatal("notification of a rolled back transaction")
		default:
		}
		tx, err = b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Notify(b.ctx, taskerdriver.TopicStepsReady))
		select {
		case <-ch:
			t.Fatal("notification before commit")
		default:
		}
		require.NoError(t, tx.Commit(b.ctx))
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no notification after commit")
		}
	})

	t.Run("LeaderElection", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		attempt := func(id string, now time.Time) bool {
			t.Helper()
			ok, err := b.ex.LeaderAttempt(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "maintenance", ID: id, Now: now, TTL: 15 * time.Second})
			require.NoError(t, err)
			return ok
		}
		require.True(t, attempt("a", base), "no leader yet")
		require.False(t, attempt("b", base.Add(time.Second)), "a leads")
		require.True(t, attempt("a", base.Add(10*time.Second)), "a renews")
		require.False(t, attempt("b", base.Add(20*time.Second)), "the renewed term lasts until +25s")
		require.True(t, attempt("b", base.Add(26*time.Second)), "a's term expired: leadership moves")
		require.False(t, attempt("a", base.Add(27*time.Second)))
		require.NoError(t, b.ex.LeaderResign(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "maintenance", ID: "b"}))
		require.True(t, attempt("a", base.Add(28*time.Second)), "b resigned")
		ok, err := b.ex.LeaderAttempt(b.ctx, &taskerdriver.LeaderAttemptParams{Name: "other", ID: "b", Now: base, TTL: time.Second})
		require.NoError(t, err)
		require.True(t, ok, "leaderships are independent")
	})

	t.Run("TaskDeleteFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := diamond(t, b, "")
		running := diamond(t, b, "")
		failed := diamond(t, b, "")
		recent := diamond(t, b, "")
		set := func(id int64, to taskertype.State, at time.Time) {
			t.Helper()
			_, err := setTaskState(b.ctx, b.ex, &taskerdriver.TaskSetStateParams{ID: id, To: to, Now: at})
			require.NoError(t, err)
		}
		set(old.Task.ID, taskertype.StateCancelled, base)
		set(failed.Task.ID, taskertype.StateError, base)
		set(recent.Task.ID, taskertype.StateCancelled, base.Add(time.Hour))
		n, err := b.ex.TaskDeleteFinished(b.ctx, &taskerdriver.TaskDeleteFinishedParams{
			States: []taskertype.State{taskertype.StateComplete, taskertype.StateCancelled}, Before: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = b.ex.TaskGet(b.ctx, old.Task.ID)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
		_, err = b.ex.StepGet(b.ctx, old.Steps[0].ID)
		require.ErrorIs(t, err, taskerdriver.ErrNotFound, "steps go with their task")
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: old.Task.ID, AllSteps: true})
		require.NoError(t, err)
		require.Empty(t, tr, "and their transitions")
		for _, keep := range []int64{running.Task.ID, failed.Task.ID, recent.Task.ID} {
			_, err := b.ex.TaskGet(b.ctx, keep)
			require.NoError(t, err)
		}
	})

	t.Run("TaskSetStateMany", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		x, y := diamond(t, b, ""), diamond(t, b, "")
		tasks, err := b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: y.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateCancelled, Now: base},
			{ID: x.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateInProgress, Metadata: json.RawMessage(`{"why":"x"}`), Now: base},
		})
		require.NoError(t, err)
		require.Len(t, tasks, 2)
		require.Equal(t, y.Task.ID, tasks[0].ID)
		require.Equal(t, taskertype.StateCancelled, tasks[0].State)
		require.Equal(t, base, tasks[0].CompletedAt)
		require.Equal(t, taskertype.StateInProgress, tasks[1].State)
		require.True(t, tasks[1].CompletedAt.IsZero())
		tr, err := b.ex.TransitionList(b.ctx, &taskerdriver.TransitionListParams{TaskID: x.Task.ID})
		require.NoError(t, err)
		require.Len(t, tr, 2)
		require.Equal(t, taskertype.StatePending, tr[1].FromState)
		require.Equal(t, 10, tr[1].SortKey)
		require.True(t, tr[1].MostRecent)
		require.False(t, tr[0].MostRecent)
		require.JSONEq(t, `{"why":"x"}`, string(tr[1].Metadata))
		_, err = b.ex.TaskSetStateMany(b.ctx, []*taskerdriver.TaskSetStateParams{
			{ID: x.Task.ID, From: []taskertype.State{taskertype.StatePending}, To: taskertype.StateError, Now: base},
		})
		require.ErrorIs(t, err, taskerdriver.ErrStateConflict, "x is no longer pending")
	})

	t.Run("TaskProgressManyReturnsTheTasks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := diamond(t, b, "")
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		got, err := tx.TaskProgressMany(b.ctx, []int64{res.Task.ID, 424242})
		require.NoError(t, err)
		require.Len(t, got, 1, "a task that does not exist is left out")
		require.Equal(t, res.Task.ID, got[res.Task.ID].Task.ID)
	})

	t.Run("HealthCounts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		h, err := b.ex.HealthCounts(b.ctx, base)
		require.NoError(t, err)
		require.Zero(t, h.Tasks[taskertype.StatePending])
		diamond(t, b, "")
		diamond(t, b, "")
		cs := claim(t, b, base, "w", 2)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: cs[0].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "x"}, NextAttemptAt: base.Add(time.Minute), Now: base})
		require.NoError(t, err)
		_, err = finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: cs[1].Step.ID, Owner: "w", Attempt: 1, State: taskertype.StateError,
			Error: &taskertype.StepError{Message: "x"}, Blocked: true, Now: base})
		require.NoError(t, err)
		h, err = b.ex.HealthCounts(b.ctx, base)
		require.NoError(t, err)
		require.Equal(t, 2, h.Tasks[taskertype.StateInProgress])
		require.Equal(t, 6, h.Steps[taskertype.StatePending])
		require.Equal(t, 2, h.Steps[taskertype.StateError])
		require.Equal(t, 1, h.RetryableErrors)
		require.Equal(t, 1, h.InBackoff)
		require.Equal(t, 1, h.ExhaustedRetries)
	})

	t.Run("Outbox", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		require.NoError(t, tx.OutboxInsert(b.ctx, []*taskerdriver.OutboxInsertParams{
			{Subscription: "hook", EventName: "task.completed", Payload: json.RawMessage(`{"n":1}`), Now: base},
			{Subscription: "hook", EventName: "step.failed", Payload: json.RawMessage(`{"n":2}`), Now: base},
		}))
		require.NoError(t, tx.Rollback(b.ctx))
		got, err := b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Empty(t, got, "nothing of a rolled back transaction")

		require.NoError(t, b.ex.OutboxInsert(b.ctx, []*taskerdriver.OutboxInsertParams{
			{Subscription: "hook", EventName: "task.completed", Payload: json.RawMessage(`{"n":1}`), Now: base},
			{Subscription: "other", EventName: "step.failed", Payload: json.RawMessage(`{"n":2}`), Now: base},
		}))
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		m := got[0]
		require.Equal(t, "task.completed", m.EventName)
		require.JSONEq(t, `{"n":1}`, string(m.Payload))
		again, err := b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "e", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Empty(t, again, "leased")
		require.ErrorIs(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "e", Delivered: true, Now: base}), taskerdriver.ErrLeaseLost)
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Error: "503", NextAttemptAt: base.Add(time.Second), Now: base}))
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base, Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Empty(t, got, "waiting for its retry")
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base.Add(time.Second), Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(time.Minute), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 1, got[0].Attempts)
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Dead: true, Error: "gave up", Now: base}))
		dead, err := b.ex.OutboxList(b.ctx, &taskerdriver.OutboxListParams{State: "dead"})
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, "gave up", dead[0].LastError)
		require.Equal(t, 2, dead[0].Attempts)
		n, err := b.ex.OutboxReplay(b.ctx, &taskerdriver.OutboxReplayParams{IDs: []int64{}, Now: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err = b.ex.OutboxClaim(b.ctx, &taskerdriver.OutboxClaimParams{Now: base.Add(time.Hour), Limit: 10, Owner: "d", LeaseExpiresAt: base.Add(2 * time.Hour), Subscriptions: []string{"hook"}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Zero(t, got[0].Attempts, "replayed with fresh attempts")
		require.NoError(t, b.ex.OutboxFinish(b.ctx, &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "d", Delivered: true, Now: base.Add(time.Hour)}))
		delivered, err := b.ex.OutboxList(b.ctx, &taskerdriver.OutboxListParams{State: "delivered", Subscription: "hook"})
		require.NoError(t, err)
		require.Len(t, delivered, 1)
		require.Equal(t, base.Add(time.Hour), delivered[0].DeliveredAt)
	})

	t.Run("UnwrapTxRejectsForeignTypes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.d.UnwrapTx(42)
		require.ErrorIs(t, err, taskerdriver.ErrUnsupportedTx)
	})
}
