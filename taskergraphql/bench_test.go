package taskergraphql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
)

// BenchmarkTasksPage measures one query of a page of 100 tasks with their
// steps and each step's parents and children, through the HTTP handler,
// on each driver. Run:
//
//	go test -run '^$' -bench TasksPage ./taskergraphql
//
// (results: docs/benchmarks.md)
func BenchmarkTasksPage(b *testing.B) {
	for _, name := range testdb.Drivers {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, nil)
			for i := range 100 {
				_, err := e.client.CreateTask(context.Background(), &tasker.TaskRequest{Name: "dummy_task", Context: map[string]any{"dummy": true}, Reason: fmt.Sprint(i)})
				require.NoError(b, err)
			}
			const doc = `{ tasks(limit: 100) { taskId status workflowSteps { workflowStepId name status attempts results parents { name } children { name } } } }`
			for b.Loop() {
				var tasks []taskView
				e.query(doc, nil).noErrors(b).field(b, "tasks", &tasks)
				if len(tasks) != 100 {
					b.Fatalf("%d tasks", len(tasks))
				}
			}
		})
	}
}
