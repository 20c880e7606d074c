package taskerdrivertest

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// tokens exercises API token storage: insert, lookup, list, revocation and
// the uniqueness of live names.
func (s *suite) tokens(t *testing.T) {
	hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }

	s.run(t, "TokenLifecycle", func(t *testing.T, b *bundle) {
		exists, err := b.ex.TokenAny(b.ctx)
		require.NoError(t, err)
		require.False(t, exists, "a new database has no token")
		_, err = b.ex.TokenGet(b.ctx, "0123456789abcdef")
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)

		ci, err := b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "ci", LookupID: "aaaaaaaaaaaaaaaa", SecretHash: hash("s1"),
			Permissions: []string{"tasker.task:*", "tasker.handler:index"}, CreatedBy: "ops", ExpiresAt: base.Add(time.Hour), Now: base})
		require.NoError(t, err)
		require.NotZero(t, ci.ID)
		require.Equal(t, "ci", ci.Name)
		require.Equal(t, base, ci.CreatedAt)
		require.Equal(t, base.Add(time.Hour), ci.ExpiresAt)
		require.True(t, ci.RevokedAt.IsZero())
		admin, err := b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "admin", LookupID: "bbbbbbbbbbbbbbbb", SecretHash: hash("s2"),
			Permissions: []string{"*"}, Now: base.Add(time.Second)})
		require.NoError(t, err)
		require.True(t, admin.ExpiresAt.IsZero(), "never expires")
		require.Empty(t, admin.CreatedBy)

		exists, err = b.ex.TokenAny(b.ctx)
		require.NoError(t, err)
		require.True(t, exists)

		got, err := b.ex.TokenGet(b.ctx, "aaaaaaaaaaaaaaaa")
		require.NoError(t, err)
		require.Equal(t, ci, got)
		require.Equal(t, hash("s1"), got.SecretHash)
		require.Equal(t, []string{"tasker.task:*", "tasker.handler:index"}, got.Permissions)
		require.Equal(t, "ops", got.CreatedBy)

		list, err := b.ex.TokenList(b.ctx, &taskerdriver.TokenListParams{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "ci", list[0].Name, "oldest first")
		require.Equal(t, "admin", list[1].Name)
		require.Equal(t, []string{"*"}, list[1].Permissions)

		// Revocation keeps the row and frees the name.
		rev, err := b.ex.TokenRevoke(b.ctx, &taskerdriver.TokenRevokeParams{Name: "ci", Now: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Equal(t, base.Add(time.Minute), rev.RevokedAt)
		got, err = b.ex.TokenGet(b.ctx, "aaaaaaaaaaaaaaaa")
		require.NoError(t, err)
		require.Equal(t, base.Add(time.Minute), got.RevokedAt, "a revoked token is still found, to be refused")
		_, err = b.ex.TokenRevoke(b.ctx, &taskerdriver.TokenRevokeParams{Name: "ci", Now: base.Add(2 * time.Minute)})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound, "no live token of that name any more")
		_, err = b.ex.TokenRevoke(b.ctx, &taskerdriver.TokenRevokeParams{Name: "nobody", Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)

		again, err := b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "ci", LookupID: "cccccccccccccccc", SecretHash: hash("s3"),
			Permissions: []string{}, Now: base.Add(time.Hour)})
		require.NoError(t, err, "the name of a revoked token may be reused")
		require.Equal(t, []string{}, again.Permissions)
		byName, err := b.ex.TokenList(b.ctx, &taskerdriver.TokenListParams{Name: "ci"})
		require.NoError(t, err)
		require.Len(t, byName, 2)
		require.False(t, byName[0].RevokedAt.IsZero())
		require.True(t, byName[1].RevokedAt.IsZero())

		// Revoking every token does not make the database tokenless.
		for _, name := range []string{"ci", "admin"} {
			_, err = b.ex.TokenRevoke(b.ctx, &taskerdriver.TokenRevokeParams{Name: name, Now: base.Add(2 * time.Hour)})
			require.NoError(t, err)
		}
		exists, err = b.ex.TokenAny(b.ctx)
		require.NoError(t, err)
		require.True(t, exists, "revoked tokens count")
	})

	s.run(t, "TokenNameUniqueAmongLiveTokens", func(t *testing.T, b *bundle) {
		_, err := b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "ci", LookupID: "1111111111111111", SecretHash: hash("a"), Now: base})
		require.NoError(t, err)
		_, err = b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "ci", LookupID: "2222222222222222", SecretHash: hash("b"), Now: base})
		require.ErrorIs(t, err, taskerdriver.ErrAlreadyExists)
		_, err = b.ex.TokenGet(b.ctx, "2222222222222222")
		require.ErrorIs(t, err, taskerdriver.ErrNotFound, "nothing of the refused insert")

		// Concurrent inserts of one name: exactly one wins.
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.ex.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "race", LookupID: "race-" + string(rune('a'+i)),
					SecretHash: hash("r"), Now: base})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.ErrorIs(t, err, taskerdriver.ErrAlreadyExists)
			}
		}
		require.Equal(t, 1, won)

		// Inside a rolled back transaction, nothing is stored.
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.TokenInsert(b.ctx, &taskerdriver.TokenInsertParams{Name: "tx", LookupID: "3333333333333333", SecretHash: hash("c"), Now: base})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(b.ctx))
		list, err := b.ex.TokenList(b.ctx, &taskerdriver.TokenListParams{Name: "tx"})
		require.NoError(t, err)
		require.Empty(t, list)
	})
}
