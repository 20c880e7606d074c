package tasker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
)

// BenchmarkCreateAllToAll measures creating one task of a 500- and a
// 1,500-step all-to-all template (step i depends on every step before it:
// 124,750 and 1,124,250 edges) on each database (issue 12 item 10: the
// time per edge should not grow with the template).
//
//	TASKER_TEST_DATABASE_URL=... go test -run '^$' -bench CreateAllToAll -benchtime 1x .
func BenchmarkCreateAllToAll(b *testing.B) {
	for _, drv := range testdb.Drivers {
		for _, n := range []int{500, 1500} {
			b.Run(fmt.Sprintf("%s/steps=%d", drv, n), func(b *testing.B) { createAllToAll(b, n) })
		}
	}
}

// createAllToAll creates tasks of an n-step all-to-all template on the
// database of the running sub-benchmark and reports the time per edge.
func createAllToAll(b *testing.B, n int) {
	steps := make([]tasker.StepTemplate, n)
	for i := range steps {
		steps[i] = tasker.StepTemplate{Name: fmt.Sprintf("s%04d", i), Handler: "noop"}
		for j := range i {
			steps[i].DependsOn = append(steps[i].DependsOn, steps[j].Name)
		}
	}
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	if err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "all_to_all", Steps: steps}, tasker.RegisterOptions{}); err != nil {
		b.Fatal(err)
	}
	c, err := tasker.NewClient(b.Context(), testdb.Open(b), &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := c.CreateTask(b.Context(), &tasker.TaskRequest{Name: "all_to_all"})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Steps) != n {
			b.Fatalf("%d steps", len(res.Steps))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*(n-1)/2), "ns/edge")
}
