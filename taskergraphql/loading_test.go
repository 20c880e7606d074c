package taskergraphql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// nested is a page of tasks with their steps, their steps' relations and
// tasks, and their annotations.
const nested = `query($n: Int) { tasks(limit: $n) { taskId workflowSteps { name parents { name children { name } } children { name }
	task { taskId workflowSteps { name } } namedStep { name } } taskAnnotations { annotation } } }`

// TestBatchedLoading: a page of tasks with nested steps costs the same
// number of statements whatever the page size (PostgreSQL, counted by a
// pgx tracer).
func TestBatchedLoading(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	counter := &pgtest.Trips{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	d := taskerpgx.New(pool)
	t.Cleanup(func() { _ = d.Close() })
	e := newEnvOn(t, d, nil)

	create := func(n int) {
		for i := range n {
			_, err := e.client.CreateTask(context.Background(), &tasker.TaskRequest{Name: "dummy_task", Context: map[string]any{"dummy": true}, Reason: fmt.Sprint(i)})
			require.NoError(t, err)
		}
	}
	statements := func(n int) int64 {
		before := counter.Statements.Load()
		var tasks []taskView
		e.query(nested, map[string]any{"n": n}).noErrors(t).field(t, "tasks", &tasks)
		require.Len(t, tasks, n)
		for _, task := range tasks {
			require.Len(t, task.WorkflowSteps, 4)
		}
		return counter.Statements.Load() - before
	}
	create(2)
	small := statements(2)
	create(38)
	large := statements(40)
	t.Logf("statements: page of 2: %d, page of 40: %d", small, large)
	require.Equal(t, small, large, "the statements of a page do not grow with its size")
	require.LessOrEqual(t, large, int64(6), "the page, its steps and their edges, its annotations")
}
