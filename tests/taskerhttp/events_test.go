package taskerhttp_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// eventNames returns the names of an event list answer and checks total.
func eventNames(t *testing.T, res *response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	body := res.json(t)
	events := body["events"].([]any)
	require.EqualValues(t, len(events), body["total"])
	names := []string{}
	for _, e := range events {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	return names
}

// GET /tasker/events lists Client.EventCatalog; every answer is checked
// against the OpenAPI document (EventList, EventSpec) by e.do.
func TestEventsCatalogRoute(t *testing.T) {
	e := newEnv(t)
	all := eventNames(t, e.do("GET", "/tasker/events", nil))
	var want []string
	for _, s := range e.client.EventCatalog() {
		want = append(want, s.Name)
	}
	require.Equal(t, want, all)
	require.Len(t, all, len(tasker.SystemEvents())+1, "the system events and order.fulfilled of ecommerce.diamond")

	// The custom event declared by the test registry's diamond template.
	res := e.do("GET", "/tasker/events?category=custom", nil)
	require.Equal(t, []string{"order.fulfilled"}, eventNames(t, res))
	ev := res.json(t)["events"].([]any)[0].(map[string]any)
	require.Equal(t, true, ev["custom"])
	require.Equal(t, "ecommerce", ev["namespace"])
	require.Equal(t, "done", ev["description"])
	require.Equal(t, []any{"ecommerce.diamond@2.0.0/end"}, ev["declared_by"])
	require.NotEmpty(t, ev["payload_schema"])

	// Filters.
	require.Equal(t, []string{"workflow.no_viable_steps", "workflow.viable_steps_discovered"}, eventNames(t, e.do("GET", "/tasker/events?category=workflow", nil)))
	require.Equal(t, []string{"order.fulfilled"}, eventNames(t, e.do("GET", "/tasker/events?namespace=ecommerce", nil)))
	require.Empty(t, eventNames(t, e.do("GET", "/tasker/events?namespace=testing", nil)))
	require.Equal(t, []string{"step.backoff", "step.failed", "step.max_retries_reached", "step.retry_requested", "task.failed"},
		eventNames(t, e.do("GET", "/tasker/events?search=FAILED", nil)), "name or description, case-insensitive")
	require.Equal(t, []string{"task.failed"}, eventNames(t, e.do("GET", "/tasker/events?search=failed&category=task", nil)))
	require.Equal(t, []string{"order.fulfilled"}, eventNames(t, e.do("GET", "/tasker/events?search=fulfilled&namespace=ecommerce&category=custom", nil)))
	step := eventNames(t, e.do("GET", "/tasker/events?category=step", nil))
	require.Len(t, step, 9)
	require.Empty(t, eventNames(t, e.do("GET", "/tasker/events?search=nothing-like-this", nil)))

	// An unknown category is a 400 naming the parameter.
	res = e.do("GET", "/tasker/events?category=bogus", nil).want(t, http.StatusBadRequest)
	require.Equal(t, "invalid_parameter", res.errorCode(t))
	require.Contains(t, res.errorFields(t), "category")

	e.do("POST", "/tasker/events", nil).want(t, http.StatusMethodNotAllowed)
}
