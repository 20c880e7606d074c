package taskerpgx

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeTx is a transaction on a pooled connection that saves round trips:
// BEGIN, and the writes deferred with Defer, travel in one pipeline with
// the transaction's next statement (or with COMMIT), and a transaction that
// ran nothing ends without a round trip. Statements see exactly what they
// would see had each been sent alone: PostgreSQL runs a pipeline in order,
// and an error in a deferred write fails the call that sent it (the
// transaction is then aborted, as it would have been).
//
// It is used by one goroutine at a time, like pgx.Tx.
type pipeTx struct {
	conn    *pgxpool.Conn
	pending []*pgx.QueuedQuery // sent before the next statement
	follow  []follower         // sent after the next statement
	opening int                // the first pending are BEGIN and its settings
	begun   bool               // BEGIN was sent: COMMIT or ROLLBACK is owed
	done    bool
	// committed: COMMIT travelled in a pipeline of the transaction's
	// statements (settled), so Commit has nothing left to do.
	committed bool
	// commitFollows, when set, says that the last follower, COMMIT, was
	// answered COMMIT: an error closing that pipeline after it is not
	// the transaction's (commitOutcome).
	commitFollows *bool
	// late: a write was deferred after the transaction settled; it was
	// dropped, and Commit fails.
	late  bool
	async bool
}

var errPipeTxDone = pgx.ErrTxClosed

// errWriteAfterSettle is Commit's error when a write was deferred after a
// pipeline committed the transaction (settled): the write was lost.
var errWriteAfterSettle = errors.New("postgres: a write was sent after the transaction had settled (committed with its pass); it was not written")

// beginPipeTx acquires a connection; BEGIN and the transaction's settings
// (txSettingsSQL, or asyncTxSettingsSQL when async) are sent with the first
// statement.
func beginPipeTx(ctx context.Context, pool *pgxpool.Pool, async bool) (*pipeTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &pipeTx{conn: conn, async: async}
	t.open()
	return t, nil
}

// open queues BEGIN and the transaction's settings.
func (t *pipeTx) open() {
	t.Defer("BEGIN")
	if t.async {
		t.Defer(asyncTxSettingsSQL)
	} else {
		t.Defer(txSettingsSQL)
	}
	t.opening = len(t.pending)
}

// fresh: nothing was sent or queued but BEGIN and its settings.
func (t *pipeTx) fresh() bool {
	return !t.done && !t.begun && len(t.pending) == t.opening && len(t.follow) == 0
}

// settled records that the transaction was committed by a COMMIT its
// last pipeline carried, and releases the connection.
func (t *pipeTx) settled() {
	t.done, t.committed, t.begun = true, true, false
	t.pending, t.follow, t.commitFollows = nil, nil, nil
	t.conn.Release()
}

// restart rolls the transaction back and begins it again (with the next
// statement, as at first): what it wrote is gone.
func (t *pipeTx) restart(ctx context.Context) error {
	t.pending, t.follow, t.commitFollows = nil, nil, nil
	if t.begun {
		if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
			// The transaction's state is unknown: nothing more runs in
			// it. The pool destroys a connection released in a
			// transaction.
			t.done = true
			t.conn.Release()
			return err
		}
		t.begun = false
	}
	t.open()
	return nil
}

// txSettingsSQL sets, for the driver's own transactions only (set_config's
// is_local, as SET LOCAL), in one statement:
//
//   - enable_seqscan off: sequential scans are priced out. Every statement
//     there can reach its rows by an index, but on small tables (a new
//     database, or one emptied and vacuumed) PostgreSQL prices a
//     whole-table scan cheaper, and the generic plan a prepared statement
//     settles on then is kept until the table's statistics change. This
//     keeps small and middling tables on index plans; it does not make a
//     plan made on empty statistics good at any size (the planner may pick
//     an index scan without a selective condition instead):
//     RefreshStatistics, run by the maintenance leader, replans those as
//     the tables grow. TestWriteTransactionsPlanWithoutSeqScans.
//   - jit off: the engine's statements touch a few rows each. A plan that
//     had to keep a sequential scan (no index serves it) carries the
//     setting's penalty cost (before PostgreSQL 18, which counts disabled
//     nodes instead), far above jit_above_cost, and compiling it would take
//     tens of milliseconds.
const txSettingsSQL = `SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)`

