package tasker

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// EventSpec describes one event of the catalog: a system event the engine
// publishes, or a custom event declared by a template or a Go program.
type EventSpec struct {
	// Name is the event name, such as "step.failed" or "order.fulfilled".
	Name string `json:"name"`
	// Category is "task", "step" or "workflow" for system events and
	// "custom" for custom events.
	Category    string `json:"category"`
	Description string `json:"description"`
	// FiredBy names the component that publishes it.
	FiredBy string `json:"fired_by"`
	// PayloadSchema is the JSON Schema of the event's JSON form (an Event
	// marshalled to JSON); for custom events, of its payload when declared.
	PayloadSchema map[string]any `json:"payload_schema,omitempty"`
	// Example is an example of the event's JSON form.
	Example map[string]any `json:"example,omitempty"`
	// Custom is true for custom events.
	Custom bool `json:"custom"`
	// Namespace is the template namespace that declares a custom event
	// (empty for events registered by Go code and for system events).
	Namespace string `json:"namespace,omitempty"`
	// DeclaredBy lists "namespace.name@version/step" for each template step
	// that declares a custom event, or "go" for RegisterCustomEvent.
	DeclaredBy []string `json:"declared_by,omitempty"`
}

// Reserved event namespaces: custom events may not use them.
var reservedEventNamespaces = []string{"task", "step", "workflow", "observability", "test"}

var customEventRe = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)

// ValidateCustomEventName checks a custom event name: lowercase words
// (letters, digits, underscores) joined by dots, at least two of them
// ("order.fulfilled"), not in a reserved namespace (task, step, workflow,
// observability, test) and not the name of a system event.
func ValidateCustomEventName(name string) error {
	switch {
	case name == "":
		return errors.New("custom event name is empty: use a namespaced name such as \"order.fulfilled\"")
	case !customEventRe.MatchString(name):
		return fmt.Errorf("custom event name %q is not namespaced: use lowercase words joined by dots, such as \"order.fulfilled\"", name)
	}
	ns, _, _ := strings.Cut(name, ".")
	for _, r := range reservedEventNamespaces {
		if ns == r {
			return fmt.Errorf("custom event name %q uses the reserved namespace %q (reserved: %s): use your own namespace, such as \"order.%s\"",
				name, ns, strings.Join(reservedEventNamespaces, ", "), strings.TrimPrefix(name, ns+"."))
		}
	}
	if _, ok := systemEventIndex[name]; ok {
		return fmt.Errorf("custom event name %q is a system event: choose another name", name)
	}
	return nil
}

// stepEventSchema and taskEventSchema describe the JSON form of Event.
var (
	taskObjectSchema = map[string]any{
		"type":     "object",
		"required": []any{"task_id", "namespace", "name", "version", "status"},
		"properties": map[string]any{
			"task_id": map[string]any{"type": "integer"}, "namespace": map[string]any{"type": "string"},
			"name": map[string]any{"type": "string"}, "version": map[string]any{"type": "string"},
			"status": map[string]any{"type": "string"}, "context": map[string]any{"type": "object"},
		},
	}
	stepObjectSchema = map[string]any{
		"type":     "object",
		"required": []any{"workflow_step_id", "task_id", "name", "status", "attempts", "retry_limit"},
		"properties": map[string]any{
			"workflow_step_id": map[string]any{"type": "integer"}, "task_id": map[string]any{"type": "integer"},
			"name": map[string]any{"type": "string"}, "status": map[string]any{"type": "string"},
			"attempts": map[string]any{"type": "integer"}, "retry_limit": map[string]any{"type": "integer"},
			"results": map[string]any{}, "last_error": map[string]any{"type": "object"},
		},
	}
	errorObjectSchema = map[string]any{
		"type": "object", "required": []any{"message", "kind"},
		"properties": map[string]any{
			"message": map[string]any{"type": "string"}, "kind": map[string]any{"type": "string"},
			"class": map[string]any{"type": "string"}, "attempt": map[string]any{"type": "integer"},
		},
	}
)

