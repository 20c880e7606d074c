package taskersqlite_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tasker-go/tasker/taskerdriver"
)

// A transaction whose deferred transition rows cannot be inserted (here:
// the database is full when a later statement makes them be inserted
// first) commits nothing: SQLite may roll such a transaction back itself,
// and a statement run after that would be committed on its own.
func TestFailedDeferredInsertCommitsNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, d := openWithNew(t, "")
	var pages int
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages))
	_, err := db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+40))
	require.NoError(t, err)
	now := time.Now().UTC()
	tx, err := d.Executor().Begin(ctx)
	require.NoError(t, err)
	// Its transitions (400 KB of metadata) are deferred: the creation succeeds.
	_, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "a", Version: "1.0.0",
		IdentityHash: "a", RequestedAt: now, Now: now, Metadata: json.RawMessage(`{"reason":"` + strings.Repeat("x", 400_000) + `"}`),
		Steps: []taskerdriver.StepCreateParams{{Name: "s", Handler: "h"}}})
	require.NoError(t, err)
	// An idempotent creation begins with a DELETE, which inserts them
	// first: the database is full.
	_, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "b", Version: "1.0.0",
		IdentityHash: "b", RequestedAt: now, Now: now, IdempotencyKey: "k", IdempotencyHash: "h", IdempotencySince: now.Add(-time.Hour),
		Steps: []taskerdriver.StepCreateParams{{Name: "s", Handler: "h"}}})
	t.Logf("second: %v", err)
	cerr := tx.Commit(ctx)
	t.Logf("commit: %v", cerr)
	require.ErrorContains(t, err, "full")
	require.ErrorContains(t, cerr, "full")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM tasker_tasks) + (SELECT count(*) FROM tasker_workflow_steps)`).Scan(&n))
	require.Zero(t, n, "nothing of the failed transaction is committed")
}

// A transition row SQLite refuses (too big) fails the commit of the
// transaction that deferred it with a taskerdriver.ErrValueRejected, as the
// statement that wrote it did before the rows were deferred: the worker
// then records a pass's results one by one.
func TestDeferredTransitionRejectedAtCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, d := openWithNew(t, "")
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, 10_000)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	now := time.Now().UTC()
	tx, err := d.Executor().Begin(ctx)
	require.NoError(t, err)
	_, err = tx.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "big", Version: "1.0.0",
		IdentityHash: "big", RequestedAt: now, Now: now, Metadata: json.RawMessage(`{"reason":"` + strings.Repeat("x", 20_000) + `"}`),
		Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h"}}})
	require.NoError(t, err, "the transition row is deferred")
	require.ErrorIs(t, tx.Commit(ctx), taskerdriver.ErrValueRejected)
}
