package taskersqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// driverName prefixes the driver's errors.
const driverName = "sqlite"

// Driver is the SQLite implementation of taskerdriver.Driver.
type Driver struct {
	r, w           *sql.DB
	rcache, wcache *stmtCache
	hub            *hub
	ownsDB         bool
}

var _ taskerdriver.Driver = (*Driver)(nil)

// Open opens (creating if needed) the SQLite database file at path, in WAL
// mode, with a busy timeout and foreign keys on. It does not migrate: call
// Migrate (the engine does so at start).
func Open(path string) (*Driver, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path: give a file path such as tasker.db")
	}
	if dir := filepath.Dir(path); dir != "." {
		if _, err := filepathStat(dir); err != nil {
			return nil, fmt.Errorf("sqlite: directory of database %q: %w", path, err)
		}
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return &Driver{r: r, w: w, rcache: newStmtCache(r), wcache: newStmtCache(w), hub: newHub(), ownsDB: true}, nil
}

// New wraps a caller's *sql.DB opened with the "sqlite" driver. Use it to
// create tasks inside your own transactions (Driver.UnwrapTx with a *sql.Tx of
// db). The database should be in WAL mode with a busy timeout, and db should
// have SetMaxOpenConns(1) unless you handle SQLITE_BUSY yourself. Close does
// not close db.
func New(db *sql.DB) *Driver {
	return &Driver{r: db, w: db, rcache: newStmtCache(db), wcache: newStmtCache(db), hub: newHub()}
}

// Name implements taskerdriver.Driver.
func (d *Driver) Name() string { return "sqlite" }

// Executor implements taskerdriver.Driver.
// Its errors are marked as *taskerdriver.UnavailableError when the
// database stays locked beyond its busy timeout or a deadline passes.
func (d *Driver) Executor() taskerdriver.Executor {
	return driverkit.Guard(&executor{d: d, r: dbQuerier{d.rcache}}, down)
}

// UnwrapTx implements taskerdriver.Driver for a *sql.Tx.
func (d *Driver) UnwrapTx(tx any) (taskerdriver.ExecutorTx, error) {
	t, ok := tx.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("%w: the SQLite driver takes a *sql.Tx, got %T", taskerdriver.ErrUnsupportedTx, tx)
	}
	// Notifications fire at once: the caller's commit is not observable, and a
	// worker woken early that finds nothing waits for its fallback poll.
	q := txQuerier{d.wcache, t, nil}
	return driverkit.Guard(&executor{d: d, r: q, w: q, tx: t, borrowed: true}, down), nil
}

// Listener implements taskerdriver.Driver.
func (d *Driver) Listener() taskerdriver.Listener { return d.hub }

// Close implements taskerdriver.Driver.
func (d *Driver) Close() error {
	d.rcache.close()
	d.wcache.close()
	if !d.ownsDB {
		return nil
	}
	return errors.Join(d.r.Close(), d.w.Close())
}

// Migrate implements taskerdriver.Driver: it applies every embedded migration
// newer than the database's version, each in its own transaction.
func (d *Driver) Migrate(ctx context.Context) error { return unavailable(d.migrate(ctx)) }

func (d *Driver) migrate(ctx context.Context) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS tasker_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create migrations table: %w", err)
	}
	ms, err := driverkit.Migrations(migrationFS, "migration")
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := d.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) apply(ctx context.Context, m driverkit.Migration) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tasker_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tasker_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// MigrationVersion implements taskerdriver.Driver.
func (d *Driver) MigrationVersion(ctx context.Context) (int, error) {
	v, err := d.migrationVersion(ctx)
	return v, unavailable(err)
}

func (d *Driver) migrationVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.r.QueryRowContext(ctx, `SELECT max(version) FROM tasker_migrations`).Scan(&v)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, nil
		}
		return 0, err
	}
	return int(v.Int64), nil
}

// hub is the in-process notification fan-out.
type hub struct{ driverkit.Hub }

func newHub() *hub { return &hub{} }

// CrossProcess implements taskerdriver.Listener: notifications stay in this
// process.
func (h *hub) CrossProcess() bool { return false }

func (h *hub) notify(topic string) { h.Notify(topic) }
