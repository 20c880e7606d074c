package tasker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// Golden event sequences: every event a Client.Subscribe("*") subscriber
// receives for a scenario run with the fake clock, as "name step" strings
// ("name" alone for task and workflow events).

// eventGroup is a run of consecutive expected events. An ordered group must
// match exactly; an unordered group (anyOrder) holds events of steps that
// run in parallel within one pass, whose relative order depends on which
// handler returns first (and on whether their results are recorded by the
// same pass): it is compared as a multiset, and the events of each single
// step must still keep their listed order.
type eventGroup struct {
	events    []string
	unordered bool
}

func inOrder(events ...string) eventGroup  { return eventGroup{events: events} }
func anyOrder(events ...string) eventGroup { return eventGroup{events: events, unordered: true} }

// eventLabel is the golden form of an event.
func eventLabel(ev *tasker.Event) string {
	if ev.Step == nil {
		return ev.Name
	}
	return ev.Name + " " + ev.Step.Name
}

// recorder subscribes to every event before the scenario starts.
type recorder struct {
	t     *testing.T
	ch    <-chan *tasker.Event
	unsub func()
}

func record(t *testing.T, c *tasker.Client) *recorder {
	ch, unsub := c.Subscribe("*")
	t.Cleanup(unsub)
	return &recorder{t: t, ch: ch, unsub: unsub}
}

// drain returns the events received so far. Events are published
// synchronously (before CreateTask, CancelTask, ResolveStep and
// RunUntilIdle return) into a buffered channel, so nothing is in flight.
func (r *recorder) drain() []*tasker.Event {
	var out []*tasker.Event
	for {
		select {
		case ev := <-r.ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// checkEvents compares the events with the golden groups and checks the
// invariants every event satisfies.
func checkEvents(t *testing.T, c *tasker.Client, taskID int64, events []*tasker.Event, want ...eventGroup) {
	t.Helper()
	require.Zero(t, c.DroppedEvents(), "no event dropped")
	got := make([]string, len(events))
	for i, ev := range events {
		got[i] = eventLabel(ev)
	}
	dump := "got:\n  " + strings.Join(got, "\n  ")
	pos := 0
	for gi, g := range want {
		require.LessOrEqual(t, pos+len(g.events), len(got), "group %d %v: too few events\n%s", gi, g.events, dump)
		part := got[pos : pos+len(g.events)]
		if !g.unordered {
			require.Equal(t, g.events, part, "group %d (ordered) at event %d\n%s", gi, pos, dump)
		} else {
			require.ElementsMatch(t, g.events, part, "group %d (any order) at event %d\n%s", gi, pos, dump)
			// The events of one step keep their order within the group.
			for _, step := range stepsOf(g.events) {
				require.Equal(t, ofStep(g.events, step), ofStep(part, step), "group %d: order of the events of step %s\n%s", gi, step, dump)
			}
		}
		pos += len(g.events)
	}
	require.Len(t, got, pos, "unexpected events after the golden sequence\n%s", dump)

	seen := map[string]bool{}
	var last time.Time
	for i, ev := range events {
		what := fmt.Sprintf("event %d %s", i, got[i])
		require.NotNil(t, ev.Task, what+": task")
		require.Equal(t, taskID, ev.Task.ID, what+": task id")
		require.False(t, ev.At.IsZero(), what+": timestamp")
		require.False(t, ev.At.Before(last), what+": timestamps never go back (fake clock)")
		last = ev.At
		switch category(ev.Name) {
		case "step":
			require.NotNil(t, ev.Step, what+": step")
			require.Equal(t, taskID, ev.Step.TaskID, what+": step's task")
			key := fmt.Sprintf("%s/%s/%d", ev.Name, ev.Step.Name, ev.Attempt)
			require.False(t, seen[key], what+": (name, step, attempt) %s published twice", key)
			seen[key] = true
		default:
			require.Nil(t, ev.Step, what+": task and workflow events have no step")
		}
		switch ev.Name {
		case "step.failed", "step.backoff", "step.max_retries_reached":
			require.NotNil(t, ev.Error, what+": error")
			require.NotEmpty(t, ev.Error.Message, what+": error message")
			require.Equal(t, ev.Attempt, ev.Error.Attempt, what+": error attempt")
		default:
			require.Nil(t, ev.Error, what+": no error")
		}
		switch ev.Name {
		case "step.execution_requested", "step.completed", "step.failed", "step.backoff", "step.max_retries_reached":
			require.Positive(t, ev.Attempt, what+": attempt")
			require.Equal(t, ev.Step.Attempts, ev.Attempt, what+": attempt is the step's")
		}
	}
}

func category(name string) string { c, _, _ := strings.Cut(name, "."); return c }

func stepsOf(events []string) []string {
	var steps []string
	for _, e := range events {
		if _, s, ok := strings.Cut(e, " "); ok && !slices.Contains(steps, s) {
			steps = append(steps, s)
		}
	}
	return steps
}

func ofStep(events []string, step string) []string {
	var out []string
	for _, e := range events {
		if _, s, ok := strings.Cut(e, " "); ok && s == step {
			out = append(out, e)
		}
	}
	return out
}

// (a) Three steps in a line, all succeeding.
func TestEventGoldenLinearSuccess(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "linear", "1.0.0",
			stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}, stepDef{name: "c", deps: []string{"b"}}))
		rec := record(t, e.client)
		task := e.create("linear", nil)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested a",
				"step.completed a", "workflow.viable_steps_discovered", "step.execution_requested b",
				"step.completed b", "workflow.viable_steps_discovered", "step.execution_requested c",
				"step.completed c", "task.completed",
			))
	})
}

