package tasker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

func newTokenClient(t testing.TB, d taskerdriver.Driver, clock *testdb.Clock) *tasker.Client {
	t.Helper()
	cfg := &tasker.Config{Logger: slog.New(slog.DiscardHandler)}
	if clock != nil {
		cfg.Now = clock.Now
	}
	c, err := tasker.NewClient(context.Background(), d, cfg)
	require.NoError(t, err)
	return c
}

func TestTokens(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		clock := newFakeClock()
		c := newTokenClient(t, openTestDriver(t), clock)

		exists, err := c.TokensExist(ctx)
		require.NoError(t, err)
		require.False(t, exists)

		created := clock.Now()
		secret, tok, err := c.CreateToken(ctx, tasker.TokenParams{Name: "ci", Permissions: []string{"tasker.task:*", "tasker.handler:index", "tasker.task:*"},
			ExpiresIn: time.Hour, CreatedBy: "ops@example.com"})
		require.NoError(t, err)
		require.Regexp(t, `^tkr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`, secret)
		require.Equal(t, "tkr_"+tok.ID+"_", secret[:21], "the id is the public lookup part")
		require.Equal(t, "ci", tok.Name)
		require.Equal(t, []string{"tasker.task:*", "tasker.handler:index"}, tok.Permissions, "duplicates dropped, order kept")
		require.Equal(t, "ops@example.com", tok.CreatedBy)
		require.True(t, tok.CreatedAt.Equal(created))
		require.NotNil(t, tok.ExpiresAt)
		require.True(t, tok.ExpiresAt.Equal(created.Add(time.Hour)))
		require.Nil(t, tok.RevokedAt)
		require.Equal(t, tasker.TokenStatusActive, tok.Status())

		other, tok2, err := c.CreateToken(ctx, tasker.TokenParams{Name: "admin", Permissions: []string{"*"}})
		require.NoError(t, err)
		require.NotEqual(t, secret, other)
		require.Nil(t, tok2.ExpiresAt, "never expires")

		exists, err = c.TokensExist(ctx)
		require.NoError(t, err)
		require.True(t, exists)

		// Use.
		got, err := c.AuthenticateToken(ctx, secret)
		require.NoError(t, err)
		require.Equal(t, "ci", got.Name)
		require.Equal(t, tok.ID, got.ID)
		require.Equal(t, []string{"tasker.task:*", "tasker.handler:index"}, got.Permissions)
		got, err = c.AuthenticateToken(ctx, other)
		require.NoError(t, err)
		require.Equal(t, "admin", got.Name)

		// A wrong secret with a real lookup id, and a token of another
		// name's secret with this one's id, never match.
		wrong := secret[:21] + other[21:]
		_, err = c.AuthenticateToken(ctx, wrong)
		require.ErrorIs(t, err, tasker.ErrTokenInvalid)
		require.NotContains(t, err.Error(), other[21:], "the error never carries the secret")
		_, err = c.AuthenticateToken(ctx, "tkr_0000000000000000_"+secret[21:])
		require.ErrorIs(t, err, tasker.ErrTokenInvalid, "unknown lookup id")

		// Duplicate live name.
		_, _, err = c.CreateToken(ctx, tasker.TokenParams{Name: "ci", Permissions: []string{"*"}})
		require.ErrorIs(t, err, tasker.ErrTokenExists)
		require.Contains(t, err.Error(), "tasker token revoke ci")

		// List: never the secret or its hash.
		list, err := c.Tokens(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "ci", list[0].Name)
		require.Equal(t, "admin", list[1].Name)
		b, err := json.Marshal(list)
		require.NoError(t, err)
		require.NotContains(t, string(b), secret[21:])
		require.NotContains(t, string(b), other[21:])

		// Expiry by the client's clock.
		clock.Advance(time.Hour - time.Second)
		_, err = c.AuthenticateToken(ctx, secret)
		require.NoError(t, err, "one second before its expiry")
		clock.Advance(time.Second)
		_, err = c.AuthenticateToken(ctx, secret)
		require.ErrorIs(t, err, tasker.ErrTokenInvalid)
		require.Contains(t, err.Error(), "expired")
		list, err = c.Tokens(ctx)
		require.NoError(t, err)
		require.Equal(t, tasker.TokenStatusExpired, list[0].Status())
		require.Equal(t, tasker.TokenStatusActive, list[1].Status())

		// Revoke: refused at once, kept in the list, name reusable.
		require.NoError(t, c.RevokeToken(ctx, "admin"))
		_, err = c.AuthenticateToken(ctx, other)
		require.ErrorIs(t, err, tasker.ErrTokenInvalid)
		require.Contains(t, err.Error(), "revoked")
		err = c.RevokeToken(ctx, "admin")
		require.ErrorIs(t, err, tasker.ErrTokenNotFound)
		require.ErrorIs(t, err, tasker.ErrNotFound)
		var verr *tasker.ValidationError
		require.ErrorAs(t, c.RevokeToken(ctx, "no spaces"), &verr)
		require.Contains(t, verr.Fields, "name")

		fresh, tok3, err := c.CreateToken(ctx, tasker.TokenParams{Name: "admin", Permissions: []string{"tasker.health_status:index"}})
		require.NoError(t, err, "a revoked token's name may be reused")
		_, err = c.AuthenticateToken(ctx, other)
		require.ErrorIs(t, err, tasker.ErrTokenInvalid, "the old token stays refused")
		got, err = c.AuthenticateToken(ctx, fresh)
		require.NoError(t, err)
		require.Equal(t, tok3.ID, got.ID)
		list, err = c.Tokens(ctx)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, tasker.TokenStatusRevoked, list[1].Status())
		require.NotNil(t, list[1].RevokedAt)
		require.True(t, list[1].RevokedAt.Equal(clock.Now()))

		// Revoking every token keeps credentials required.
		require.NoError(t, c.RevokeToken(ctx, "admin"))
		require.NoError(t, c.RevokeToken(ctx, "ci"))
		exists, err = c.TokensExist(ctx)
		require.NoError(t, err)
		require.True(t, exists)
	})
}

