package pgtest

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Trips is a pgx tracer (set it as ConnConfig.Tracer) that counts what the
// connections send to the server: Statements, the queries sent alone, and
// Batches. Tests use it to hold the round trips of an operation.
type Trips struct {
	Statements, Batches atomic.Int64
}

// Total is the round trips counted: Statements plus Batches.
func (c *Trips) Total() int64 { return c.Statements.Load() + c.Batches.Load() }

// Reset sets both counts to 0.
func (c *Trips) Reset() {
	c.Statements.Store(0)
	c.Batches.Store(0)
}

// TraceQueryStart counts a statement.
func (c *Trips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.Statements.Add(1)
	return ctx
}

// TraceQueryEnd does nothing.
func (*Trips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts a batch.
func (c *Trips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.Batches.Add(1)
	return ctx
}

// TraceBatchQuery does nothing.
func (*Trips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (*Trips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
