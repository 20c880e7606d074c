package taskerpgx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerdrivertest"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func open(t *testing.T) *taskerpgx.Driver {
	t.Helper()
	d, err := taskerpgx.Open(t.Context(), pgtest.URL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	t.Parallel()
	taskerdrivertest.Exercise(t, func(t *testing.T) taskerdriver.Driver { return open(t) })
}

// Many processes may start at once: concurrent migrations of one database
// serialize on the advisory lock and all succeed.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t) // already migrated: migrating again must be a no-op
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			d, err := taskerpgx.Open(t.Context(), url)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = d.Close() }()
			errs <- d.Migrate(t.Context())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	d, err := taskerpgx.Open(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = d.Close() }()
	v, err := d.MigrationVersion(t.Context())
	require.NoError(t, err)
	files, err := filepath.Glob("migration/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	newest := 0
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err)
		newest = max(newest, n)
	}
	require.Equal(t, newest, v, "every embedded migration applied")
	var rows int
	require.NoError(t, d.Pool().QueryRow(t.Context(), `SELECT count(*) FROM tasker_migrations`).Scan(&rows))
	require.Equal(t, len(files), rows, "no migration recorded twice")
}

// A fresh, empty database migrates from nothing, concurrently.
func TestConcurrentMigrationsFromScratch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := emptyDatabase(t, "tasker_migrate_")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			d, err := taskerpgx.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = d.Close() }()
			errs <- d.Migrate(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// emptyDatabase creates an empty database, dropped at the end of the test,
// and returns its connection string.
func emptyDatabase(t *testing.T, prefix string) string {
	t.Helper()
	admin := pgtest.Server(t)
	d0, err := taskerpgx.Open(t.Context(), admin)
	require.NoError(t, err)
	name := prefix + randomSuffix(t)
	_, err = d0.Pool().Exec(t.Context(), `CREATE DATABASE `+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = d0.Pool().Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		_ = d0.Close()
	})
	return withDatabase(t, admin, name)
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	return strings.ToLower(strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
}

// withDatabase points a connection string (URL or key=value DSN) at db.
func withDatabase(t *testing.T, conn, db string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(conn)
	require.NoError(t, err)
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		require.NoError(t, err)
		u.Path = "/" + db
		return u.String()
	}
	_ = cfg
	return conn + " dbname=" + db
}

// A notification committed through one driver (process) wakes the
// subscribers of another, and the listener survives losing its connection.
func TestNotifyCrossesProcessesAndSurvivesReconnect(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, err := taskerpgx.Open(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = a.Close() }()
	b, err := taskerpgx.Open(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = b.Close() }()
	ready, unsub := b.Listener().Subscribe(taskerdriver.TopicStepsReady)
	defer unsub()
	require.True(t, b.Listener().CrossProcess())

	// Wait until b listens: notify from a until a wake-up arrives.
	waitWake := func(send func()) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			send()
			select {
			case <-ready:
				return
			case <-tick.C:
			case <-deadline:
				t.Fatal("no notification arrived")
			}
		}
	}
	notify := func() {
		require.NoError(t, a.Executor().Notify(t.Context(), taskerdriver.TopicStepsReady))
	}
	waitWake(notify)

	// Kill b's listening connection: b reconnects and still hears a.
	tag, err := a.Pool().Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected(), "b's listening connection was terminated")
	for len(ready) > 0 {
		<-ready
	}
	waitWake(notify)
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	v, err := taskerpgx.SchemaVersion()
	require.NoError(t, err)
	require.Len(t, v, 64)
	again, err := taskerpgx.SchemaVersion()
	require.NoError(t, err)
	require.Equal(t, v, again, "stable")
}

// A value PostgreSQL refuses (a number beyond numeric's range: SQL state
// 22003) is a *taskerdriver.ValueRejectedError matching ErrValueRejected,
// whose message is the driver's error's.
func TestValueRejected(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ex := open(t).Executor()
	now := time.Now().UTC()
	_, err := ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "big", Version: "1.0.0",
		IdentityHash: uuid.NewString(), RequestedAt: now, Now: now,
		Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", RetryLimit: 1}}})
	require.NoError(t, err)
	cs, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	_, err = ex.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{{StepID: cs[0].Step.ID, Owner: "w", Attempt: 1,
		State: taskertype.StateComplete, Results: []byte(`{"n": 1e1000000}`), Now: now}})
	require.ErrorIs(t, err, taskerdriver.ErrValueRejected)
	var vr *taskerdriver.ValueRejectedError
	require.ErrorAs(t, err, &vr)
	require.Equal(t, "22003", vr.Code)
	require.NotEmpty(t, vr.Reason)
	require.Contains(t, err.Error(), "SQLSTATE 22003")
	var other *taskerdriver.ValueRejectedError
	require.False(t, errors.As(errors.New("x"), &other))
}

