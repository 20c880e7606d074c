package pgtest

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable": "postgres://postgres@127.0.0.1:5432/tasker_t_1?sslmode=disable",
		"postgresql://u:p%40ss@h/db?dbname=other&sslmode=disable":     "postgresql://u:p%40ss@h/tasker_t_1?sslmode=disable",
		"postgres://h": "postgres://h/tasker_t_1",
		"host=/tmp/tpg1 user=postgres dbname=postgres sslmode=disable ": "host=/tmp/tpg1 user=postgres dbname=postgres sslmode=disable dbname=tasker_t_1",
	} {
		got, err := withDatabase(in, "tasker_t_1")
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
}

func TestVersionOrder(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/10/bin", "/usr/lib/postgresql/15/bin"}
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[j], dirs[i]) })
	require.Equal(t, []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/10/bin", "/usr/lib/postgresql/9.6/bin"}, dirs)
}

func TestLeftoverNames(t *testing.T) {
	name, err := randomDatabaseName()
	require.NoError(t, err)
	require.LessOrEqual(t, len(name), 63)
	created, ok := testDatabaseTime(name)
	require.True(t, ok)
	require.WithinDuration(t, time.Now(), created, 2*time.Second)
	_, ok = testDatabaseTime("tasker_t_garbage")
	require.False(t, ok)

	now := time.Unix(1700000000, 0)
	c := usedComment(now)
	used, ok := parseUsedComment(c[1 : len(c)-1])
	require.True(t, ok)
	require.Equal(t, now, used)
	require.Equal(t, templateName(versionKey("v1")), templateName(versionKey("v1")))
	require.NotEqual(t, templateName(versionKey("v1")), templateName(versionKey("v2")))
}
