package apiview

import (
	"slices"
	"strings"

	"github.com/tasker-go/tasker"
)

// EventCategories are the values of tasker.EventSpec.Category.
var EventCategories = []string{"task", "step", "workflow", "custom"}

// EventFilter selects entries of the event catalog; zero members select
// all.
type EventFilter struct {
	// Search is a case-insensitive substring of the name or description.
	Search string
	// Category is one of EventCategories.
	Category string
	// Namespace selects the custom events declared by that namespace's
	// templates.
	Namespace string
}

// ValidCategory tells whether c is empty or one of EventCategories.
func ValidCategory(c string) bool { return c == "" || slices.Contains(EventCategories, c) }

// FilterEvents returns the entries of catalog that f selects (never nil).
func FilterEvents(catalog []tasker.EventSpec, f EventFilter) []tasker.EventSpec {
	search := strings.ToLower(f.Search)
	events := []tasker.EventSpec{}
	for _, e := range catalog {
		switch {
		case f.Category != "" && e.Category != f.Category,
			f.Namespace != "" && (!e.Custom || e.Namespace != f.Namespace),
			search != "" && !strings.Contains(strings.ToLower(e.Name), search) && !strings.Contains(strings.ToLower(e.Description), search):
			continue
		}
		events = append(events, e)
	}
	return events
}
