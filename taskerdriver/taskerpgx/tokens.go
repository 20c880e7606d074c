package taskerpgx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

const tokenCols = driverkit.TokenColumns

func scanToken(r pgx.Row) (*taskerdriver.Token, error) {
	var t taskerdriver.Token
	var perms []byte
	var expires, revoked *time.Time
	if err := r.Scan(&t.ID, &t.Name, &t.LookupID, &t.SecretHash, &perms, &t.CreatedBy, &t.CreatedAt, &expires, &revoked); err != nil {
		return nil, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt = fromPGPtr(expires)
	t.RevokedAt = fromPGPtr(revoked)
	return &t, driverkit.ScannedToken(&t, perms)
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (e *executor) TokenInsert(ctx context.Context, p *taskerdriver.TokenInsertParams) (*taskerdriver.Token, error) {
	perms, err := driverkit.PermissionsJSON(p.Permissions)
	if err != nil {
		return nil, err
	}
	t, err := scanToken(e.q.QueryRow(ctx, `INSERT INTO tasker_api_tokens (name, lookup_id, secret_hash, permissions, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING `+tokenCols,
		p.Name, p.LookupID, p.SecretHash, perms, p.CreatedBy, p.Now.UTC(), nullTime(p.ExpiresAt)))
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == driverkit.TokenLiveNameIndex {
			return nil, driverkit.TokenNameTaken(p.Name)
		}
		return nil, valueRejected(fmt.Errorf("postgres: token insert: %w", err))
	}
	return t, nil
}

func (e *executor) TokenGet(ctx context.Context, lookupID string) (*taskerdriver.Token, error) {
	t, err := scanToken(e.q.QueryRow(ctx, `SELECT `+tokenCols+` FROM tasker_api_tokens WHERE lookup_id = $1`, lookupID))
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: token get: %w", err))
	}
	return t, nil
}

func (e *executor) TokenList(ctx context.Context, p *taskerdriver.TokenListParams) ([]*taskerdriver.Token, error) {
	out, err := queryAll(ctx, e.q, `SELECT `+tokenCols+` FROM tasker_api_tokens WHERE ($1 = '' OR name = $1) ORDER BY created_at, id`,
		[]any{p.Name}, scanToken)
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: token list: %w", err))
	}
	return out, nil
}

func (e *executor) TokenRevoke(ctx context.Context, p *taskerdriver.TokenRevokeParams) (*taskerdriver.Token, error) {
	t, err := scanToken(e.q.QueryRow(ctx, `UPDATE tasker_api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL
		RETURNING `+tokenCols, p.Name, p.Now.UTC()))
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: token revoke: %w", err))
	}
	return t, nil
}

func (e *executor) TokenAny(ctx context.Context) (bool, error) {
	return driverkit.TokenAny("postgres", func(q string) (ok bool, err error) {
		err = e.q.QueryRow(ctx, q).Scan(&ok)
		return ok, err
	})
}
