package taskerpgx

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

// TestAsyncCommitTransactions: transactions begun by the executor of
// AsyncCommitExecutor run with synchronous_commit off, and only they.
func TestAsyncCommitTransactions(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	cfg.MaxConns = 1 // both transactions on the same connection
	// The session's default is "on" whatever the server's (the throwaway
	// test cluster runs with synchronous_commit=off).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	d := New(pool)
	setting := func(async bool) string {
		tx, err := (&executor{d: d, q: d.pool, async: async}).Begin(t.Context())
		require.NoError(t, err)
		defer func() { require.NoError(t, tx.Rollback(t.Context())) }()
		var v string
		require.NoError(t, tx.(*executor).q.QueryRow(t.Context(), `SELECT current_setting('synchronous_commit')`).Scan(&v))
		return v
	}
	require.Equal(t, "off", setting(true))
	require.Equal(t, "on", setting(false), "the setting is local to the transaction, not left on the pooled connection")
	require.NotNil(t, d.AsyncCommitExecutor())
}
