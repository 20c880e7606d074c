package taskerdashboard_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskerhttp"
)

// benchTasks is the size of the task table of BenchmarkTasksPage.
const benchTasks = 1_000_000

// seedPG fills the tasks table with benchTasks tasks in the six states,
// one a second, in one statement.
const seedPG = `INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at, completed_at)
SELECT 'ns' || (g % 5), 'template_' || (g % 40), '1.0.0',
       (ARRAY['pending','in_progress','complete','error','cancelled','resolved_manually'])[1 + g % 6],
       'h' || g, t, t, t, CASE WHEN g % 6 IN (2, 3, 4, 5) THEN t + interval '2 seconds' END
FROM generate_series(1, $1) AS g, LATERAL (SELECT timestamptz '2026-01-01' + g * interval '1 second' AS t) AS s`

const seedSQLite = `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?)
INSERT INTO tasker_tasks (namespace, name, version, state, identity_hash, requested_at, created_at, updated_at, completed_at)
SELECT 'ns' || (n % 5), 'template_' || (n % 40), '1.0.0',
       CASE n % 6 WHEN 0 THEN 'pending' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'complete' WHEN 3 THEN 'error'
                  WHEN 4 THEN 'cancelled' ELSE 'resolved_manually' END,
       'h' || n, t, t, t, CASE WHEN n % 6 IN (2, 3, 4, 5) THEN t + 2000000 END
FROM (SELECT n, 1767225600000000 + n * 1000000 AS t FROM g)`

// BenchmarkTasksPage measures the server time of the dashboard's tasks
// page on a table of a million tasks: the requests its script makes (a
// page of 100 tasks newest first, and the count of each state), one after
// the other, through the HTTP handler. Run (the seeding takes a minute):
//
//	go test -run '^$' -bench TasksPage -benchtime 20x ./taskerdashboard
//
// Target: under 200 ms (results: docs/benchmarks.md).
func BenchmarkTasksPage(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var d taskerdriver.Driver
			switch name {
			case "postgres":
				url := pgtest.URL(b)
				conn, err := pgx.Connect(ctx, url)
				require.NoError(b, err)
				_, err = conn.Exec(ctx, seedPG, benchTasks)
				require.NoError(b, err)
				_, err = conn.Exec(ctx, "VACUUM ANALYZE tasker_tasks")
				require.NoError(b, err)
				require.NoError(b, conn.Close(ctx))
				d, err = taskerpgx.Open(ctx, url)
				require.NoError(b, err)
			default:
				path := filepath.Join(b.TempDir(), "tasker.db")
				var err error
				d, err = taskersqlite.Open(path)
				require.NoError(b, err)
				require.NoError(b, d.Migrate(ctx))
				db, err := sql.Open("sqlite", path)
				require.NoError(b, err)
				_, err = db.ExecContext(ctx, seedSQLite, benchTasks)
				require.NoError(b, err)
				_, err = db.ExecContext(ctx, "ANALYZE")
				require.NoError(b, err)
				require.NoError(b, db.Close())
			}
			b.Cleanup(func() { _ = d.Close() })
			c, err := tasker.NewClient(ctx, d, &tasker.Config{Registry: tasker.NewRegistry()})
			require.NoError(b, err)
			h := taskerhttp.NewHandler(c, nil)
			paths := []string{"/tasks", "/_/session", "/tasker/tasks?limit=100&offset=0&sort_by=created_at&sort_order=desc&count_limit=10000"}
			for _, s := range []string{"pending", "in_progress", "complete", "error", "cancelled", "resolved_manually"} {
				paths = append(paths, "/tasker/tasks?status="+s+"&limit=1&count_limit=10000")
			}
			for b.Loop() {
				for _, p := range paths {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, p, nil)
					req.Host = "127.0.0.1"
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
					}
				}
			}
		})
	}
}