func eventSchema(step, withError bool, payload map[string]any) map[string]any {
	props := map[string]any{
		"name": map[string]any{"type": "string"}, "task": taskObjectSchema,
		"timestamp": map[string]any{"type": "string", "format": "date-time"},
	}
	required := []any{"name", "task", "timestamp"}
	if step {
		props["step"] = stepObjectSchema
		props["attempt"] = map[string]any{"type": "integer"}
		props["duration"] = map[string]any{"type": "integer", "description": "nanoseconds the attempt ran (step.completed, step.failed), or the step waited ready before its claim (step.execution_requested)"}
		required = append(required, "step")
	}
	if withError {
		props["error"] = errorObjectSchema
		required = append(required, "error")
	}
	if payload != nil {
		props["payload"] = payload
		required = append(required, "payload")
	}
	return map[string]any{"type": "object", "required": required, "properties": props}
}

func exampleEvent(name string, step bool, extra map[string]any) map[string]any {
	ex := map[string]any{
		"name":      name,
		"task":      map[string]any{"task_id": 42, "namespace": "ecommerce", "name": "process_order", "version": "1.0.0", "status": "in_progress"},
		"timestamp": time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
	}
	if step {
		ex["step"] = map[string]any{"workflow_step_id": 7, "task_id": 42, "name": "process_payment", "status": "in_progress", "attempts": 1, "retry_limit": 3}
		ex["attempt"] = 1
	}
	for k, v := range extra {
		ex[k] = v
	}
	return ex
}

var (
	stepErrorExample = map[string]any{"message": "payment gateway timed out", "kind": "retryable", "attempt": 1}
	systemEvents     = buildSystemEvents()
	systemEventIndex = func() map[string]int {
		m := map[string]int{}
		for i, e := range systemEvents {
			m[e.Name] = i
		}
		return m
	}()
)