// A database migrated when PostgreSQL numbered its migrations on its own
// (001_initial, 002_outbox, 003_queues) is renumbered to the numbering both
// drivers share, runs only what it lacks, and works.
func TestMigrateFromOldNumbering(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := taskerpgx.Open(ctx, emptyDatabase(t, "tasker_renumber_"))
	require.NoError(t, err)
	defer func() { _ = d.Close() }()

	// The old layout: the same schema, recorded as versions 1 to 3.
	_, err = d.Pool().Exec(ctx, `CREATE TABLE tasker_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	for i, old := range []struct{ file, name string }{
		{"001_initial.sql", "001_initial.sql"}, {"003_outbox.sql", "002_outbox.sql"}, {"004_queues.sql", "003_queues.sql"},
	} {
		body, err := os.ReadFile(filepath.Join("migration", old.file))
		require.NoError(t, err)
		_, err = d.Pool().Exec(ctx, string(body))
		require.NoError(t, err)
		_, err = d.Pool().Exec(ctx, `INSERT INTO tasker_migrations (version, name) VALUES ($1, $2)`, i+1, old.name)
		require.NoError(t, err)
	}
	v, err := d.MigrationVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, v)

	for range 2 { // idempotent
		require.NoError(t, d.Migrate(ctx), "nothing runs twice (004_queues would fail: its column exists)")
	}
	v, err = d.MigrationVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, taskerdrivertest.MigrationVersion, v)
	rows, err := d.Pool().Query(ctx, `SELECT version, name FROM tasker_migrations ORDER BY version`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var n int
		var s string
		require.NoError(t, rows.Scan(&n, &s))
		got = append(got, fmt.Sprintf("%d %s", n, s))
	}
	require.NoError(t, rows.Err())
	// Every migration file once, under its own number (the old names
	// renumbered).
	files, err := os.ReadDir("migration")
	require.NoError(t, err)
	var want []string
	for _, f := range files {
		n, err := strconv.Atoi(f.Name()[:3])
		require.NoError(t, err)
		want = append(want, fmt.Sprintf("%d %s", n, f.Name()))
	}
	require.Equal(t, []string{"1 001_initial.sql", "2 002_maintenance.sql", "3 003_outbox.sql", "4 004_queues.sql"}, want[:4])
	require.Equal(t, want, got)

	now := time.Now().UTC()
	res, err := d.Executor().TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "t", Version: "1.0.0",
		IdentityHash: "x", RequestedAt: now, Now: now,
		Steps: []taskerdriver.StepCreateParams{{Name: "only", Handler: "h", Queue: "billing", RetryLimit: 1}}})
	require.NoError(t, err)
	require.Equal(t, "billing", res.Steps[0].Queue)
}

// TestUnavailableWhenRefused: a PostgreSQL that refuses connections is an
// ErrUnavailable for every caller (an API's 503), never a bare pgx error.
func TestUnavailableWhenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	d, err := taskerpgx.Open(t.Context(), "postgres://tasker:secret@"+addr+"/nodb?sslmode=disable&connect_timeout=5")
	require.NoError(t, err, "the pool connects lazily")
	defer func() { _ = d.Close() }()
	_, err = d.Executor().TaskGet(t.Context(), 1)
	require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
	_, err = d.Executor().Begin(t.Context())
	require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
	require.ErrorIs(t, d.Migrate(t.Context()), taskerdriver.ErrUnavailable)
	_, err = d.MigrationVersion(t.Context())
	require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
}

// jsonclean.BadNumber, the rule the API applies to every JSON it stores on
// both databases, agrees with PostgreSQL on numbers at the edges of numeric's
// range.
func TestBadNumberAgreesWithPostgres(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	for _, n := range []string{`1e131071`, `1e131072`, `1e999999`, `-1e999999`, `1e-16383`, `1e-16384`, `1e-99999`,
		`1.5e-16382`, `1.55e-16382`, `0e999999`, `0.0e-99999`, `0.001e131074`, `0.001e131075`, `1e99999999999`,
		`0e99999999999`, `1e-2147483648`, `12.5`, `-0`, `1E+3`, `1` + strings.Repeat("0", 131071), `1` + strings.Repeat("0", 131072)} {
		var s string
		pgErr := conn.QueryRow(t.Context(), `SELECT ($1::text)::jsonb::text`, `[`+n+`]`).Scan(&s)
		require.Equal(t, pgErr == nil, jsonclean.BadNumber([]byte(`[`+n+`]`)) == "", "%.40s: PostgreSQL says %v", n, pgErr)
	}
}

// driverkit.PGNumber, the text SQLite's driver stores the numbers of
// annotations as (so that its annotation filter compares as PostgreSQL's
// annotation ->> key does), is PostgreSQL's own text of every number:
// hand-picked edges and a deterministic sweep of mantissas and exponents.
func TestPGNumberAgreesWithPostgres(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	nums := []string{`0`, `-0`, `0.0`, `-0.000`, `1`, `-1`, `1.50`, `100`, `1e2`, `1E+2`, `1e-2`, `-1.5e-3`, `12.5e1`, `12.5e-1`,
		`0.001e2`, `0.001e3`, `0.001e4`, `100e-2`, `0e5`, `0.0e-3`, `-0e-2`, `123456789012345678901234567890`, `1e40`,
		`9.999e-20`, `1.000e3`, `5e0`, `-7.25E+00`}
	for _, m := range []string{"1", "-1", "0", "12", "-305", "1.5", "0.25", "-10.010", "0.000", "7.0"} {
		for _, e := range []string{"", "e0", "e1", "e-1", "e3", "E-4", "e+2", "e-10"} {
			nums = append(nums, m+e)
		}
	}
	for _, n := range nums {
		var s string
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT ($1::text)::jsonb ->> 0`, `[`+n+`]`).Scan(&s), n)
		require.Equal(t, s, driverkit.PGNumber(n), "%s", n)
	}
}
