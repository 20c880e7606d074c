package taskerhttp

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tasker-go/tasker"
)

// eventCategories are the values of EventSpec.Category.
var eventCategories = []string{"task", "step", "workflow", "custom"}

// listEvents answers GET /tasker/events: the event catalog
// (Client.EventCatalog), optionally filtered by search (a case-insensitive
// substring of the name or description), category and namespace (the
// custom events declared by that namespace's templates).
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	search, category, namespace := strings.ToLower(q.Get("search")), q.Get("category"), q.Get("namespace")
	if category != "" && !slices.Contains(eventCategories, category) {
		return badParam("category", "%q is not a category; allowed: %s", category, strings.Join(eventCategories, ", "))
	}
	events := []tasker.EventSpec{}
	for _, e := range s.c.EventCatalog() {
		switch {
		case category != "" && e.Category != category,
			namespace != "" && (!e.Custom || e.Namespace != namespace),
			search != "" && !strings.Contains(strings.ToLower(e.Name), search) && !strings.Contains(strings.ToLower(e.Description), search):
			continue
		}
		events = append(events, e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "total": len(events)})
	return nil
}
