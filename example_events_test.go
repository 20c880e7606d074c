package tasker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// Subscribe delivers events whose names match the patterns. Delivery never
// blocks the engine: each subscription has a buffer, read here once the task
// has finished. The workflow is linear, so the order of its events is fixed.
// (The subscriptions start after CreateTask, so they do not see the task's
// creation.)
func ExampleClient_Subscribe() {
	ctx := context.Background()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("step", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		return s.Step.Name + " done", nil
	}))
	mustRegister(reg, &tasker.TaskTemplate{Name: "pipeline", Steps: []tasker.StepTemplate{
		{Name: "extract", Handler: "step"},
		{Name: "transform", Handler: "step", DependsOn: []string{"extract"}},
		{Name: "load", Handler: "step", DependsOn: []string{"transform"}},
	}})
	client, done := openExampleClient(reg)
	defer done()

	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "pipeline"})
	if err != nil {
		log.Fatal(err)
	}
	taskEvents, stopTask := client.Subscribe("task.*")
	stepEvents, stopStep := client.Subscribe("step.completed")
	both, stopBoth := client.Subscribe("task.*", "step.completed")
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	// Every event of the task has been published when RunUntilIdle returns;
	// ending a subscription closes its channel after the buffered events.
	stopTask()
	stopStep()
	stopBoth()

	fmt.Println("task.*:")
	for ev := range taskEvents {
		fmt.Printf("  %s (task %t, status %s)\n", ev.Name, ev.Task.ID == res.Task.ID, ev.Task.State)
	}
	fmt.Println("step.completed:")
	for ev := range stepEvents {
		fmt.Printf("  %s %s (attempt %d)\n", ev.Name, ev.Step.Name, ev.Attempt)
	}
	fmt.Println("both, in order:")
	for ev := range both {
		if ev.Step != nil {
			fmt.Printf("  %s %s\n", ev.Name, ev.Step.Name)
		} else {
			fmt.Printf("  %s\n", ev.Name)
		}
	}
	// Output:
	// task.*:
	//   task.start_requested (task true, status in_progress)
	//   task.completed (task true, status complete)
	// step.completed:
	//   step.completed extract (attempt 1)
	//   step.completed transform (attempt 1)
	//   step.completed load (attempt 1)
	// both, in order:
	//   task.start_requested
	//   step.completed extract
	//   step.completed transform
	//   step.completed load
	//   task.completed
}

// Step failures and retries are events too. Here the second step fails once
// and is retried after its backoff (a fake clock moves past it).
func ExampleClient_Subscribe_failures() {
	ctx := context.Background()
	clock := newFakeClock()
	var failed atomic.Bool
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("step", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		if s.Step.Name == "charge" && !failed.Swap(true) {
			return nil, errors.New("card network timeout")
		}
		return "ok", nil
	}))
	mustRegister(reg, &tasker.TaskTemplate{Name: "order", Steps: []tasker.StepTemplate{
		{Name: "reserve", Handler: "step"},
		{Name: "charge", Handler: "step", DependsOn: []string{"reserve"}},
	}})
	client, done := openExampleClientClock(reg, clock.Now)
	defer done()

	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "order"})
	if err != nil {
		log.Fatal(err)
	}
	events, stop := client.Subscribe("task.*", "step.completed", "step.failed")
	if err := client.RunUntilIdle(ctx); err != nil { // charge fails and waits for its backoff
		log.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := client.RunUntilIdle(ctx); err != nil { // charge succeeds
		log.Fatal(err)
	}
	stop()
	for ev := range events {
		switch {
		case ev.Error != nil:
			fmt.Printf("%s %s attempt %d: %s\n", ev.Name, ev.Step.Name, ev.Attempt, ev.Error.Message)
		case ev.Step != nil:
			fmt.Printf("%s %s attempt %d\n", ev.Name, ev.Step.Name, ev.Attempt)
		default:
			fmt.Printf("%s (task %t)\n", ev.Name, ev.Task.ID == res.Task.ID)
		}
	}
	// Output:
	// task.start_requested (task true)
	// step.completed reserve attempt 1
	// step.failed charge attempt 1: card network timeout
	// step.completed charge attempt 2
	// task.completed (task true)
}

// CreateTask publishes "task.initialize_requested" once (client.go), for a
// task created outside the caller's transaction.
func TestCreateTaskPublishesInitializeRequested(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "one", "1.0.0", stepDef{name: "a"}))
	events, stop := e.client.Subscribe("task.initialize_requested")
	res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "one"})
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	stop()
	var got []*tasker.Event
	for ev := range events {
		got = append(got, ev)
	}
	require.Len(t, got, 1)
	require.Equal(t, res.Task.ID, got[0].Task.ID)
	require.Equal(t, tasker.State("pending"), got[0].Task.State)
}