// (b) A diamond whose two branches each fail once, then succeed on retry.
func TestEventGoldenDiamondRetries(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "diamond", "1.0.0",
			stepDef{name: "start"},
			stepDef{name: "left", deps: []string{"start"}}, stepDef{name: "right", deps: []string{"start"}},
			stepDef{name: "end", deps: []string{"left", "right"}}))
		e.h.fails["left"], e.h.fails["right"] = 1, 1
		rec := record(t, e.client)
		task := e.create("diamond", nil)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"start": complete(1), "left": complete(2), "right": complete(2), "end": complete(1)})
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested start",
				"step.completed start", "workflow.viable_steps_discovered",
			),
			// Both branches are claimed by the same pass.
			anyOrder("step.execution_requested left", "step.execution_requested right"),
			// Both fail and back off, in the order their handlers return.
			anyOrder("step.failed left", "step.backoff left", "step.failed right", "step.backoff right"),
			// Then nothing runs until the retries are due.
			// After the backoff both are claimed again by one pass.
			inOrder("workflow.no_viable_steps", "workflow.viable_steps_discovered"),
			anyOrder("step.execution_requested left", "step.execution_requested right"),
			// The second completion readies the join.
			anyOrder("step.completed left", "step.completed right"),
			inOrder(
				"workflow.viable_steps_discovered", "step.execution_requested end",
				"step.completed end", "task.completed",
			))
	})
}

// (c) A step that always fails exhausts its retry limit of 2; its child
// never runs and the task fails.
func TestEventGoldenRetryExhaustion(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "exhaust", "1.0.0",
			stepDef{name: "a", limit: 2}, stepDef{name: "b", deps: []string{"a"}}))
		e.h.fails["a"] = 1000
		rec := record(t, e.client)
		task := e.create("exhaust", nil)
		require.Equal(t, taskertype.StateError, e.quiesce(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"a": failed(2), "b": pending(0)})
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested a",
				"step.failed a", "step.backoff a", "workflow.no_viable_steps",
				"workflow.viable_steps_discovered", "step.execution_requested a",
				"step.failed a", "step.max_retries_reached a", "task.failed",
			))
	})
}

