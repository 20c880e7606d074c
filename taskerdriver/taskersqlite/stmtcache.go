package taskersqlite

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// maxCachedStatements bounds the prepared-statement cache; queries past it
// run unprepared. The driver's queries are static text (lists are passed as
// JSON arrays to json_each), so the cache holds a few dozen statements.
const maxCachedStatements = 256

// stmtCache keeps prepared statements by query text, so SQLite parses and
// plans each statement once per connection instead of on every call (the
// parser was a third of the engine's CPU time before it).
//
// Statements for the writer are prepared between transactions: preparing
// needs the writer's only connection, which a running transaction holds. A
// query first seen inside a transaction runs unprepared and is queued; the
// next Begin prepares it.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stmts[q]
	if s == nil && len(c.stmts)+len(c.wanted) < maxCachedStatements {
		c.wanted[q] = true
	}
	return s
}

// prepareWanted prepares the queued statements. It must not be called while
// the caller holds a connection of c.db. The lock is not held while
// preparing: preparing may wait for a connection that a transaction holds,
// and that transaction needs the lock to look statements up.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		queries = append(queries, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range queries {
		c.prepare(ctx, q)
	}
}

// prepare prepares q (without holding the lock) and caches it.
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // e.g. a table that a later migration creates: stays unprepared
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[q]; prev != nil {
		_ = s.Close()
		return prev
	}
	if len(c.stmts) >= maxCachedStatements {
		_ = s.Close()
		return nil
	}
	c.stmts[q] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
}

// dbQuerier runs queries on a pool through the cache. A pool has
// connections to spare outside transactions, so a miss is prepared at once.
type dbQuerier struct{ c *stmtCache }

func (c *stmtCache) getOrPrepare(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	s, full := c.stmts[q], len(c.stmts) >= maxCachedStatements
	c.mu.Unlock()
	if s != nil || full {
		return s
	}
	return c.prepare(ctx, q)
}

func (q dbQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := q.c.getOrPrepare(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return q.c.db.ExecContext(ctx, query, args...)
}

func (q dbQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := q.c.getOrPrepare(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return q.c.db.QueryContext(ctx, query, args...)
}

func (q dbQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := q.c.getOrPrepare(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return q.c.db.QueryRowContext(ctx, query, args...)
}

// txQuerier runs queries in a transaction through the writer's cache,
// inserting the transaction's deferred transitions first when a query could
// see them (def nil: none are deferred).
type txQuerier struct {
	c   *stmtCache
	tx  *sql.Tx
	def *deferredTransitions
}

func (q txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.def.before(ctx, q, query); err != nil {
		return nil, err
	}
	if s := q.c.get(query); s != nil {
		return q.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := q.def.before(ctx, q, query); err != nil {
		return nil, err
	}
	if s := q.c.get(query); s != nil {
		return q.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// After a failed insert of the deferred rows the transaction is rolled
	// back: the row's Scan reports sql.ErrTxDone, the commit the cause.
	_ = q.def.before(ctx, q, query)
	if s := q.c.get(query); s != nil {
		return q.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

// idsJSON encodes ids as a JSON array for json_each.
func idsJSON(ids []int64) string {
	var b strings.Builder
	b.Grow(len(ids)*8 + 2)
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return b.String()
}
