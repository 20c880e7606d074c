package taskerpgx

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

func tracedPool(t *testing.T) (*pgxpool.Pool, *pgtest.Trips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	c := &pgtest.Trips{}
	cfg.ConnConfig.Tracer = c
	// The session's default is "on" whatever the server's (the throwaway
	// test cluster runs with synchronous_commit=off).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(t.Context(), `CREATE TABLE pipe_t (id int PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	c.Reset()
	return pool, c
}

// begin begins a pipeTx on pool (asynchronous commit when async).
func begin(t *testing.T, pool *pgxpool.Pool, async bool) *pipeTx {
	t.Helper()
	tx, err := beginPipeTx(t.Context(), pool, async)
	require.NoError(t, err)
	return tx
}

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pipe_t`).Scan(&n))
	return n
}

// BEGIN travels with the first statement, deferred writes with the next
// statement or COMMIT: a transaction of one write, one deferred write and
// a read costs two round trips and is atomic.
func TestPipeTxRoundTripsAndAtomicity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, trips := tracedPool(t)

	tx := begin(t, pool, false)
	_, err := tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, 'a')`) // BEGIN + insert
	require.NoError(t, err)
	tx.Defer(`INSERT INTO pipe_t VALUES (2, 'b')`)
	var n int
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM pipe_t`).Scan(&n)) // deferred insert + read
	require.Equal(t, 2, n, "the deferred write ran before the read")
	tx.Defer(`INSERT INTO pipe_t VALUES (3, 'c')`)
	require.NoError(t, tx.Commit(ctx)) // deferred insert + COMMIT
	require.EqualValues(t, 3, trips.Total())
	require.Equal(t, 3, count(t, pool))

	// Rolled back: none of it stays, the deferred write is never sent.
	trips.Reset()
	tx = begin(t, pool, false)
	rows, err := tx.Query(ctx, `INSERT INTO pipe_t VALUES (4, 'd') RETURNING id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{4}, ids)
	tx.Defer(`INSERT INTO pipe_t VALUES (5, 'e')`)
	require.NoError(t, tx.Rollback(ctx))
	require.EqualValues(t, 2, trips.Total(), "BEGIN + insert, ROLLBACK")
	require.Equal(t, 3, count(t, pool))
	require.NoError(t, tx.Rollback(ctx), "a second rollback is a no-op")
	require.ErrorIs(t, tx.Commit(ctx), pgx.ErrTxClosed)

	// A transaction that ran nothing costs nothing, and its connection
	// goes back to the pool usable.
	trips.Reset()
	for range 3 {
		tx = begin(t, pool, false)
		require.NoError(t, tx.Commit(ctx))
	}
	require.Zero(t, trips.Total())
	require.Equal(t, 3, count(t, pool))
}

// A batch sent first carries BEGIN: its results are the caller's.
func TestPipeTxBatchFirst(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, trips := tracedPool(t)
	tx := begin(t, pool, false)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO pipe_t VALUES (1, 'a')`)
	b.Queue(`SELECT v FROM pipe_t WHERE id = 1`)
	br := tx.SendBatch(ctx, b)
	tag, err := br.Exec()
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	var v string
	require.NoError(t, br.QueryRow().Scan(&v))
	require.Equal(t, "a", v)
	require.NoError(t, br.Close())
	// No row on a first statement is pgx.ErrNoRows, as with pgx.Tx.
	require.NoError(t, tx.Commit(ctx))
	tx = begin(t, pool, false)
	require.ErrorIs(t, tx.QueryRow(ctx, `SELECT v FROM pipe_t WHERE id = 99`).Scan(&v), pgx.ErrNoRows)
	require.NoError(t, tx.Rollback(ctx))
	require.EqualValues(t, 4, trips.Total(), "BEGIN + batch, COMMIT, BEGIN + select, ROLLBACK")
}

// A deferred write that fails fails the call that carries it, with the
// server's error, and the transaction commits nothing.
func TestPipeTxDeferredError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := tracedPool(t)

	tx := begin(t, pool, false)
	_, err := tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, 'a')`)
	require.NoError(t, err)
	tx.Defer(`INSERT INTO pipe_t VALUES (1, 'duplicate')`)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (2, 'b')`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "23505", pgErr.Code)
	require.ErrorIs(t, tx.Commit(ctx), pgx.ErrTxCommitRollback, "COMMIT of an aborted transaction rolls back")
	require.Zero(t, count(t, pool))

	// The same when the failing write travels with COMMIT.
	tx = begin(t, pool, false)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, 'a')`)
	require.NoError(t, err)
	tx.Defer(`INSERT INTO pipe_t VALUES (1, 'duplicate')`)
	err = tx.Commit(ctx)
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Zero(t, count(t, pool))
	// The pool still works (a connection left in a transaction is
	// destroyed, not reused).
	for range 4 {
		require.Zero(t, count(t, pool))
	}
}

// The asynchronous executor's BEGIN carries SET LOCAL synchronous_commit.
func TestPipeTxAsync(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, trips := tracedPool(t)
	tx := begin(t, pool, true)
	var v string
	require.NoError(t, tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v))
	require.Equal(t, "off", v)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v))
	require.Equal(t, "on", v, "SET LOCAL ends with the transaction")

	// An asynchronous transaction that ran nothing costs nothing either.
	trips.Reset()
	tx = begin(t, pool, true)
	require.NoError(t, tx.Commit(ctx))
	require.Zero(t, trips.Total())
}
