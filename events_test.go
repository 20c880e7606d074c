package tasker_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/ctxschema"
	"github.com/tasker-go/tasker/taskertype"
)

func TestValidateCustomEventName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"order.fulfilled", "billing.invoice.sent", "a1.b_2"} {
		require.NoError(t, tasker.ValidateCustomEventName(ok), ok)
	}
	for name, want := range map[string]string{
		"":                   `custom event name is empty: use a namespaced name such as "order.fulfilled"`,
		"nodot":              `custom event name "nodot" is not namespaced: use lowercase words joined by dots, such as "order.fulfilled"`,
		"Order.Fulfilled":    `custom event name "Order.Fulfilled" is not namespaced: use lowercase words joined by dots, such as "order.fulfilled"`,
		"order..fulfilled":   `custom event name "order..fulfilled" is not namespaced: use lowercase words joined by dots, such as "order.fulfilled"`,
		"task.foo":           `custom event name "task.foo" uses the reserved namespace "task" (reserved: task, step, workflow, observability, test): use your own namespace, such as "order.foo"`,
		"step.completed":     `custom event name "step.completed" uses the reserved namespace "step" (reserved: task, step, workflow, observability, test): use your own namespace, such as "order.completed"`,
		"workflow.x":         `custom event name "workflow.x" uses the reserved namespace "workflow" (reserved: task, step, workflow, observability, test): use your own namespace, such as "order.x"`,
		"observability.span": `custom event name "observability.span" uses the reserved namespace "observability" (reserved: task, step, workflow, observability, test): use your own namespace, such as "order.span"`,
		"test.event":         `custom event name "test.event" uses the reserved namespace "test" (reserved: task, step, workflow, observability, test): use your own namespace, such as "order.event"`,
	} {
		require.EqualError(t, tasker.ValidateCustomEventName(name), want, name)
	}
}

// A template declaring an invalid custom event is rejected with the step.
func TestTemplateCustomEventValidation(t *testing.T) {
	t.Parallel()
	tmpl := template("shop", "orders", "1.0.0", stepDef{name: "ship"})
	tmpl.Steps[0].CustomEvents = []tasker.CustomEvent{{Name: "task.shipped"}}
	err := tasker.NewRegistry().RegisterTemplate(tmpl, tasker.RegisterOptions{AllowUnknownHandlers: true})
	require.EqualError(t, err, `template "orders": step "ship": custom_events: custom event name "task.shipped" uses the reserved namespace "task" `+
		`(reserved: task, step, workflow, observability, test): use your own namespace, such as "order.shipped"`)
}

// Every system event of the catalog is complete, and its example is valid
// against its own payload schema.
func TestSystemEventCatalog(t *testing.T) {
	t.Parallel()
	events := tasker.SystemEvents()
	require.GreaterOrEqual(t, len(events), 15)
	for i, e := range events {
		if i > 0 {
			require.Less(t, events[i-1].Name, e.Name, "sorted by name")
		}
		require.NotEmpty(t, e.Category, e.Name)
		require.NotEmpty(t, e.Description, e.Name)
		require.NotEmpty(t, e.FiredBy, e.Name)
		require.False(t, e.Custom)
		schema, err := ctxschema.Compile(e.PayloadSchema)
		require.NoError(t, err, e.Name)
		example, err := json.Marshal(e.Example)
		require.NoError(t, err)
		_, err = schema.Validate(example)
		require.NoError(t, err, "example of %s", e.Name)
	}
}

// A handler publishes a declared custom event: subscribers receive it once,
// with its payload, after the step's result is recorded; an undeclared event
// is an error for the handler.
func TestPublishCustomEvent(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := template("shop", "orders", "1.0.0", stepDef{name: "ship", limit: 1})
		tmpl.Steps[0].CustomEvents = []tasker.CustomEvent{{Name: "order.shipped", Description: "The order left the warehouse"}}
		e := newEnv(t, tmpl)
		require.NoError(t, e.reg.RegisterCustomEvent("order.audited", "An audit record was written"))
		var undeclared, invalid error
		require.NoError(t, e.reg.RegisterHandler("test", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
			undeclared = s.Publish("order.refunded", nil)
			invalid = s.Publish("task.shipped", nil)
			if err := s.Publish("order.shipped", map[string]any{"carrier": "ups"}); err != nil {
				return nil, err
			}
			return nil, s.Publish("order.audited", map[string]any{"by": "bot"})
		}), true))
		events, unsub := e.client.Subscribe("order.*")
		defer unsub()
		res, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Namespace: "shop", Name: "orders"})
		require.NoError(t, err)
		e.singlePass()
		require.Equal(t, tasker.StateComplete, e.task(res.Task.ID).State)
		require.EqualError(t, undeclared, `custom event "order.refunded" is not declared for step "ship" of shop.orders@1.0.0: `+
			`declare it under custom_events of the step, or register it with Registry.RegisterCustomEvent`)
		require.ErrorContains(t, invalid, "reserved namespace")
		unsub()
		var got []*tasker.Event
		for ev := range events {
			got = append(got, ev)
		}
		require.Len(t, got, 2)
		require.Equal(t, "order.shipped", got[0].Name)
		require.JSONEq(t, `{"carrier":"ups"}`, string(got[0].Payload))
		require.Equal(t, res.Task.ID, got[0].Task.ID)
		require.Equal(t, "ship", got[0].Step.Name)
		require.Equal(t, 1, got[0].Attempt)
		require.Equal(t, "order.audited", got[1].Name)

		catalog := e.client.EventCatalog()
		var shipped *tasker.EventSpec
		for i := range catalog {
			if catalog[i].Name == "order.shipped" {
				shipped = &catalog[i]
			}
		}
		require.NotNil(t, shipped)
		require.True(t, shipped.Custom)
		require.Equal(t, "custom", shipped.Category)
		require.Equal(t, "shop", shipped.Namespace)
		require.Equal(t, []string{"shop.orders@1.0.0/ship"}, shipped.DeclaredBy)
		require.Equal(t, "The order left the warehouse", shipped.Description)
	})
}

