package taskerpgx

import (
	"context"
	"errors"
	"strings"
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

// The asynchronous executor's BEGIN carries synchronous_commit = off for
// its transaction only.
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

// A statement that only a sequential scan serves carries, in the driver's
// transactions (enable_seqscan off), the setting's penalty cost, which is
// far above jit_above_cost: it must not be compiled (tens of milliseconds
// for a statement of a few rows). The control, a transaction with the
// same setting but PostgreSQL's JIT default, compiles it where the server
// can.
func TestPipeTxCompilesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := tracedPool(t)
	explain := func(q querier) string {
		t.Helper()
		lines, err := queryAll(ctx, q, `EXPLAIN (ANALYZE) SELECT v FROM pipe_t WHERE v LIKE '%x'`, nil, func(r pgx.Row) (string, error) {
			var s string
			return s, r.Scan(&s)
		})
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	tx := begin(t, pool, false)
	plan := explain(tx)
	require.NoError(t, tx.Rollback(ctx))
	require.Contains(t, plan, "Seq Scan on pipe_t", "no index serves it")
	require.NotContains(t, plan, "JIT:", "compiled:\n%s", plan)

	var jit bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_jit_available() AND current_setting('jit')::bool`).Scan(&jit))
	if !jit {
		t.Log("control skipped: this server does not compile plans")
		return
	}
	ctl, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = ctl.Rollback(context.WithoutCancel(ctx)) }()
	_, err = ctl.Exec(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	control := explain(ctl)
	if !strings.Contains(control, "cost=10000000000") {
		// PostgreSQL 18 counts disabled nodes instead of adding a cost.
		t.Log("control skipped: this server prices a disabled scan without a penalty cost")
		return
	}
	require.Contains(t, control, "JIT:", "control: the penalty cost alone has PostgreSQL compile the plan")
}

// A follower travels after the next statement, in its round trip, sees
// what it wrote, and is read when that statement's results are closed,
// whichever call sends it.
func TestPipeTxFollow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, trips := tracedPool(t)
	values := func(got *[]string) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var err error
			*got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}
	}

	// After a query: BEGIN + insert + follower in one round trip.
	tx, err := beginPipeTx(ctx, pool, false)
	require.NoError(t, err)
	var first []string
	tx.Follow(values(&first), `SELECT v FROM pipe_t ORDER BY id`)
	rows, err := tx.Query(ctx, `INSERT INTO pipe_t VALUES (1, 'a'), (2, 'b') RETURNING id`)
	require.NoError(t, err)
	ids, err := scanAll(rows, func(r pgx.Row) (int, error) {
		var id int
		return id, r.Scan(&id)
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, ids)
	require.Equal(t, []string{"a", "b"}, first, "the follower saw the statement's rows")
	require.EqualValues(t, 1, trips.Total())

	// After an exec, and after a batch whose results the caller leaves
	// unread: the follower still gets its own rows.
	var second, third []string
	tx.Follow(values(&second), `SELECT v FROM pipe_t WHERE id > 2 ORDER BY id`)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (3, 'c')`)
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, second)
	tx.Follow(values(&third), `SELECT v FROM pipe_t WHERE id > 3 ORDER BY id`)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO pipe_t VALUES (4, 'd')`)
	b.Queue(`INSERT INTO pipe_t VALUES (5, 'e')`)
	br := tx.SendBatch(ctx, b)
	_, err = br.Exec()
	require.NoError(t, err)
	require.NoError(t, br.Close())
	require.Equal(t, []string{"d", "e"}, third)
	require.NoError(t, tx.Commit(ctx))
	require.EqualValues(t, 4, trips.Total(), "three statements with their followers, COMMIT")
	require.Equal(t, 5, count(t, pool))
}

// A follower's error is the error of the statement it followed; a
// statement's error leaves the follower unread; a follower never sent
// fails the commit, which then writes nothing.
func TestPipeTxFollowErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := tracedPool(t)
	called := false
	never := func(pgx.Rows) error { called = true; return nil }

	tx, err := beginPipeTx(ctx, pool, false)
	require.NoError(t, err)
	tx.Follow(never, `SELECT v FROM no_such_table`)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, 'a')`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "42P01", pgErr.Code)
	require.False(t, called, "the follower failed: nothing to read")
	require.ErrorIs(t, tx.Commit(ctx), pgx.ErrTxCommitRollback)

	tx, err = beginPipeTx(ctx, pool, false)
	require.NoError(t, err)
	tx.Follow(never, `SELECT v FROM pipe_t`)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, NULL)`)
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "23502", pgErr.Code)
	require.False(t, called, "the statement failed: the follower did not run")
	require.NoError(t, tx.Rollback(ctx))

	tx, err = beginPipeTx(ctx, pool, false)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO pipe_t VALUES (1, 'a')`)
	require.NoError(t, err)
	tx.Follow(never, `SELECT v FROM pipe_t`)
	require.ErrorContains(t, tx.Commit(ctx), "never sent")
	require.False(t, called)
	require.Zero(t, count(t, pool))
}

