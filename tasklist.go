package tasker

import (
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
)

// TaskListParams filters and pages ListTasks (zero values do not filter).
type TaskListParams struct {
	// States keeps tasks in one of these states.
	States []State
	// Namespace, Name and Version keep tasks of a template.
	Namespace string
	Name      string
	Version   string
	// Initiator and SourceSystem keep tasks with these values.
	Initiator    string
	SourceSystem string
	// Tags keeps tasks having all of these tags.
	Tags []string
	// CreatedAfter and CreatedUntil bound the creation time.
	CreatedAfter time.Time
	CreatedUntil time.Time
	// OrderBy is one of "task_id", "created_at", "requested_at", "name",
	// "status"; default "task_id" (newest first). Desc reverses it.
	OrderBy string
	Desc    bool
	// Limit defaults to 50, at most 1,000.
	Limit  int
	Offset int
	// OmitContext leaves each task's Context nil, the database not reading
	// it: a page of tasks with large contexts then costs little memory.
	OmitContext bool
	// Annotation, when not nil, keeps the tasks that have an annotation of
	// its Type whose top-level member Key has the value Value (see
	// AnnotationFilter), each such task once.
	Annotation *AnnotationFilter
	// CountLimit, when > 0, stops counting the matching tasks past it:
	// TaskList.Total is then at most CountLimit, and TotalCapped tells
	// when there are more. A page then costs the same on a table of any
	// size (an exact count reads every matching row).
	CountLimit int
}

// AnnotationFilter selects tasks by an annotation member: Type is the
// annotation type's name, Key a top-level member of the annotation and
// Value its value as text, compared as PostgreSQL's annotation ->> key =
// value does on both databases: a JSON string by its content (without
// quotes), true and false by those words, a number by its text as
// PostgreSQL's numeric writes it (1e2 is "100", 1.50 is "1.50"). A member
// that is absent, null, an object or an array never matches.
type AnnotationFilter = taskerdriver.AnnotationFilter

// driver returns p as the driver's parameters (the same fields: a
// conversion, checked by the compiler).
func (p *TaskListParams) driver() *taskerdriver.TaskListParams {
	return (*taskerdriver.TaskListParams)(p)
}
