package taskerpgx_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

// The claim that follows a creation's insert names the task the session
// numbered last: on one connection, an insert that meets an existing
// identity must not make it claim the steps of a task the session created
// before (the conflicting insert still draws a number no task has).
func TestCreateClaimAfterIdentityConflict(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := taskerpgx.Open(ctx, oneConnection(pgtest.URL(t)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ex := d.Executor()
	now := time.Now().UTC()
	params := func(hash string, claim bool) *taskerdriver.TaskCreateParams {
		p := &taskerdriver.TaskCreateParams{Namespace: "default", Name: "x", Version: "1", Context: json.RawMessage(`{}`),
			Tags: []string{}, IdentityHash: hash, RequestedAt: now, Now: now,
			Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h", RetryLimit: 1}, {Name: "b", Handler: "h", RetryLimit: 1}}}
		if claim {
			p.Claim = &taskerdriver.StepClaimParams{Now: now.Add(time.Second), Limit: 10, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)}
		}
		return p
	}
	first, err := ex.TaskCreate(ctx, params("h1", false))
	require.NoError(t, err)
	other, err := ex.TaskCreate(ctx, params("h2", false))
	require.NoError(t, err)
	dup, err := ex.TaskCreate(ctx, params("h2", true))
	require.NoError(t, err)
	require.True(t, dup.Existing)
	require.Empty(t, dup.Claimed)
	for _, id := range []int64{first.Task.ID, other.Task.ID} {
		steps, err := ex.StepList(ctx, &taskerdriver.StepListParams{TaskID: id})
		require.NoError(t, err)
		for _, s := range steps {
			require.Equal(t, taskertype.StatePending, s.State, "task %d step %s", id, s.Name)
		}
	}
	fresh, err := ex.TaskCreate(ctx, params("h3", true))
	require.NoError(t, err)
	require.Len(t, fresh.Claimed, 2)
	for _, c := range fresh.Claimed {
		require.Equal(t, fresh.Task.ID, c.Step.TaskID)
	}
}

// oneConnection limits a connection string's pool to one connection.
func oneConnection(conn string) string {
	if !strings.Contains(conn, "://") { // key=value
		return conn + " pool_max_conns=1"
	}
	if strings.Contains(conn, "?") {
		return conn + "&pool_max_conns=1"
	}
	return conn + "?pool_max_conns=1"
}