// (d) Cancelling a task while its first step runs: the running handler's
// result is dropped, so nothing follows task.cancelled.
func TestEventGoldenCancelRunning(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "cancel", "1.0.0",
			stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
			if s.Step.Name == "a" {
				<-ctx.Done() // runs until cancelled
			}
		}
		rec := record(t, e.client)
		// The worker publishes the claim's events after starting the
		// handler: wait for step.execution_requested before cancelling.
		started, unsub := e.client.Subscribe("step.execution_requested")
		defer unsub()
		task := e.create("cancel", nil)
		done := make(chan error, 1)
		go func() { done <- e.client.RunUntilIdle(e.ctx) }()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("step a did not start")
		}
		_, err := e.client.CancelTask(e.ctx, task.ID, "operator cancelled")
		require.NoError(t, err)
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("RunUntilIdle did not return after the cancellation")
		}
		e.singlePass() // nothing more happens
		require.Equal(t, taskertype.StateCancelled, e.task(task.ID).State)
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested a",
			),
			// One cancellation per unfinished step, in the store's order.
			anyOrder("step.cancelled a", "step.cancelled b"),
			inOrder("task.cancelled"))
	})
}

// (e) A step blocked by a permanent error is resolved manually: the task
// leaves error, starts again and its remaining step runs.
func TestEventGoldenManualResolution(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "resolve", "1.0.0",
			stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		e.h.permanent["a"] = true
		rec := record(t, e.client)
		task := e.create("resolve", nil)
		require.Equal(t, taskertype.StateError, e.quiesce(task.ID).State)
		step := e.steps(task.ID)["a"]
		_, err := e.client.ResolveStep(e.ctx, step.ID, map[string]any{"manual": true}, "fixed by hand")
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested a",
				"step.failed a", "task.failed",
				"step.resolved_manually a", "task.retry_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested b",
				"step.completed b", "task.completed",
			))
	})
}

// (f) The worker stops while a step runs: the step is given back (pending,
// its attempt not counted) with step.initialize_requested, and the next run
// runs the same attempt again.
func TestEventGoldenReleasedOnStop(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnvWith(t, func(cfg *tasker.Config) { cfg.Worker.ID = "golden-worker" })
		var calls atomic.Int32
		require.NoError(t, e.reg.RegisterHandler("blocker", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
			if calls.Add(1) == 1 {
				<-ctx.Done() // runs until the worker stops
				return nil, ctx.Err()
			}
			return "ok", nil
		}), false))
		tmpl := template("default", "release", "1.0.0", stepDef{name: "a"})
		tmpl.Steps[0].Handler = "blocker"
		require.NoError(t, e.reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
		rec := record(t, e.client)
		started, unsub := e.client.Subscribe("step.execution_requested")
		defer unsub()
		task := e.create("release", nil)
		require.NoError(t, e.client.Start(e.ctx))
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("step a did not start")
		}
		now, cancel := context.WithCancel(e.ctx)
		cancel() // no time to finish: the running step is given back
		require.NoError(t, e.client.Stop(now))
		a := e.steps(task.ID)["a"]
		require.Equal(t, taskertype.StatePending, a.State)
		require.Zero(t, a.Attempts, "the attempt given back does not count")
		events := rec.drain()
		checkEvents(t, e.client, task.ID, events,
			inOrder(
				"task.initialize_requested",
				"task.start_requested", "workflow.viable_steps_discovered", "step.execution_requested a",
				"step.initialize_requested a",
			))
		released := events[len(events)-1]
		require.Equal(t, 1, released.Attempt, "the attempt given back")
		require.Equal(t, taskertype.StatePending, released.Step.State)
		require.JSONEq(t, `{"reason": "released_on_shutdown", "worker": "golden-worker"}`, string(released.Payload))
		ch, ok := tasker.StateChangeOf(released)
		require.True(t, ok)
		require.Equal(t, taskertype.StatePending, ch.To, "a state change of the step")

		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		checkEvents(t, e.client, task.ID, rec.drain(),
			inOrder(
				"workflow.viable_steps_discovered", "step.execution_requested a",
				"step.completed a", "task.completed",
			))
	})
}