func TestCreateTokenValidation(t *testing.T) {
	t.Parallel()
	c := newTokenClient(t, testdb.Open(t), nil)
	ok := []string{"*", "tasker.task:index", "tasker.task:*", "tasker.workflow_step:resolve", "custom-thing:do_it"}
	_, _, err := c.CreateToken(t.Context(), tasker.TokenParams{Name: "A.b_c-9", Permissions: ok})
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		p     tasker.TokenParams
		field string
	}{
		{"no name", tasker.TokenParams{Permissions: []string{"*"}}, "name"},
		{"long name", tasker.TokenParams{Name: strings.Repeat("a", 65), Permissions: []string{"*"}}, "name"},
		{"space in name", tasker.TokenParams{Name: "my token", Permissions: []string{"*"}}, "name"},
		{"slash in name", tasker.TokenParams{Name: "a/b", Permissions: []string{"*"}}, "name"},
		{"non-ASCII name", tasker.TokenParams{Name: "tökén", Permissions: []string{"*"}}, "name"},
		{"no permission", tasker.TokenParams{Name: "x"}, "permissions"},
		{"too many permissions", tasker.TokenParams{Name: "x", Permissions: make([]string, 65)}, "permissions"},
		{"empty permission", tasker.TokenParams{Name: "x", Permissions: []string{""}}, "permissions[0]"},
		{"no action", tasker.TokenParams{Name: "x", Permissions: []string{"*", "tasker.task"}}, "permissions[1]"},
		{"empty action", tasker.TokenParams{Name: "x", Permissions: []string{"tasker.task:"}}, "permissions[0]"},
		{"empty resource", tasker.TokenParams{Name: "x", Permissions: []string{":index"}}, "permissions[0]"},
		{"space", tasker.TokenParams{Name: "x", Permissions: []string{"tasker.task: index"}}, "permissions[0]"},
		{"wildcard resource", tasker.TokenParams{Name: "x", Permissions: []string{"*:index"}}, "permissions[0]"},
		{"partial wildcard", tasker.TokenParams{Name: "x", Permissions: []string{"tasker.task:ind*"}}, "permissions[0]"},
		{"two colons", tasker.TokenParams{Name: "x", Permissions: []string{"a:b:c"}}, "permissions[0]"},
		{"long permission", tasker.TokenParams{Name: "x", Permissions: []string{"a:" + strings.Repeat("b", 200)}}, "permissions[0]"},
		{"negative expiry", tasker.TokenParams{Name: "x", Permissions: []string{"*"}, ExpiresIn: -time.Second}, "expires_in"},
		{"control in created_by", tasker.TokenParams{Name: "x", Permissions: []string{"*"}, CreatedBy: "a\nb"}, "created_by"},
		{"bad UTF-8 created_by", tasker.TokenParams{Name: "x", Permissions: []string{"*"}, CreatedBy: "a\xffb"}, "created_by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.CreateToken(t.Context(), tc.p)
			var verr *tasker.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Contains(t, verr.Fields, tc.field, "%v", verr.Fields)
			require.NotEmpty(t, verr.Fields[tc.field])
		})
	}
	list, err := c.Tokens(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1, "nothing stored for invalid params")
}

