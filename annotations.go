package tasker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Annotations are facts recorded about a task (the original engine's
// tasker_task_annotations): typed JSON objects that handlers
// (StepContext.Annotate), remote workers (with their result) and operators
// (AnnotateTask, POST /tasker/tasks/{task_id}/annotations) add, that the
// task's views show and that task lists filter on
// (TaskListParams.Annotation). They go with their task when it is deleted.
type (
	// TaskAnnotation is one annotation of a task.
	TaskAnnotation = taskertype.TaskAnnotation
	// AnnotationType names a kind of annotation; a type is created by the
	// first annotation of its name.
	AnnotationType = taskertype.AnnotationType
)

// Limits of annotations.
const (
	// MaxAnnotationTypeLen is the longest annotation type name, in bytes.
	// A name is made of the characters A-Z a-z 0-9 . _ -.
	MaxAnnotationTypeLen = 64
	// MaxAnnotationBytes is the largest annotation, as JSON.
	MaxAnnotationBytes = 64 << 10
)

// AnnotateTask records an annotation of a task: annotation (encoded as
// JSON; a json.RawMessage is taken as it is) must be a JSON object of at
// most MaxAnnotationBytes, and annotationType a name of 1 to
// MaxAnnotationTypeLen of the characters A-Z a-z 0-9 . _ - (the type is
// created with its first annotation). Invalid input is a *ValidationError
// naming annotation_type or annotation; a task that does not exist is
// ErrNotFound.
func (c *Client) AnnotateTask(ctx context.Context, taskID int64, annotationType string, annotation any) (*TaskAnnotation, error) {
	raw, fields := annotationJSON(annotationType, annotation)
	if fields != nil {
		return nil, &ValidationError{Message: "invalid task annotation", Fields: fields}
	}
	a, err := c.exec.AnnotationInsert(ctx, &taskerdriver.AnnotationInsertParams{TaskID: taskID, Type: annotationType,
		Annotation: raw, Now: c.cfg.Now().UTC()})
	if errors.Is(err, taskerdriver.ErrValueRejected) {
		return nil, &ValidationError{Message: "invalid task annotation", Fields: map[string]string{
			"annotation": "the database refused it (" + err.Error() + "): send values it can store"}}
	}
	if err != nil {
		return nil, c.notFound(err, "task", taskID)
	}
	return a, nil
}

// annotationJSON checks an annotation's type name and encodes the
// annotation, returning the problems by field (annotation_type,
// annotation), nil when there are none.
func annotationJSON(annotationType string, annotation any) (json.RawMessage, map[string]string) {
	fields := map[string]string{}
	if msg := nameProblem(annotationType, MaxAnnotationTypeLen, "billing_reference"); msg != "" {
		fields["annotation_type"] = msg
	}
	raw, err := json.Marshal(annotation)
	switch {
	case err != nil:
		fields["annotation"] = "cannot be encoded as JSON: " + err.Error()
	case len(raw) == 0 || raw[0] != '{':
		fields["annotation"] = `must be a JSON object, such as {"invoice": "INV-1"}`
	case len(raw) > MaxAnnotationBytes:
		fields["annotation"] = fmt.Sprintf("is %d bytes of JSON, more than %d: record a reference to the data instead", len(raw), MaxAnnotationBytes)
	default:
		if bad := nulFields(map[string]any{"annotation": json.RawMessage(raw)}); bad != nil {
			fields["annotation"] = bad["annotation"]
		}
	}
	if len(fields) > 0 {
		return nil, fields
	}
	return raw, nil
}

// TaskAnnotations returns the annotations of the given tasks, read in one
// query (for loading the annotations of a page of tasks at once): by task
// id, each task's oldest first. Every given id has an entry, an empty list
// for a task without annotations (or that does not exist).
func (c *Client) TaskAnnotations(ctx context.Context, taskIDs ...int64) (map[int64][]*TaskAnnotation, error) {
	ids := slices.Clone(taskIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[int64][]*TaskAnnotation, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	list, err := c.exec.AnnotationList(ctx, &taskerdriver.AnnotationListParams{TaskIDs: ids})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out[id] = []*TaskAnnotation{}
	}
	for _, a := range list {
		out[a.TaskID] = append(out[a.TaskID], a)
	}
	return out, nil
}

// AnnotationTypes returns every annotation type, by name.
func (c *Client) AnnotationTypes(ctx context.Context) ([]*AnnotationType, error) {
	return c.exec.AnnotationTypeList(ctx)
}

// Annotate records an annotation of the step's task at once (not with the
// step's result: it stays recorded whatever the attempt's outcome), as
// Client.AnnotateTask does, under the context the step runs with. Invalid
// input is a *ValidationError.
func (s *StepContext) Annotate(annotationType string, annotation any) error {
	if s.annotate == nil {
		return errors.New("tasker: StepContext.Annotate: this step context was not made by a Client")
	}
	return s.annotate(annotationType, annotation)
}

// annotator returns a StepContext's annotate: AnnotateTask of taskID under
// ctx, the step's context.
func (c *Client) annotator(ctx context.Context, taskID int64) func(string, any) error {
	return func(annotationType string, annotation any) error {
		_, err := c.AnnotateTask(ctx, taskID, annotationType, annotation)
		return err
	}
}
