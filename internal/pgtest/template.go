package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// templatePrefix and testPrefix begin the names of the databases this
	// package creates, so that leftovers can be recognized and dropped.
	templatePrefix = "tasker_tpl_"
	testPrefix     = "tasker_t_"

	// advisoryLockKey serializes template creation across test processes
	// sharing a server ("taskpg" in ASCII).
	advisoryLockKey int64 = 0x7461736b7067

	// templateUnusedTTL is how long a template of another schema may stay
	// unused before it is dropped; testDatabaseTTL is the age after which a
	// test database is considered leaked by a crashed process.
	templateUnusedTTL = time.Hour
	testDatabaseTTL   = 24 * time.Hour

	// harnessVersion changes the template names when the way templates are
	// built changes.
	harnessVersion = "pgtest-1"
)

// Errors of CREATE DATABASE ... TEMPLATE that a retry can fix.
const (
	codeObjectInUse     = "55006" // source database is being accessed by other users
	codeInvalidCatalog  = "3D000" // the template was dropped meanwhile
	createDatabaseTries = 8
)

// connect opens an administrative connection.
func (s *server) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, s.admin)
}

// createDatabase creates the test database name, a clone of the template.
func (s *server) createDatabase(ctx context.Context, name string) error {
	for attempt := 1; ; attempt++ {
		tpl, err := s.ensureTemplate(ctx)
		if err != nil {
			return err
		}
		err = s.exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tpl))
		var pgErr *pgconn.PgError
		if err == nil || attempt == createDatabaseTries || !errors.As(err, &pgErr) {
			return err
		}
		switch pgErr.Code {
		case codeObjectInUse:
			// A connection to the template is still closing (PostgreSQL
			// already waited 5 s for it); wait a little longer.
		case codeInvalidCatalog:
			s.forgetTemplate(tpl)
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// dropDatabase drops a test database, closing the connections still open.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	return s.exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)")
}

// exec runs one statement on a new administrative connection.
func (s *server) exec(ctx context.Context, sql string) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// forgetTemplate makes the next ensureTemplate check tpl again.
func (s *server) forgetTemplate(tpl string) {
	s.tplMu.Lock()
	defer s.tplMu.Unlock()
	if s.template == tpl {
		s.template = ""
	}
}

// ensureTemplate returns the name of the migrated template database,
// creating it if it does not exist yet. Concurrent test processes sharing
// the server serialize on an advisory lock, so one creates and migrates the
// template and the others wait and reuse it.
func (s *server) ensureTemplate(ctx context.Context) (string, error) {
	s.tplMu.Lock()
	defer s.tplMu.Unlock()
	if s.template != "" {
		return s.template, nil
	}
	// A throwaway cluster lives as long as the process: one name will do.
	shared := s.mode == modeExternal
	migrate, key, err := migration(shared)
	if err != nil {
		return "", err
	}
	name := templatePrefix + "local"
	if shared {
		name = templateName(key)
	}

	conn, err := s.connect(ctx)
	if err != nil {
		return "", err
	}
	// Closing the connection also releases the advisory lock.
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", advisoryLockKey); err != nil {
		return "", fmt.Errorf("waiting for the template lock: %w", err)
	}

	var isTemplate bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		// Built by an earlier process: reuse it.
	case err == nil || errors.Is(err, pgx.ErrNoRows):
		// Missing, or left half-built by a process that died migrating it.
		if err := s.buildTemplate(ctx, conn, name, migrate); err != nil {
			return "", fmt.Errorf("creating template database %s: %w", name, err)
		}
	default:
		return "", err
	}
	if shared {
		if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident(name)+" IS "+usedComment(time.Now())); err != nil {
			return "", err
		}
		if err := dropLeftovers(ctx, conn, name); err != nil {
			return "", fmt.Errorf("dropping stale test databases: %w", err)
		}
	}
	s.template = name
	return name, nil
}

// templateName returns the name of the template of schema identity key.
func templateName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return templatePrefix + hex.EncodeToString(sum[:6])
}

