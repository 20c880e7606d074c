package taskerhttp

import (
	"net/http"
	"strings"

	"github.com/tasker-go/tasker/internal/apiview"
)

// listEvents answers GET /tasker/events: the event catalog
// (Client.EventCatalog), optionally filtered by search (a case-insensitive
// substring of the name or description), category and namespace (the
// custom events declared by that namespace's templates).
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := apiview.EventFilter{Search: q.Get("search"), Category: q.Get("category"), Namespace: q.Get("namespace")}
	if !apiview.ValidCategory(f.Category) {
		return badParam("category", "%q is not a category; allowed: %s", f.Category, strings.Join(apiview.EventCategories, ", "))
	}
	events := apiview.FilterEvents(s.c.EventCatalog(), f)
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "total": len(events)})
	return nil
}