// A follower's error reaches a caller that reads the statement's rows the
// usual pgx way (Next to the end, then Err before a deferred Close).
func TestPipeTxFollowerErrorWithCollectRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := tracedPool(t)
	tx, err := beginPipeTx(ctx, pool, false)
	require.NoError(t, err)
	boom := errors.New("follower read failed")
	tx.Follow(func(pgx.Rows) error { return boom }, `SELECT v FROM pipe_t`)
	rows, err := tx.Query(ctx, `INSERT INTO pipe_t VALUES (1, 'a') RETURNING id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.ErrorIs(t, err, boom)
	require.Nil(t, ids)
	require.NoError(t, tx.Rollback(ctx))
	require.Zero(t, count(t, pool))
}

// TestPipeTxCommitThenFatal: when the server answers COMMIT and then ends
// the session (a shutdown's FATAL arriving before the pipeline's Sync is
// answered), the transaction did commit, and commitOutcome says so. The
// pipeline here ends its own session right after COMMIT; the first half
// shows that closing such a pipeline does report the FATAL, which Commit
// used to return as the commit's error.
func TestPipeTxCommitThenFatal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := tracedPool(t)
	run := func(id int, read func(br pgx.BatchResults) error) error {
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		b := &pgx.Batch{}
		b.Queue(`BEGIN`)
		b.Queue(`INSERT INTO pipe_t VALUES ($1, 'committed')`, id)
		b.Queue(`COMMIT`)
		b.Queue(`SELECT pg_terminate_backend(pg_backend_pid())`)
		br := conn.SendBatch(ctx, b)
		for range 2 {
			_, err := br.Exec()
			require.NoError(t, err)
		}
		return read(br)
	}

	err := run(1, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		require.NoError(t, err)
		require.Equal(t, "COMMIT", tag.String())
		return br.Close()
	})
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe, "the session's end arrives after COMMIT's answer")
	require.Equal(t, "57P01", pe.Code)

	require.NoError(t, run(2, commitOutcome), "COMMIT answered: committed")
	var v string
	require.NoError(t, pool.QueryRow(ctx, `SELECT v FROM pipe_t WHERE id = 2`).Scan(&v))
	require.Equal(t, "committed", v)
}

// A pipeline that settles (COMMIT as its last follower) and whose session
// then ends: COMMIT answered, so the statement that carried it succeeds
// (as commitOutcome for Commit), the transaction is committed, and a
// write deferred after it makes Commit fail instead of vanishing.
func TestSettledPipelineCommitThenFatal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, pt, s := settlingPipe(t)
	// A statement after COMMIT ends the session, as a server shutting
	// down sends FATAL before the pipeline's end is answered.
	pt.Follow(discardRows, `SELECT pg_terminate_backend(pg_backend_pid())`)
	ids, err := queryAll(ctx, pt, `INSERT INTO pipe_t VALUES (10, 'settled') RETURNING id`, nil, func(r pgx.Row) (int, error) {
		var id int
		return id, r.Scan(&id)
	})
	require.NoError(t, err, "COMMIT answered: committed")
	require.Equal(t, []int{10}, ids)
	require.True(t, s.committed)
	pt.settled()
	var v string
	require.NoError(t, pool.QueryRow(ctx, `SELECT v FROM pipe_t WHERE id = 10`).Scan(&v))
	require.Equal(t, "settled", v)

	pt.Defer(`INSERT INTO pipe_t VALUES (11, 'late')`)
	require.ErrorIs(t, pt.Commit(ctx), errWriteAfterSettle, "a write after the settle is reported")
}

// A settling pipeline that fails before any result is read (a statement
// PostgreSQL cannot prepare) leaves nothing of its COMMIT behind: begun
// again, the transaction's next pipeline does not take its outcome for
// its own.
func TestSettlingPipelineFailedThenRestarted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, pt, _ := settlingPipe(t)
	_, err := pt.Exec(ctx, `INSERT INTO no_such_table VALUES (1)`)
	require.Error(t, err)
	require.NoError(t, pt.restart(ctx))
	require.True(t, pt.fresh())
	require.Nil(t, pt.commitFollows, "the failed pipeline's COMMIT is forgotten")
}

// settlingPipe begins a transaction whose next pipeline settles (COMMIT
// follows its statement), rolled back at the test's end if it did not.
func settlingPipe(t *testing.T) (*pgxpool.Pool, *pipeTx, *settling) {
	t.Helper()
	pool, _ := tracedPool(t)
	pt := begin(t, pool, false)
	t.Cleanup(func() { _ = pt.Rollback(context.Background()) })
	s := &settling{pt: pt}
	s.commit()
	return pool, pt, s
}