// migration returns the registered migrate function and, when withKey is
// set, the identity of the schema it builds; it freezes both.
func migration(withKey bool) (func(context.Context, string) error, string, error) {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	migrateUsed = true
	key := harnessVersion
	switch {
	case !withKey:
	case migrateFn == nil:
		key += "|empty"
	case migrateVersion != "":
		key = versionKey(migrateVersion)
	default:
		exe, err := executableHash()
		if err != nil {
			return nil, "", fmt.Errorf("identifying the test binary for the template name: %w", err)
		}
		key += "|binary=" + exe
	}
	return migrateFn, key, nil
}

// versionKey is the identity of the schema named version by SetMigrateVersion.
func versionKey(version string) string {
	return harnessVersion + "|version=" + version
}

// executableHash returns the SHA-256 of the running test binary.
func executableHash() (string, error) {
	path, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildTemplate (re)creates the template database name and migrates it.
func (s *server) buildTemplate(ctx context.Context, conn *pgx.Conn, name string, migrate func(context.Context, string) error) error {
	if err := dropTemplate(ctx, conn, name); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE template0"); err != nil {
		return err
	}
	fail := func(err error) error {
		if dropErr := dropTemplate(ctx, conn, name); dropErr != nil {
			return errors.Join(err, dropErr)
		}
		return err
	}
	if migrate != nil {
		u, err := withDatabase(s.admin, name)
		if err != nil {
			return fail(err)
		}
		if err := migrate(ctx, u); err != nil {
			return fail(fmt.Errorf("migrate: %w", err))
		}
	}
	// Forbid new connections (nothing but CREATE DATABASE reads a template),
	// then close those the migration left open: they would make every clone
	// fail.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fail(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fail(err)
	}
	return nil
}

// dropTemplate drops the database name if it exists, template or not.
func dropTemplate(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil || !exists {
		return err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE false"); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "DROP DATABASE "+ident(name)+" WITH (FORCE)")
	return err
}

// dropLeftovers drops, on a shared server, the templates of other schemas
// unused for templateUnusedTTL and the test databases older than
// testDatabaseTTL (leaked by processes that were killed). The caller holds
// the advisory lock.
func dropLeftovers(ctx context.Context, conn *pgx.Conn, keep string) error {
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE starts_with(datname, $1) OR starts_with(datname, $2)`, templatePrefix, testPrefix)
	if err != nil {
		return err
	}
	type db struct{ name, comment string }
	dbs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (db, error) {
		var d db
		err := row.Scan(&d.name, &d.comment)
		return d, err
	})
	if err != nil {
		return err
	}
	now := time.Now()
	for _, d := range dbs {
		var stale bool
		if strings.HasPrefix(d.name, templatePrefix) {
			used, ok := parseUsedComment(d.comment)
			stale = d.name != keep && ok && now.Sub(used) > templateUnusedTTL
		} else {
			created, ok := testDatabaseTime(d.name)
			stale = ok && now.Sub(created) > testDatabaseTTL
		}
		if stale {
			if err := dropTemplate(ctx, conn, d.name); err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	return nil
}

const usedCommentPrefix = "tasker pgtest template, last used at unix time "

// usedComment is the SQL literal of a template's comment.
func usedComment(t time.Time) string {
	return "'" + usedCommentPrefix + strconv.FormatInt(t.Unix(), 10) + "'"
}

func parseUsedComment(c string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(c, usedCommentPrefix)
	if !ok {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(rest, 10, 64)
	return time.Unix(sec, 0), err == nil
}

// randomDatabaseName returns tasker_t_<unix seconds>_<random hex>: the
// creation time lets a later process drop it if this one leaks it.
func randomDatabaseName() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return testPrefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + hex.EncodeToString(b), nil
}

// testDatabaseTime returns the creation time in a name from randomDatabaseName.
func testDatabaseTime(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, testPrefix)
	if !ok {
		return time.Time{}, false
	}
	sec, _, ok := strings.Cut(rest, "_")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	return time.Unix(n, 0), err == nil
}

// ident quotes a PostgreSQL identifier.
func ident(name string) string {
	return pgx.Identifier{name}.Sanitize()
}
