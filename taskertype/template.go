package taskertype

import (
	"encoding/json"
	"time"
)

// RegisteredTemplate is a task template registered in the database, so
// that processes without its file can create, validate, list and draw its
// tasks. A template is keyed by namespace, name and version; its content
// is the canonical JSON form of the template (defaults applied, ${VAR}
// references of handler_config as written), and Hash its SHA-256.
type RegisteredTemplate struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// Hash is the hex SHA-256 of Definition: two registrations of one
	// version are the same template exactly when their hashes are equal.
	Hash string `json:"content_hash"`
	// Definition is the template's canonical JSON form (a template document
	// the template parser reads).
	Definition json.RawMessage `json:"definition,omitempty"`
	// Source is the file the template was loaded from ("" for a template
	// built in Go).
	Source string `json:"source,omitempty"`
	// RegisteredBy names who registered this content: a worker's id, or
	// the command and host that pushed it.
	RegisteredBy string    `json:"registered_by,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// UpdatedAt is when this content was registered (replaced, or first
	// registered).
	UpdatedAt time.Time `json:"updated_at"`
}
