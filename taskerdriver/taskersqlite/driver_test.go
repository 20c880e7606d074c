package taskersqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerdrivertest"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskertype"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	taskerdrivertest.Exercise(t, func(t *testing.T) taskerdriver.Driver {
		d, err := taskersqlite.Open(filepath.Join(t.TempDir(), "tasker.db"))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, d.Close()) })
		require.NoError(t, d.Migrate(t.Context()))
		return d
	})
}

// openWithNew opens a database file in a new temporary directory with
// database/sql (WAL, a busy timeout, then the pragmas given as more query
// parameters) on one connection that stays open, and returns it with the
// driver New makes on it, migrated.
func openWithNew(t *testing.T, pragmas string) (*sql.DB, *taskersqlite.Driver) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "tasker.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"+pragmas)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	d := taskersqlite.New(db)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	require.NoError(t, d.Migrate(t.Context()))
	return db, d
}

// A value over SQLite's length limit (SQLITE_TOOBIG) is a
// *taskerdriver.ValueRejectedError matching ErrValueRejected.
func TestValueRejected(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, d := openWithNew(t, "")
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, 10_000)
	require.NoError(t, err)
	require.NoError(t, conn.Close()) // back to the pool: the only connection

	ex := d.Executor()
	now := time.Now().UTC()
	_, err = ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "big", Version: "1.0.0",
		IdentityHash: "big", RequestedAt: now, Now: now,
		Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", RetryLimit: 1}}})
	require.NoError(t, err)
	cs, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	big := `"` + strings.Repeat("x", 20_000) + `"`
	_, err = ex.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{{StepID: cs[0].Step.ID, Owner: "w", Attempt: 1,
		State: taskertype.StateComplete, Results: []byte(big), Now: now}})
	require.ErrorIs(t, err, taskerdriver.ErrValueRejected)
	var vr *taskerdriver.ValueRejectedError
	require.ErrorAs(t, err, &vr)
	require.Equal(t, "18", vr.Code)
}

// On a database the caller opened without foreign keys (New), the
// annotations of an unknown task are refused all the same, and the
// retention cleaner's deletion of a task still deletes its annotations.
func TestAnnotationsWithoutForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, d := openWithNew(t, "&_pragma=foreign_keys(0)")
	ex := d.Executor()
	now := time.Now().UTC()
	_, err := ex.AnnotationInsert(ctx, &taskerdriver.AnnotationInsertParams{TaskID: 99, Type: "t", Annotation: []byte(`{}`), Now: now})
	require.ErrorIs(t, err, taskerdriver.ErrNotFound)
	res, err := ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "t", Version: "1.0.0",
		IdentityHash: "h", RequestedAt: now, Now: now})
	require.NoError(t, err)
	_, err = ex.AnnotationInsert(ctx, &taskerdriver.AnnotationInsertParams{TaskID: res.Task.ID, Type: "t", Annotation: []byte(`{"a":1}`), Now: now})
	require.NoError(t, err)
	_, err = ex.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: res.Task.ID, From: []taskertype.State{taskertype.StatePending},
		To: taskertype.StateCancelled, Now: now}})
	require.NoError(t, err)
	n, err := ex.TaskDeleteFinished(ctx, &taskerdriver.TaskDeleteFinishedParams{States: []taskertype.State{taskertype.StateCancelled}, Before: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM tasker_task_annotations`).Scan(&left))
	require.Zero(t, left)
}
