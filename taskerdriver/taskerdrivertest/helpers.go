package taskerdrivertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// MigrationVersion is the schema version every driver reports after
// Migrate: the drivers number the same schema change the same.
const MigrationVersion = 17

// base is the suite's clock.
var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var hashSeq atomic.Int64

// suite holds what every case needs: a way to get a fresh driver, and the
// record of the Executor methods the cases call.
type suite struct {
	newDriver func(t *testing.T) taskerdriver.Driver
	calls     *calls
}

// bundle is one case's fresh database, through a recording executor.
type bundle struct {
	d   taskerdriver.Driver
	ex  taskerdriver.Executor
	ctx context.Context
}

func (s *suite) setup(t *testing.T) *bundle {
	t.Helper()
	d := s.newDriver(t)
	return &bundle{d: d, ex: record(d.Executor(), s.calls), ctx: t.Context()}
}

// run runs a case, in parallel with the others, on a fresh database.
func (s *suite) run(t *testing.T, name string, fn func(t *testing.T, b *bundle)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		fn(t, s.setup(t))
	})
}

// diamond creates a → b, c → d.
func diamond(t *testing.T, b *bundle, hash string) *taskerdriver.TaskCreateResult {
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

func byName(steps []*taskertype.Step) map[string]*taskertype.Step {
	m := map[string]*taskertype.Step{}
	for _, s := range steps {
		m[s.Name] = s
	}
	return m
}

func claim(t *testing.T, b *bundle, now time.Time, owner string, limit int) []*taskerdriver.ClaimedStep {
	t.Helper()
	cs, err := b.ex.StepClaim(b.ctx, &taskerdriver.StepClaimParams{Now: now, Limit: limit, Owner: owner, LeaseExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	return cs
}

func names(cs []*taskerdriver.ClaimedStep) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Step.Name
	}
	sort.Strings(out)
	return out
}

func complete(t *testing.T, b *bundle, c *taskerdriver.ClaimedStep, owner string, now time.Time) *taskerdriver.StepFinishResult {
	t.Helper()
	r, err := finishOne(b.ctx, b.ex, &taskerdriver.StepFinishParams{StepID: c.Step.ID, Owner: owner, Attempt: c.Step.Attempts,
		State: taskertype.StateComplete, Results: json.RawMessage(`{"from":"` + c.Step.Name + `"}`), Now: now})
	require.NoError(t, err)
	return r
}

// finishOne records one attempt with StepFinishMany and returns its result,
// or the call's error, or the attempt's (ErrLeaseLost).
func finishOne(ctx context.Context, ex taskerdriver.Executor, p *taskerdriver.StepFinishParams) (*taskerdriver.StepFinishResult, error) {
	outs, err := ex.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{p})
	if err != nil {
		return nil, err
	}
	return outs[0].Result, outs[0].Err
}

// progressOf counts one task's steps with TaskProgressMany.
func progressOf(ctx context.Context, ex taskerdriver.Executor, taskID int64) (*taskerdriver.TaskProgress, error) {
	all, err := ex.TaskProgressMany(ctx, []int64{taskID})
	if err != nil {
		return nil, err
	}
	tp := all[taskID]
	if tp == nil {
		return nil, taskerdriver.ErrNotFound
	}
	return tp.Progress, nil
}

// setTaskState moves one task with TaskSetStateMany; with no From, from the
// state the task is in.
func setTaskState(ctx context.Context, ex taskerdriver.Executor, p *taskerdriver.TaskSetStateParams) (*taskertype.Task, error) {
	if len(p.From) == 0 {
		cur, err := ex.TaskGet(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		q := *p
		q.From = []taskertype.State{cur.State}
		p = &q
	}
	tasks, err := ex.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{p})
	if err != nil {
		return nil, err
	}
	return tasks[0], nil
}
