package taskersqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

const tokenCols = driverkit.TokenColumns

func scanToken(r rowScanner) (*taskerdriver.Token, error) {
	var t taskerdriver.Token
	var perms string
	var created int64
	var expires, revoked sql.NullInt64
	if err := r.Scan(&t.ID, &t.Name, &t.LookupID, &t.SecretHash, &perms, &t.CreatedBy, &created, &expires, &revoked); err != nil {
		return nil, driverkit.NoRows(err, sql.ErrNoRows)
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.ExpiresAt = fromUS(expires)
	t.RevokedAt = fromUS(revoked)
	return &t, driverkit.ScannedToken(&t, []byte(perms))
}

// nullUS is NULL for the zero time, else microseconds since the epoch.
func nullUS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return us(t)
}

// liveNameTaken reports whether err is the unique index on the names of
// the tokens not revoked refusing a row (SQLite names the index's column).
func liveNameTaken(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE &&
		strings.Contains(se.Error(), "tasker_api_tokens.name")
}

func (e *executor) TokenInsert(ctx context.Context, p *taskerdriver.TokenInsertParams) (*taskerdriver.Token, error) {
	perms, err := driverkit.PermissionsJSON(p.Permissions)
	if err != nil {
		return nil, err
	}
	var t *taskerdriver.Token
	err = e.write(ctx, func(x *executor) error {
		var err error
		t, err = scanToken(x.w.QueryRowContext(ctx, `INSERT INTO tasker_api_tokens (name, lookup_id, secret_hash, permissions, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+tokenCols,
			p.Name, p.LookupID, p.SecretHash, perms, p.CreatedBy, us(p.Now), nullUS(p.ExpiresAt)))
		if liveNameTaken(err) {
			return driverkit.TokenNameTaken(p.Name)
		}
		if err != nil {
			return fmt.Errorf("sqlite: token insert: %w", err)
		}
		return nil
	})
	return t, err
}

func (e *executor) TokenGet(ctx context.Context, lookupID string) (*taskerdriver.Token, error) {
	t, err := scanToken(e.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tasker_api_tokens WHERE lookup_id = ?`, lookupID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: token get: %w", err)
	}
	return t, nil
}

func (e *executor) TokenList(ctx context.Context, p *taskerdriver.TokenListParams) ([]*taskerdriver.Token, error) {
	out, err := queryAll(ctx, e.r, `SELECT `+tokenCols+` FROM tasker_api_tokens WHERE (? = '' OR name = ?) ORDER BY created_at, id`,
		[]any{p.Name, p.Name}, scanToken)
	if err != nil {
		return nil, fmt.Errorf("sqlite: token list: %w", err)
	}
	return out, nil
}

func (e *executor) TokenRevoke(ctx context.Context, p *taskerdriver.TokenRevokeParams) (*taskerdriver.Token, error) {
	var t *taskerdriver.Token
	err := e.write(ctx, func(x *executor) error {
		var err error
		t, err = scanToken(x.w.QueryRowContext(ctx, `UPDATE tasker_api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL
			RETURNING `+tokenCols, us(p.Now), p.Name))
		if err != nil {
			return fmt.Errorf("sqlite: token revoke: %w", err)
		}
		return nil
	})
	return t, err
}

func (e *executor) TokenAny(ctx context.Context) (bool, error) {
	return driverkit.TokenAny("sqlite", func(q string) (ok bool, err error) {
		err = e.r.QueryRowContext(ctx, q).Scan(&ok)
		return ok, err
	})
}