// A subscriber that fails or panics does not affect the workflow or later
// events.
func TestSubscribeFuncIsolatesFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "two", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
	var seen []string
	stop := e.client.SubscribeFunc(func(_ context.Context, ev *tasker.Event) error {
		seen = append(seen, ev.Step.Name)
		switch ev.Step.Name {
		case "a":
			panic("subscriber bug")
		default:
			return errTest
		}
	}, "step.completed")
	task := e.create("two", nil)
	e.singlePass()
	stop()
	require.Equal(t, tasker.StateComplete, e.task(task.ID).State)
	require.Equal(t, []string{"a", "b"}, seen, "the subscriber kept receiving after its panic")
}

// A step blocked while other steps still progress publishes task.blocked;
// the task fails (task.failed) once nothing else can run.
func TestTaskBlockedEvent(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "branches", "1.0.0",
			stepDef{name: "a"}, stepDef{name: "b"}, stepDef{name: "c", deps: []string{"b"}}))
		e.h.permanent["a"] = true
		// c returns only once a's failure is published: recorded in the same
		// pass as a's failure, c's completion would leave nothing running,
		// and the task would fail without being blocked first (a race the
		// handlers' timing decided under load).
		aFailed := make(chan struct{})
		var once sync.Once
		stopA := e.client.SubscribeFunc(func(_ context.Context, ev *tasker.Event) error {
			if ev.Step != nil && ev.Step.Name == "a" {
				once.Do(func() { close(aFailed) })
			}
			return nil
		}, "step.failed")
		defer stopA()
		e.h.hook = func(ctx context.Context, s *tasker.StepContext) {
			if s.Step.Name == "c" {
				select {
				case <-aFailed:
				case <-ctx.Done():
				}
			}
		}
		events, unsub := e.client.Subscribe("task.blocked", "task.failed", "step.completed")
		task := e.create("branches", nil)
		e.singlePass()
		unsub()
		var names []string
		for ev := range events {
			n := ev.Name
			if ev.Step != nil {
				n += " " + ev.Step.Name
			}
			names = append(names, n)
		}
		require.Equal(t, taskertype.StateError, e.task(task.ID).State)
		require.Contains(t, names, "task.blocked")
		require.Equal(t, "task.failed", names[len(names)-1])
		blockedAt := slices.Index(names, "task.blocked")
		require.Less(t, blockedAt, slices.Index(names, "step.completed c"), "blocked while c could still run")
		require.Equal(t, 1, strings.Count(strings.Join(names, ","), "task.blocked"))
	})
}

// docs/events.md lists every system event, and every event name of the
// original engine (spec §8) with what this engine publishes for it.
func TestEventsDocCoversCatalogs(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("docs/events.md")
	require.NoError(t, err)
	doc := string(raw)
	for _, e := range tasker.SystemEvents() {
		require.Contains(t, doc, "`"+e.Name+"`", "docs/events.md lists %s", e.Name)
	}
	_, original, ok := strings.Cut(doc, "## The original engine's events")
	require.True(t, ok, "docs/events.md has the section on the original's events")
	for _, name := range []string{
		"task.initialize_requested", "task.start_requested", "task.completed", "task.failed", "task.retry_requested",
		"task.cancelled", "task.resolved_manually", "task.before_transition",
		"step.initialize_requested", "step.execution_requested", "step.before_handle", "step.handle", "step.completed",
		"step.failed", "step.retry_requested", "step.cancelled", "step.resolved_manually", "step.before_transition",
		"workflow.task_started", "workflow.task_completed", "workflow.task_failed", "workflow.step_completed",
		"workflow.step_failed", "workflow.viable_steps_discovered", "workflow.no_viable_steps",
		"workflow.orchestration_requested", "workflow.task_finalization_started", "workflow.task_finalization_completed",
		"workflow.task_reenqueue_started", "workflow.task_reenqueue_requested", "workflow.task_reenqueue_failed", "workflow.task_reenqueue_delayed",
		"workflow.task_state_unclear", "workflow.step_execution_failed", "workflow.viable_steps_batch_ready",
		"workflow.steps_execution_started", "workflow.steps_execution_completed",
		"observability.task.handle", "observability.task.enqueue", "observability.task.finalize",
		"observability.step.handle", "observability.step.find_viable", "observability.step.backoff",
		"observability.step.skip", "observability.step.max_retries_reached",
	} {
		require.Contains(t, original, "`"+name+"`", "the original's %s is in the table", name)
	}
}