// asyncTxSettingsSQL is txSettingsSQL with synchronous_commit off, for
// WorkerConfig.AsyncCommit's passes (docs/design.md).
const asyncTxSettingsSQL = txSettingsSQL + `, set_config('synchronous_commit', 'off', true)`

// Defer queues a write whose only result is its error: it is sent with
// the transaction's next statement, or with COMMIT.
func (t *pipeTx) Defer(sql string, args ...any) {
	if t.committed {
		t.late = true // Commit reports it
		return
	}
	t.pending = append(t.pending, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// follower is a query sent after the transaction's next statement, in the
// same round trip; read receives its rows once that statement's results
// are read.
type follower struct {
	sql  string
	args []any
	read func(pgx.Rows) error
}

// Follow queues a query that travels after the transaction's next
// statement, in the same pipeline: read is called with its rows when the
// results of that statement are closed (its error, or read's, is then the
// statement's error). A query that must follow another whose results
// decide nothing about it (a worker pass's claim after its results) costs
// no round trip of its own. The next statement must be sent before
// Commit.
func (t *pipeTx) Follow(read func(pgx.Rows) error, sql string, args ...any) {
	if t.committed {
		t.late = true // Commit reports it
		return
	}
	t.follow = append(t.follow, follower{sql: sql, args: args, read: read})
}

// followRows is Follow of a query whose rows, scanned with scan, go to
// *dest.
func followRows[T any](t *pipeTx, dest *[]T, scan func(pgx.Row) (T, error), sql string, args ...any) {
	t.Follow(func(rows pgx.Rows) error {
		var err error
		*dest, err = scanAll(rows, scan)
		return err
	}, sql, args...)
}

// idle: nothing is queued to travel with the next statement.
func (t *pipeTx) idle() bool { return len(t.pending) == 0 && len(t.follow) == 0 }

// flushWith sends the pending statements, those of b and the followers in
// one batch: the caller's results start after the pending ones', and the
// followers are read when the caller closes the results.
func (t *pipeTx) flushWith(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	n := len(t.pending)
	queued := append(t.pending, b.QueuedQueries...)
	for _, f := range t.follow {
		queued = append(queued, &pgx.QueuedQuery{SQL: f.sql, Arguments: f.args})
	}
	follow, committed := t.follow, t.commitFollows
	t.pending, t.follow, t.commitFollows, t.begun = nil, nil, nil, true
	br := t.conn.SendBatch(ctx, &pgx.Batch{QueuedQueries: queued})
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return failedBatch{err: err}
		}
	}
	if len(follow) == 0 {
		return br
	}
	return &followedBatch{BatchResults: br, unread: len(b.QueuedQueries), follow: follow, committed: committed}
}

// followedBatch is a batch whose last results are followers': closing it
// reads the caller's unread results, then gives the followers theirs.
type followedBatch struct {
	pgx.BatchResults
	unread int // the caller's results not read yet
	follow []follower
	err    error // the first error the caller read
	// committed: see pipeTx.commitFollows.
	committed *bool
}

func (b *followedBatch) Exec() (pgconn.CommandTag, error) {
	b.unread--
	tag, err := b.BatchResults.Exec()
	b.err = cmp.Or(b.err, err)
	return tag, err
}

func (b *followedBatch) Query() (pgx.Rows, error) {
	b.unread--
	rows, err := b.BatchResults.Query()
	b.err = cmp.Or(b.err, err)
	return rows, err
}

func (b *followedBatch) QueryRow() pgx.Row {
	rows, err := b.Query()
	if err != nil {
		return errRow{err: err}
	}
	return firstRow{rows: rows}
}

