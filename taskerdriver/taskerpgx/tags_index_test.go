package taskerpgx_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// tagQueries records the statements (and their arguments) that filter on
// tags.
type tagQueries struct {
	mu   sync.Mutex
	seen []pgx.TraceQueryStartData
}

func (q *tagQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "tags @>") {
		q.mu.Lock()
		q.seen = append(q.seen, d)
		q.mu.Unlock()
	}
	return ctx
}

func (*tagQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The tags index holds only tasks that have tags (migration 017), and a
// task list filtered by tags still reads through it: its statement says
// what the index's predicate needs. Without that, PostgreSQL reads the
// whole table.
func TestTagFilterUsesThePartialTagsIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	queries := &tagQueries{}
	d := openTraced(t, queries)
	pool := d.Pool()
	_, err := pool.Exec(ctx, `
		INSERT INTO tasker_tasks (namespace, name, version, state, tags, identity_hash, requested_at, created_at, updated_at)
			SELECT 'ns', 't', '1', 'complete', CASE WHEN g % 200 = 0 THEN '["rare"]'::jsonb ELSE '[]'::jsonb END,
				'h' || g, now(), now(), now()
			FROM generate_series(1, 4000) g;
		ANALYZE tasker_tasks`)
	require.NoError(t, err)
	var indexed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tasker_tasks WHERE tags <> '[]'::jsonb)`).Scan(&indexed))
	require.Equal(t, 20, indexed)

	tasks, _, err := d.Executor().TaskList(ctx, &taskerdriver.TaskListParams{Tags: []string{"rare"}, Limit: 100, OmitContext: true})
	require.NoError(t, err)
	require.Len(t, tasks, 20)
	queries.mu.Lock()
	seen := queries.seen
	queries.mu.Unlock()
	require.NotEmpty(t, seen, "the list filtered on tags")
	for _, q := range seen {
		var plan []string
		rows, err := pool.Query(ctx, "EXPLAIN "+q.SQL, q.Args...)
		require.NoError(t, err)
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		text := strings.Join(plan, "\n")
		require.Contains(t, text, "tasker_tasks_tags", "%s\n%s", q.SQL, text)
	}
}

// openTraced opens a migrated driver on a new database whose connections
// report their statements to tracer.
func openTraced(t *testing.T, tracer pgx.QueryTracer) *taskerpgx.Driver {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	d := taskerpgx.New(pool)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Migrate(t.Context()))
	return d
}