func buildSystemEvents() []EventSpec {
	type def struct {
		name, category, desc, firedBy string
		step, err                     bool
		payload                       map[string]any
		extra                         map[string]any
	}
	const (
		client = "tasker.Client"
		worker = "worker (internal/orchestrator)"
		leader = "maintenance leader (internal/maintenance)"
	)
	defs := []def{
		{name: EventTaskInitializeRequested, category: "task", desc: "A task was created (its steps pending).", firedBy: client},
		{name: EventTaskStartRequested, category: "task", desc: "A worker claimed the task's first steps: the task moved from pending to in_progress.", firedBy: worker},
		{name: EventTaskCompleted, category: "task", desc: "Every step is complete or resolved: the task is complete.", firedBy: worker},
		{name: EventTaskFailed, category: "task", desc: "A step is blocked (attempts exhausted, not retryable or a permanent error) and nothing else can progress: the task is in error.", firedBy: worker},
		{name: EventTaskCancelled, category: "task", desc: "The task was cancelled with its unfinished steps.", firedBy: client},
		{name: EventTaskRetryRequested, category: "task", desc: "A task in error was retried, or a manual resolution let it progress again: it is pending.", firedBy: client + ", " + worker},
		{name: EventTaskResolvedManually, category: "task", desc: "An operator's resolution of its last unfinished step finished the task.", firedBy: client},
		{name: EventTaskScheduled, category: "task", desc: "A schedule fired: it created the task (source_system schedule, reason <schedule>@<fire time>); the payload names the schedule, the fire time and what fired it (schedule, catch_up or manual).",
			firedBy: leader + ", " + client + " (TriggerSchedule)",
			payload: map[string]any{"type": "object", "required": []any{"schedule", "fire_at", "trigger"}, "properties": map[string]any{
				"schedule": map[string]any{"type": "string"}, "fire_at": map[string]any{"type": "string", "format": "date-time"},
				"catch_up": map[string]any{"type": "boolean"}, "trigger": map[string]any{"type": "string", "enum": []any{"schedule", "catch_up", "manual"}}}},
			extra: map[string]any{"payload": map[string]any{"schedule": "nightly_report", "fire_at": "2026-11-23T12:00:00Z", "catch_up": false, "trigger": "schedule"}}},
		{name: EventWorkflowViableStepsDiscovered, category: "workflow", desc: "A worker claimed ready steps of the task; the payload lists them.", firedBy: worker,
			payload: map[string]any{"type": "object", "properties": map[string]any{
				"step_names": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, "processing_mode": map[string]any{"type": "string"}}},
			extra: map[string]any{"payload": map[string]any{"step_names": []any{"process_payment"}, "processing_mode": "concurrent"}}},
		{name: EventWorkflowNoViableSteps, category: "workflow", desc: "Nothing of the task runs and its runnable steps all wait for a retry time; the payload says until when.", firedBy: worker,
			payload: map[string]any{"type": "object", "properties": map[string]any{
				"next_attempt_at": map[string]any{"type": "string", "format": "date-time"}, "waiting_steps": map[string]any{"type": "integer"}}},
			extra: map[string]any{"payload": map[string]any{"next_attempt_at": "2026-11-23T12:00:02Z", "waiting_steps": 1}}},
		{name: EventTaskBlocked, category: "task", desc: "A step of the task was blocked while other steps can still progress: the task can no longer complete, and fails once nothing else runs.", firedBy: worker,
			payload: map[string]any{"type": "object", "properties": map[string]any{
				"blocked_steps": map[string]any{"type": "integer"}, "runnable_steps": map[string]any{"type": "integer"}, "in_progress_steps": map[string]any{"type": "integer"}}},
			extra: map[string]any{"payload": map[string]any{"blocked_steps": 1, "runnable_steps": 0, "in_progress_steps": 1}}},
		{name: EventStepExecutionRequested, category: "step", desc: "A worker claimed the step and starts its handler (attempt counted); duration is how long the step waited ready (since its creation, its last parent's completion or its retry time).", firedBy: worker, step: true,
			extra: map[string]any{"duration": 3000000}},
		{name: EventStepInitializeRequested, category: "step", desc: "The step is pending again without a counted attempt: its worker gave it back (stopping, or before the handler started); Attempt is the attempt given back, which the next claim runs again.",
			firedBy: worker + ", " + client + " (ReleaseRemoteStep)", step: true,
			payload: map[string]any{"type": "object", "required": []any{"reason"}, "properties": map[string]any{
				"reason": map[string]any{"type": "string", "enum": []any{"released_on_shutdown"}}, "worker": map[string]any{"type": "string"},
				"started": map[string]any{"type": "boolean"}, "attempt": map[string]any{"type": "integer"}}},
			extra: map[string]any{"payload": map[string]any{"reason": "released_on_shutdown", "worker": "host-4242-1f2e3d4c"}}},
		{name: EventStepCompleted, category: "step", desc: "The step's handler succeeded; its results are recorded.", firedBy: worker, step: true,
			extra: map[string]any{"duration": 12000000}},
		{name: EventStepFailed, category: "step", desc: "An attempt failed (handler error, timeout, panic, or its worker was lost); the error says why.", firedBy: worker + ", " + leader, step: true, err: true,
			extra: map[string]any{"error": stepErrorExample}},
		{name: EventStepBackoff, category: "step", desc: "A failed step will be retried; the payload gives the time and kind of the backoff.", firedBy: worker, step: true, err: true,
			payload: map[string]any{"type": "object", "properties": map[string]any{
				"next_attempt_at": map[string]any{"type": "string", "format": "date-time"}, "backoff_ms": map[string]any{"type": "integer"},
				"backoff_type": map[string]any{"type": "string", "enum": []any{"exponential", "server_requested"}}}},
			extra: map[string]any{"error": stepErrorExample, "payload": map[string]any{"next_attempt_at": "2026-11-23T12:00:02Z", "backoff_ms": 2000, "backoff_type": "exponential"}}},
		{name: EventStepMaxRetriesReached, category: "step", desc: "A failed step used its last attempt; it is blocked.", firedBy: worker, step: true, err: true,
			extra: map[string]any{"error": stepErrorExample}},
		{name: EventStepRetryRequested, category: "step", desc: "A task retry reset the failed step to pending with fresh attempts.", firedBy: client, step: true},
		{name: EventStepCancelled, category: "step", desc: "The step was cancelled (alone or with its task).", firedBy: client, step: true},
		{name: EventStepResolvedManually, category: "step", desc: "An operator resolved the step (optionally with results); its children may run.", firedBy: client, step: true},
	}
	out := make([]EventSpec, len(defs))
	for i, d := range defs {
		out[i] = EventSpec{Name: d.name, Category: d.category, Description: d.desc, FiredBy: d.firedBy,
			PayloadSchema: eventSchema(d.step, d.err, d.payload), Example: exampleEvent(d.name, d.step, d.extra)}
	}
	return out
}