// openTwice opens two drivers (two connection pools, as two serve processes
// have) on one fresh database of the test's driver.
func openTwice(t *testing.T) (taskerdriver.Driver, taskerdriver.Driver) {
	t.Helper()
	var open func() (taskerdriver.Driver, error)
	if testdb.DriverOf(t) == "postgres" {
		url := pgtest.URL(t)
		open = func() (taskerdriver.Driver, error) { return taskerpgx.Open(context.Background(), url) }
	} else {
		path := filepath.Join(t.TempDir(), "tasker.db")
		open = func() (taskerdriver.Driver, error) { return taskersqlite.Open(path) }
	}
	var ds [2]taskerdriver.Driver
	for i := range ds {
		d, err := open()
		require.NoError(t, err)
		t.Cleanup(func() { _ = d.Close() })
		ds[i] = d
	}
	return ds[0], ds[1]
}

// A token made through one client is usable at once through another on the
// same database, and refused there at once after its revocation.
func TestTokenRevokedAtOnceEverywhere(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		d1, d2 := openTwice(t)
		admin := newTokenClient(t, d1, nil)
		server := newTokenClient(t, d2, nil)

		exists, err := server.TokensExist(ctx)
		require.NoError(t, err)
		require.False(t, exists)
		secret, _, err := admin.CreateToken(ctx, tasker.TokenParams{Name: "ci", Permissions: []string{"tasker.task:index"}})
		require.NoError(t, err)
		exists, err = server.TokensExist(ctx)
		require.NoError(t, err)
		require.True(t, exists, "the other client sees the new token at once")
		got, err := server.AuthenticateToken(ctx, secret)
		require.NoError(t, err)
		require.Equal(t, "ci", got.Name)

		require.NoError(t, admin.RevokeToken(ctx, "ci"))
		_, err = server.AuthenticateToken(ctx, secret)
		require.ErrorIs(t, err, tasker.ErrTokenInvalid, "refused at once by the other client")
	})
}

func FuzzAuthenticateTokenSQLite(f *testing.F) {
	d, err := taskersqlite.Open(filepath.Join(f.TempDir(), "tasker.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = d.Close() })
	fuzzAuthenticateToken(f, d)
}

func FuzzAuthenticateTokenPostgres(f *testing.F) {
	d, err := taskerpgx.Open(context.Background(), pgtest.URL(f))
	require.NoError(f, err)
	f.Cleanup(func() { _ = d.Close() })
	fuzzAuthenticateToken(f, d)
}

// fuzzAuthenticateToken checks that no input but the token itself
// authenticates, and that none panics or fails otherwise than with
// ErrTokenInvalid.
func fuzzAuthenticateToken(f *testing.F, d taskerdriver.Driver) {
	c := newTokenClient(f, d, nil)
	secret, _, err := c.CreateToken(context.Background(), tasker.TokenParams{Name: "fuzz", Permissions: []string{"*"}})
	require.NoError(f, err)
	revoked, _, err := c.CreateToken(context.Background(), tasker.TokenParams{Name: "gone", Permissions: []string{"*"}})
	require.NoError(f, err)
	require.NoError(f, c.RevokeToken(context.Background(), "gone"))

	flip := func(s string, i int, b byte) string { bs := []byte(s); bs[i] = b; return string(bs) }
	last := len(secret) - 1
	for _, s := range []string{
		"", "tkr_", "tkr__", secret[:len(secret)-1], secret + "A", " " + secret, secret + "\n", strings.ToUpper(secret),
		secret[:4] + strings.ToUpper(secret[4:20]) + secret[20:], // lookup id in upper case
		flip(secret, last, secret[last]^1), flip(secret, 4, 'g'), flip(secret, 20, '-'), flip(secret, 25, '='),
		flip(secret, last, 'B'), flip(secret, last, 'F'), // non-zero unused bits: another spelling of nearly the same bytes
		flip(secret, 0, 'T'), revoked, "Bearer " + secret, strings.Repeat("tkr_", 1<<14), "tkr_\xff\xfe" + secret[6:],
		"tkr_" + strings.Repeat("\x00", 60), secret[:21] + "\x00" + secret[22:],
		secret[:21] + revoked[21:], revoked[:21] + secret[21:], // well-formed: one's lookup id, the other's secret
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := c.AuthenticateToken(context.Background(), s)
		if s == secret {
			require.NoError(t, err)
			require.Equal(t, "fuzz", got.Name)
			return
		}
		require.ErrorIs(t, err, tasker.ErrTokenInvalid)
		require.Nil(t, got)
		require.False(t, bytes.Contains([]byte(err.Error()), []byte(s)) && len(s) > 8, "the error never echoes the input")
	})
}
