package tasker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskertype"
)

// openExampleClient returns a client on a SQLite database in a new temporary
// directory, and a function that closes it and removes the directory.
func openExampleClient(reg *tasker.Registry) (*tasker.Client, func()) {
	return openExampleClientClock(reg, nil)
}

// openExampleClientClock is openExampleClient with a clock (nil: time.Now).
func openExampleClientClock(reg *tasker.Registry, now func() time.Time) (*tasker.Client, func()) {
	dir, err := os.MkdirTemp("", "tasker-example")
	if err != nil {
		log.Fatal(err)
	}
	drv, err := taskersqlite.Open(filepath.Join(dir, "tasker.db"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := tasker.NewClient(context.Background(), drv, &tasker.Config{Registry: reg, Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	return client, func() {
		_ = drv.Close()
		_ = os.RemoveAll(dir)
	}
}

func mustRegister(reg *tasker.Registry, t *tasker.TaskTemplate) {
	if err := reg.RegisterTemplate(t, tasker.RegisterOptions{}); err != nil {
		log.Fatal(err)
	}
}

// ListTasks filters tasks by template, state and tags, and pages through
// them with Limit and Offset; Total counts every match.
func ExampleClient_ListTasks() {
	ctx := context.Background()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	mustRegister(reg, &tasker.TaskTemplate{Name: "report", Version: "1.0.0", Steps: []tasker.StepTemplate{{Name: "build", Handler: "noop"}}})
	mustRegister(reg, &tasker.TaskTemplate{Name: "invoice", Version: "1.0.0", Steps: []tasker.StepTemplate{{Name: "send", Handler: "noop"}}})
	client, done := openExampleClient(reg)
	defer done()

	for i := range 5 {
		tags := []string{"daily"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		if _, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "report", Tags: tags, Reason: fmt.Sprintf("report %d", i)}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "invoice"}); err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil { // runs the six tasks
		log.Fatal(err)
	}
	// One more report, not run: it stays pending.
	if _, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "report", Tags: []string{"daily"}, Reason: "report 5"}); err != nil {
		log.Fatal(err)
	}
	first, err := client.ListTasks(ctx, &tasker.TaskListParams{Limit: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first page of all tasks:", len(first.Tasks), "of", first.Total)

	// Page through the reports, two at a time, oldest first.
	for offset := 0; ; offset += 2 {
		page, err := client.ListTasks(ctx, &tasker.TaskListParams{Name: "report", OrderBy: "task_id", Limit: 2, Offset: offset})
		if err != nil {
			log.Fatal(err)
		}
		if len(page.Tasks) == 0 {
			break
		}
		fmt.Printf("reports %d-%d of %d:", offset+1, offset+len(page.Tasks), page.Total)
		for _, t := range page.Tasks {
			fmt.Printf(" %q (%s)", t.Reason, t.State)
		}
		fmt.Println()
	}

	even, err := client.ListTasks(ctx, &tasker.TaskListParams{Tags: []string{"even"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tagged even:", even.Total)
	pending, err := client.ListTasks(ctx, &tasker.TaskListParams{States: []taskertype.State{taskertype.StatePending}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", pending.Total, pending.Tasks[0].Reason)
	newest, err := client.ListTasks(ctx, &tasker.TaskListParams{Name: "invoice", Desc: true, Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("newest invoice:", newest.Tasks[0].FullName(), newest.Tasks[0].State)
	// Output:
	// first page of all tasks: 2 of 7
	// reports 1-2 of 6: "report 0" (complete) "report 1" (complete)
	// reports 3-4 of 6: "report 2" (complete) "report 3" (complete)
	// reports 5-6 of 6: "report 4" (complete) "report 5" (pending)
	// tagged even: 3
	// pending: 1 report 5
	// newest invoice: default.invoice@1.0.0 complete
}

// CancelTask cancels a task that has not finished, and its unfinished steps.
// A finished task cannot be cancelled.
func ExampleClient_CancelTask() {
	ctx := context.Background()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return "done", nil }))
	mustRegister(reg, &tasker.TaskTemplate{Name: "nightly", Steps: []tasker.StepTemplate{
		{Name: "extract", Handler: "noop"},
		{Name: "load", Handler: "noop", DependsOn: []string{"extract"}},
	}})
	client, done := openExampleClient(reg)
	defer done()

	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "nightly"})
	if err != nil {
		log.Fatal(err)
	}
	task, err := client.CancelTask(ctx, res.Task.ID, "not needed tonight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("task", task.State)
	steps, err := client.ListSteps(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Println(s.Name, s.State)
	}
	if err := client.RunUntilIdle(ctx); err != nil { // nothing runs
		log.Fatal(err)
	}
	_, err = client.CancelTask(ctx, task.ID, "")
	fmt.Println("cancel again:", errors.Is(err, tasker.ErrInvalidState))
	// Output:
	// task cancelled
	// extract cancelled
	// load cancelled
	// cancel again: true
}

// ResolveStep lets an operator settle a step that failed for good, with the
// results its children should see; the task then runs to its end.
func ExampleClient_ResolveStep() {
	ctx := context.Background()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("lookup", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
		return nil, tasker.PermanentError(errors.New("address service rejected the request"))
	}))
	reg.MustRegisterHandler("label", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		var addr struct {
			City string `json:"city"`
		}
		if err := s.DependencyResult("lookup_address", &addr); err != nil {
			return nil, err
		}
		return map[string]string{"label": "ship to " + addr.City}, nil
	}))
	mustRegister(reg, &tasker.TaskTemplate{Name: "shipping", Steps: []tasker.StepTemplate{
		{Name: "lookup_address", Handler: "lookup"},
		{Name: "print_label", Handler: "label", DependsOn: []string{"lookup_address"}},
	}})
	client, done := openExampleClient(reg)
	defer done()

	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "shipping"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	task, _ := client.GetTask(ctx, res.Task.ID)
	steps, _ := client.ListSteps(ctx, task.ID)
	lookup := steps[0]
	fmt.Printf("task %s; %s %s (blocked %t): %s\n", task.State, lookup.Name, lookup.State, lookup.Blocked, lookup.LastError.Message)

	if _, err := client.ResolveStep(ctx, lookup.ID, map[string]string{"city": "Lyon"}, "address checked by phone"); err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	task, _ = client.GetTask(ctx, task.ID)
	steps, _ = client.ListSteps(ctx, task.ID)
	fmt.Println("task", task.State)
	for _, s := range steps {
		fmt.Printf("%s: %s, results %s\n", s.Name, s.State, s.Results)
	}
	// Output:
	// task error; lookup_address error (blocked true): address service rejected the request
	// task complete
	// lookup_address: resolved_manually, results {"city":"Lyon"}
	// print_label: complete, results {"label":"ship to Lyon"}
}

// RetryTask gives a task in error a fresh start: its blocked steps go back
// to pending with new attempts.
func ExampleClient_RetryTask() {
	ctx := context.Background()
	var gatewayUp atomic.Bool
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("pay", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		if !gatewayUp.Load() {
			return nil, tasker.PermanentError(errors.New("payment gateway is down"))
		}
		return map[string]any{"paid": true, "attempt": s.Attempt}, nil
	}))
	mustRegister(reg, &tasker.TaskTemplate{Name: "payment", Steps: []tasker.StepTemplate{{Name: "pay", Handler: "pay"}}})
	client, done := openExampleClient(reg)
	defer done()

	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "payment"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	task, _ := client.GetTask(ctx, res.Task.ID)
	fmt.Println("first run:", task.State)

	gatewayUp.Store(true)
	task, err = client.RetryTask(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after RetryTask:", task.State)
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	task, _ = client.GetTask(ctx, task.ID)
	steps, _ := client.ListSteps(ctx, task.ID)
	fmt.Println("second run:", task.State)
	fmt.Printf("%s: %s, attempts %d, results %s\n", steps[0].Name, steps[0].State, steps[0].Attempts, steps[0].Results)
	_, err = client.RetryTask(ctx, task.ID)
	fmt.Println("retry a complete task:", errors.Is(err, tasker.ErrInvalidState))
	// Output:
	// first run: error
	// after RetryTask: pending
	// second run: complete
	// pay: complete, attempts 1, results {"attempt":1,"paid":true}
	// retry a complete task: true
}

// ListTasks is documented to list "newest first unless p orders otherwise".
func TestListTasksDefaultOrderNewestFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "a"}))
	var ids []int64
	for range 3 {
		ids = append(ids, e.create("one", nil).ID)
	}
	for _, p := range []*tasker.TaskListParams{nil, {}} {
		list, err := e.client.ListTasks(e.ctx, p)
		require.NoError(t, err)
		require.Equal(t, 3, list.Total)
		var got []int64
		for _, task := range list.Tasks {
			got = append(got, task.ID)
		}
		require.Equal(t, []int64{ids[2], ids[1], ids[0]}, got)
	}
}
