package taskerpgx

import (
	"context"
	"errors"

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
	opening int                // the first pending are BEGIN and its settings
	begun   bool               // BEGIN was sent: COMMIT or ROLLBACK is owed
	done    bool
}

var errPipeTxDone = pgx.ErrTxClosed

// beginPipeTx acquires a connection; BEGIN (and SET LOCAL
// synchronous_commit = off when async) is sent with the first statement.
func beginPipeTx(ctx context.Context, pool *pgxpool.Pool, async bool) (*pipeTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &pipeTx{conn: conn}
	t.Defer("BEGIN")
	if async {
		t.Defer("SET LOCAL synchronous_commit = off")
	}
	t.opening = len(t.pending)
	return t, nil
}

// Defer queues a write whose only result is its error: it is sent with
// the transaction's next statement, or with COMMIT.
func (t *pipeTx) Defer(sql string, args ...any) {
	t.pending = append(t.pending, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// flushWith sends the pending statements and those of b in one batch: the
// caller's results start after the pending ones'.
func (t *pipeTx) flushWith(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	n := len(t.pending)
	nb := &pgx.Batch{QueuedQueries: append(t.pending, b.QueuedQueries...)}
	t.pending, t.begun = nil, true
	br := t.conn.SendBatch(ctx, nb)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return failedBatch{err: err}
		}
	}
	return br
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.done {
		return pgconn.CommandTag{}, errPipeTxDone
	}
	if len(t.pending) == 0 {
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
	if len(t.pending) == 0 {
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
	case len(t.pending) == 0:
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
	case len(t.pending) == 0:
		return t.conn.SendBatch(ctx, b)
	}
	return t.flushWith(ctx, b)
}

// Begin is not supported: the driver does not nest transactions.
func (t *pipeTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("postgres: nested transactions are not supported")
}

// Commit sends what is pending and COMMIT in one round trip. A transaction
// that ran nothing sends nothing.
func (t *pipeTx) Commit(ctx context.Context) error {
	if t.done {
		return errPipeTxDone
	}
	t.done = true
	defer t.conn.Release()                       // a connection left in a transaction is destroyed
	if !t.begun && len(t.pending) <= t.opening { // nothing but BEGIN and its settings
		return nil
	}
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	br := t.flushWith(ctx, b)
	tag, err := br.Exec()
	if err = errors.Join(err, br.Close()); err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" { // the transaction had failed
		return pgx.ErrTxCommitRollback
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
	t.pending = nil
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
