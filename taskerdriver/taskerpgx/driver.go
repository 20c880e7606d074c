package taskerpgx

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// migrationLockKey is the advisory lock held while migrating.
const migrationLockKey = 0x7461736b6572 // "tasker"

// driverName prefixes the driver's errors.
const driverName = "postgres"

// Driver is the PostgreSQL implementation of taskerdriver.Driver.
type Driver struct {
	pool     *pgxpool.Pool
	ownsPool bool
	listener *listener
}

var _ taskerdriver.Driver = (*Driver)(nil)

// Open connects to the database at connString (a postgres:// URL or a
// key=value DSN) with a pgxpool. It does not migrate: call Migrate (the
// engine does so at start).
func Open(ctx context.Context, connString string) (*Driver, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection string: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	d := New(pool)
	d.ownsPool = true
	return d, nil
}

// New wraps a caller's pool. Use it to create tasks inside your own
// transactions (Driver.UnwrapTx with a pgx.Tx of pool). Close does not close
// the pool.
func New(pool *pgxpool.Pool) *Driver {
	d := &Driver{pool: pool}
	d.listener = newListener(pool)
	return d
}

// Pool returns the driver's pool.
func (d *Driver) Pool() *pgxpool.Pool { return d.pool }

// Name implements taskerdriver.Driver.
func (d *Driver) Name() string { return "postgres" }

// Executor implements taskerdriver.Driver.
// Its errors are marked as *taskerdriver.UnavailableError when PostgreSQL
// cannot be reached or does not answer in time.
func (d *Driver) Executor() taskerdriver.Executor {
	return driverkit.Guard(&executor{d: d, q: d.pool}, down)
}

// AsyncCommitExecutor implements taskerdriver.AsyncCommitter: its
// transactions set synchronous_commit = off for themselves (sent with BEGIN,
// in the same round trip), so their commits do not wait for the WAL flush.
func (d *Driver) AsyncCommitExecutor() taskerdriver.Executor {
	return driverkit.Guard(&executor{d: d, q: d.pool, async: true}, down)
}

var _ taskerdriver.AsyncCommitter = (*Driver)(nil)

// UnwrapTx implements taskerdriver.Driver for a pgx.Tx.
func (d *Driver) UnwrapTx(tx any) (taskerdriver.ExecutorTx, error) {
	t, ok := tx.(pgx.Tx)
	if !ok {
		return nil, fmt.Errorf("%w: the PostgreSQL driver takes a pgx.Tx, got %T", taskerdriver.ErrUnsupportedTx, tx)
	}
	// pg_notify inside the caller's transaction is delivered only if it commits.
	return driverkit.Guard(&executor{d: d, q: t, tx: t, borrowed: true}, down), nil
}

// Listener implements taskerdriver.Driver.
func (d *Driver) Listener() taskerdriver.Listener { return d.listener }

// Close implements taskerdriver.Driver.
func (d *Driver) Close() error {
	d.listener.close()
	if d.ownsPool {
		d.pool.Close()
	}
	return nil
}

// Migrate implements taskerdriver.Driver. It holds a session advisory lock
// while it works, so processes starting together migrate one at a time, and
// applies each pending migration in its own transaction. A database that
// cannot be reached is a *taskerdriver.UnavailableError.
func (d *Driver) Migrate(ctx context.Context) error { return unavailable(d.migrate(ctx)) }

func (d *Driver) migrate(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS tasker_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: create migrations table: %w", err)
	}
	if err := renumber(ctx, conn); err != nil {
		return fmt.Errorf("postgres: renumber migrations: %w", err)
	}
	ms, err := driverkit.Migrations(migrationFS, "migration")
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM tasker_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO tasker_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// renumber moves a database migrated when PostgreSQL numbered its
// migrations on its own (002_outbox, 003_queues) to the numbering that both
// drivers share (002_maintenance, 003_outbox, 004_queues), so that the same
// schema has the same version on both. It runs nothing but the bookkeeping:
// 002_maintenance changes nothing on PostgreSQL, whose 001 already has what
// it adds on SQLite. It is idempotent, and runs under the migration lock.
func renumber(ctx context.Context, conn *pgxpool.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var old bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasker_migrations WHERE version = 2 AND name = '002_outbox.sql')`).Scan(&old); err != nil {
			return err
		}
		if !old {
			return nil
		}
		for _, q := range []string{
			`UPDATE tasker_migrations SET version = 4, name = '004_queues.sql' WHERE version = 3 AND name = '003_queues.sql'`,
			`UPDATE tasker_migrations SET version = 3, name = '003_outbox.sql' WHERE version = 2 AND name = '002_outbox.sql'`,
			`INSERT INTO tasker_migrations (version, name) VALUES (2, '002_maintenance.sql')`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// MigrationVersion implements taskerdriver.Driver.
func (d *Driver) MigrationVersion(ctx context.Context) (int, error) {
	v, err := d.migrationVersion(ctx)
	return v, unavailable(err)
}

func (d *Driver) migrationVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := d.pool.QueryRow(ctx, `SELECT to_regclass('tasker_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v *int
	if err := d.pool.QueryRow(ctx, `SELECT max(version) FROM tasker_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// Reconnect backoff of the listener.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
)

// SchemaVersion identifies the schema Migrate produces: a SHA-256 of the
// embedded migrations (names and SQL). Test harnesses use it to share one
// migrated template database between test binaries built from the same
// migrations.
func SchemaVersion() (string, error) {
	ms, err := driverkit.Migrations(migrationFS, "migration")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", m.Version, m.Name, m.SQL)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
