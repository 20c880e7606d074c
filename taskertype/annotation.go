package taskertype

import (
	"encoding/json"
	"time"
)

// TaskAnnotation is a fact recorded about a task: a typed JSON object.
// Handlers, remote workers and operators record them (what a step learned,
// an external reference, a review); a task has any number of them, and
// they go with the task when it is deleted.
type TaskAnnotation struct {
	ID     int64 `json:"task_annotation_id"`
	TaskID int64 `json:"task_id"`
	// Type is the name of the annotation's type (see AnnotationType),
	// created with its first annotation.
	Type string `json:"annotation_type"`
	// Annotation is a JSON object, as the database returns it (PostgreSQL
	// orders its keys and spaces it out).
	Annotation json.RawMessage `json:"annotation"`
	CreatedAt  time.Time       `json:"created_at"`
}

// AnnotationType names a kind of annotation ("billing_reference",
// "review"). Types are created by the first annotation of their name.
type AnnotationType struct {
	ID          int64  `json:"annotation_type_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}
