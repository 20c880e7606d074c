package taskersqlite

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// A worker pass's finish, decrement and progress read find every row they
// read or change by its key, whatever the number of results: a scan would make each pass cost
// as much as the table.
func TestPassPlansUseKeys(t *testing.T) {
	t.Parallel()
	d := migrated(t)
	scan := regexp.MustCompile(`^SCAN (tasker_\w+|[est])\b|USING (COVERING )?INDEX \w+$`)
	for what, q := range map[string]struct {
		sql  string
		args int
		key  string
	}{
		"finish of 1":  {finishSQL(1), 10, "SEARCH tasker_workflow_steps USING INTEGER PRIMARY KEY (rowid=?)"},
		"finish of 64": {finishSQL(64), 64*9 + 1, "SEARCH tasker_workflow_steps USING INTEGER PRIMARY KEY (rowid=?)"},
		"decrement":    {satisfySQL, 2, "SEARCH tasker_workflow_steps USING INTEGER PRIMARY KEY (rowid=?)"},
		"progress":     {progressSQL, 1, "SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"},
	} {
		joined := plan(t, d, q.sql, make([]any, q.args)...)
		require.Contains(t, joined, q.key, what)
		for _, line := range strings.Split(joined, "\n") {
			require.False(t, scan.MatchString(line), "%s: %q reads a whole table or index:\n%s", what, line, joined)
		}
	}
}

// Transition rows written in a transaction are inserted before the commit,
// and before any statement of the transaction that could see them.
func TestDeferredTransitionsVisibleToTheTransaction(t *testing.T) {
	t.Parallel()
	d := migrated(t)
	ctx := t.Context()
	count := func(q querier, table string) int {
		t.Helper()
		var n int
		require.NoError(t, q.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	now := time.Now()
	x := begin(t, d)
	res, err := x.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "pair", Version: "1.0.0",
		Context: json.RawMessage(`{}`), IdentityHash: "pair", RequestedAt: now, Now: now,
		Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h"}, {Name: "b", Handler: "h", Parents: []int{0}}}})
	require.NoError(t, err)
	require.Len(t, x.def.steps, 2*stepTransitionCols, "the creation's transitions wait")
	require.Len(t, x.def.tasks, taskTransitionCols)
	require.Equal(t, 2, count(x.w, "tasker_workflow_step_transitions"), "a read in the transaction sees them")
	require.Empty(t, x.def.steps)
	require.Equal(t, 1, count(x.w, "tasker_task_transitions"))
	a := res.Steps[0].ID
	require.NoError(t, x.stepTransitions(ctx, a, res.Task.ID, "pending", "in_progress", "{}", 10, us(now)))
	require.Zero(t, count(d.r, "tasker_workflow_step_transitions"), "nothing is visible outside before the commit")
	require.NoError(t, x.Commit(ctx))
	require.Equal(t, 3, count(d.r, "tasker_workflow_step_transitions"), "the commit inserts what is left")

	// A rolled-back transaction inserts nothing.
	x = begin(t, d)
	require.NoError(t, x.stepTransitions(ctx, a, res.Task.ID, "in_progress", "complete", "{}", 20, us(now)))
	require.NoError(t, x.Rollback(ctx))
	require.Equal(t, 3, count(d.r, "tasker_workflow_step_transitions"))

	// A deferred row that cannot be inserted fails the commit, and the
	// transaction's other writes are rolled back.
	x = begin(t, d)
	_, err = x.w.ExecContext(ctx, `INSERT INTO tasker_leaders (name, leader_id, elected_at, expires_at) VALUES ('l', 'x', 0, 0)`)
	require.NoError(t, err)
	require.NoError(t, x.stepTransitions(ctx, a, res.Task.ID, "pending", "in_progress", "{}", 10, us(now))) // (a, 10) exists
	require.ErrorContains(t, x.Commit(ctx), "step transitions")
	require.Zero(t, count(d.r, "tasker_leaders"))
	require.Equal(t, 3, count(d.r, "tasker_workflow_step_transitions"))
}

// begin opens a transaction of the driver's own on d.
func begin(t *testing.T, d *Driver) *executor {
	t.Helper()
	tx, err := (&executor{d: d, r: dbQuerier{d.rcache}}).Begin(t.Context())
	require.NoError(t, err)
	return tx.(*executor)
}

func migrated(t *testing.T) *Driver {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "tasker.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	require.NoError(t, d.Migrate(t.Context()))
	return d
}