// SystemEvents lists the events the engine publishes, sorted by name.
func SystemEvents() []EventSpec {
	out := append([]EventSpec(nil), systemEvents...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RegisterCustomEvent declares a custom event for Go handlers (templates
// declare theirs under custom_events). Declaring a name twice keeps the
// first description.
func (r *Registry) RegisterCustomEvent(name, description string) error {
	if err := ValidateCustomEventName(name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.goEvents == nil {
		r.goEvents = map[string]string{}
	}
	if _, ok := r.goEvents[name]; !ok {
		r.goEvents[name] = description
	}
	return nil
}

// CustomEvents lists the custom events declared by registered templates and
// by RegisterCustomEvent, sorted by name.
func (r *Registry) CustomEvents() []EventSpec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	byName := map[string]*EventSpec{}
	get := func(name, desc string) *EventSpec {
		e := byName[name]
		if e == nil {
			e = &EventSpec{Name: name, Category: "custom", Description: desc, Custom: true, FiredBy: "step handlers (StepContext.Publish)",
				PayloadSchema: eventSchema(true, false, map[string]any{"description": "the payload given to StepContext.Publish"}),
				Example:       exampleEvent(name, true, map[string]any{"payload": map[string]any{"order_id": "ord_42"}})}
			byName[name] = e
		}
		if e.Description == "" {
			e.Description = desc
		}
		return e
	}
	for name, desc := range r.goEvents {
		e := get(name, desc)
		e.DeclaredBy = append(e.DeclaredBy, "go")
	}
	for _, byName := range r.templates {
		for _, versions := range byName {
			for _, t := range versions {
				for _, s := range t.Steps {
					for _, ce := range s.CustomEvents {
						e := get(ce.Name, ce.Description)
						e.Namespace = t.Namespace
						e.DeclaredBy = append(e.DeclaredBy, t.FullName()+"/"+s.Name)
					}
				}
			}
		}
	}
	out := make([]EventSpec, 0, len(byName))
	for _, e := range byName {
		sort.Strings(e.DeclaredBy)
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// customEventDeclared reports whether step may publish name: its template
// step declares it, or Go code registered it.
func (r *Registry) customEventDeclared(namespace, name, version, step, event string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.goEvents[event]; ok {
		return true
	}
	t := r.templates[namespace][name][version]
	if t == nil {
		return false
	}
	s, ok := t.Step(step)
	if !ok {
		return false
	}
	for _, ce := range s.CustomEvents {
		if ce.Name == event {
			return true
		}
	}
	return false
}

// EventCatalog lists every event: the system events and the custom events
// declared in the client's registry, sorted by name.
func (c *Client) EventCatalog() []EventSpec {
	out := append(SystemEvents(), c.registry.CustomEvents()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Publish publishes a custom event from a handler. The name must be declared
// under custom_events of this step's template step, or registered with
// Registry.RegisterCustomEvent; payload must encode as JSON. The event is
// delivered, like every event, after the step's result is recorded, and is
// dropped if it is not (the attempt lost its lease).
func (s *StepContext) Publish(name string, payload any) error {
	if err := ValidateCustomEventName(name); err != nil {
		return err
	}
	if s.registry == nil || !s.registry.customEventDeclared(s.Task.Namespace, s.Task.Name, s.Task.Version, s.Step.Name, name) {
		return fmt.Errorf("custom event %q is not declared for step %q of %s: declare it under custom_events of the step, or register it with Registry.RegisterCustomEvent",
			name, s.Step.Name, s.Task.FullName())
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("custom event %q: payload is not JSON-encodable: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, &Event{Name: name, Task: s.Task, Step: s.Step, Attempt: s.Attempt, Payload: raw, At: s.now()})
	return nil
}