func (b *followedBatch) Close() error {
	if b.follow == nil {
		return b.BatchResults.Close()
	}
	follow := b.follow
	b.follow = nil
	for ; b.unread > 0 && b.err == nil; b.unread-- {
		_, b.err = b.BatchResults.Exec()
	}
	if b.err != nil { // the pipeline stopped at the caller's error
		return b.BatchResults.Close()
	}
	for _, f := range follow {
		if b.committed != nil && *b.committed {
			break // what follows COMMIT is not the transaction's
		}
		rows, err := b.BatchResults.Query()
		if err == nil {
			err = f.read(rows)
			rows.Close()
			err = cmp.Or(err, rows.Err())
		}
		if err != nil {
			return errors.Join(err, b.BatchResults.Close())
		}
	}
	err := b.BatchResults.Close()
	if b.committed != nil && *b.committed {
		return nil // once COMMIT has answered, the transaction is committed (commitOutcome)
	}
	return err
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.done {
		return pgconn.CommandTag{}, errPipeTxDone
	}
	if t.idle() {
		return t.conn.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.flushWith(ctx, b)
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.done {
		return nil, errPipeTxDone
	}
	if t.idle() {
		return t.conn.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.flushWith(ctx, b)
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	switch {
	case t.done:
		return errRow{err: errPipeTxDone}
	case t.idle():
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err: err}
	}
	return firstRow{rows: rows}
}

func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	switch {
	case t.done:
		return failedBatch{err: errPipeTxDone}
	case t.idle():
		return t.conn.SendBatch(ctx, b)
	}
	return t.flushWith(ctx, b)
}

// Begin is not supported: the driver does not nest transactions.
func (t *pipeTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("postgres: nested transactions are not supported")
}

// Commit sends what is pending and COMMIT in one round trip. A transaction
// that ran nothing sends nothing; one that a pipeline committed
// (settled) is done.
func (t *pipeTx) Commit(ctx context.Context) error {
	if t.committed {
		if t.late {
			return errWriteAfterSettle
		}
		return nil
	}
	if t.done {
		return errPipeTxDone
	}
	t.done = true
	defer t.conn.Release() // a connection left in a transaction is destroyed
	if len(t.follow) > 0 {
		// A follower never sent: committing would lose what it was to
		// write or read.
		t.pending, t.follow = nil, nil
		if t.begun {
			_, _ = t.conn.Exec(ctx, "ROLLBACK")
		}
		return errors.New("postgres: a pipelined query was queued but never sent; the transaction was rolled back")
	}
	if !t.begun && len(t.pending) <= t.opening { // nothing but BEGIN and its settings
		return nil
	}
	if t.begun && t.conn.Conn().PgConn().TxStatus() == 'I' {
		// BEGIN was sent in a pipeline that failed before running it (a
		// statement PostgreSQL could not prepare): no transaction is open,
		// nothing was written, and COMMIT would only warn.
		return pgx.ErrTxCommitRollback
	}
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	return commitOutcome(t.flushWith(ctx, b))
}

// commitOutcome reads the result of a pipeline whose next statement is
// COMMIT, and closes it. Once COMMIT has answered, the transaction is
// committed whatever the connection does next: an error that arrives after
// it (the server shutting down sends FATAL before the pipeline's Sync is
// answered) is not the commit's, and reporting it would make the caller
// redo or abandon work that did commit (a worker would leave the steps the
// pass claimed unrun until their leases expire).
func commitOutcome(br pgx.BatchResults) error {
	tag, err := br.Exec()
	closeErr := br.Close()
	switch {
	case err != nil:
		return errors.Join(err, closeErr)
	case tag.String() == "ROLLBACK": // the transaction had failed
		return pgx.ErrTxCommitRollback
	case tag.String() != "COMMIT":
		return errors.Join(fmt.Errorf("postgres: COMMIT answered %q", tag.String()), closeErr)
	}
	return nil
}

// Rollback rolls back, dropping what is pending; it is a no-op after
// Commit or Rollback.
func (t *pipeTx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	t.pending, t.follow = nil, nil
	defer t.conn.Release()
	if !t.begun {
		return nil
	}
	_, err := t.conn.Exec(ctx, "ROLLBACK")
	return err
}

// batchRows are the rows of a pipeline's statement: closing them closes
// the pipeline.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

// Next closes the rows once they are read to the end, so that Err, read
// before a deferred Close (pgx.CollectRows, a Next loop), reports what
// closing found: a follower's error (pipeTx.Follow).
func (r *batchRows) Next() bool {
	if r.closed {
		return false
	}
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// firstRow scans the first of rows, as pgx's QueryRow does.
type firstRow struct{ rows pgx.Rows }

func (r firstRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		r.rows.Close()
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// failedBatch answers every result of a batch that could not be sent with
// its error.
type failedBatch struct{ err error }

func (b failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b failedBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b failedBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b failedBatch) Close() error                     { return b.err }
func (b failedBatch) Tx() pgx.Tx                       { return nil }
