package taskerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskertype"
	"github.com/tasker-go/tasker/taskerwire"
)

// sortColumns are the allowed values of sort_by.
var sortColumns = apiview.TaskSortColumns

const (
	defaultListLimit = apiview.DefaultListLimit
	maxListLimit     = apiview.MaxListLimit
	// maxCountLimit bounds count_limit: past it, ask for the exact count.
	maxCountLimit = 1_000_000
)

func (s *server) listTasks(w http.ResponseWriter, r *http.Request) error {
	p, err := taskListParams(r)
	if err != nil {
		return err
	}
	include, err := includeParam(r)
	if err != nil {
		return err
	}
	// The page is read without contexts; with ?include=context each task's
	// context is read when its item is encoded, so that the answer holds
	// at most MaxResponseBytes of items and one task at a time.
	p.OmitContext = true
	list, err := s.c.ListTasks(r.Context(), p)
	if err != nil {
		return err
	}
	withContext := include["context"]
	items, truncated, err := boundedItems(len(list.Tasks), s.opts.MaxResponseBytes, func(i int) (any, error) {
		t := list.Tasks[i]
		if withContext {
			full, err := s.c.GetTask(r.Context(), t.ID)
			switch {
			case err == nil:
				t = full
			case !errors.Is(err, tasker.ErrNotFound): // deleted since: listed as read
				return nil, err
			}
		}
		return apiview.NewListTask(t, withContext), nil
	}, func(i, size int) error {
		id := list.Tasks[i].ID
		return responseTooLarge(fmt.Sprintf("task %d", id), size, s.opts.MaxResponseBytes,
			fmt.Sprintf("list without include=context, or read it alone with GET /tasker/tasks/%d", id))
	})
	if err != nil {
		return err
	}
	page := apiview.NewPagination(list.Total, p.Limit, p.Offset, len(items))
	if list.TotalCapped {
		page.TotalCapped, page.HasMore = true, page.HasMore || len(items) == p.Limit
	}
	if truncated {
		page.Limit, page.HasMore, page.Truncated = len(items), true, true
	}
	return writeList(w, "tasks", items, "pagination", page)
}

func taskListParams(r *http.Request) (*tasker.TaskListParams, error) {
	q := r.URL.Query()
	p := &tasker.TaskListParams{Limit: defaultListLimit, OrderBy: "task_id", Desc: true}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			state := taskertype.State(strings.TrimSpace(st))
			if !state.Valid() {
				return nil, badParam("status", "%q is not a state; allowed: %s", st, statesList())
			}
			p.States = append(p.States, state)
		}
	}
	p.Namespace, p.Name, p.Version = q.Get("namespace"), q.Get("name"), q.Get("version")
	p.Initiator, p.SourceSystem = q.Get("initiator"), q.Get("source_system")
	if v := q.Get("tags"); v != "" {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				p.Tags = append(p.Tags, tag)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"created_since", &p.CreatedAfter}, {"created_until", &p.CreatedUntil}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, badParam(f.name, "%q is not an RFC 3339 timestamp such as 2025-01-02T15:04:05Z", v)
			}
			*f.dst = t.UTC()
		}
	}
	if err := limitParam(q, "limit", maxListLimit, &p.Limit); err != nil {
		return nil, err
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badParam("offset", "must be an integer 0 or more, not %q", v)
		}
		p.Offset = n
	}
	if err := limitParam(q, "count_limit", maxCountLimit, &p.CountLimit); err != nil {
		return nil, err
	}
	if v := q.Get("sort_by"); v != "" {
		found := false
		for _, c := range sortColumns {
			if v == c {
				found = true
			}
		}
		if !found {
			return nil, badParam("sort_by", "%q is not allowed; allowed: %s", v, strings.Join(sortColumns, ", "))
		}
		p.OrderBy = v
	}
	if f, err := annotationFilter(q); err != nil {
		return nil, err
	} else if f != nil {
		p.Annotation = f
	}
	switch v := q.Get("sort_order"); v {
	case "":
	case "asc":
		p.Desc = false
	case "desc":
		p.Desc = true
	default:
		return nil, badParam("sort_order", "%q is not allowed; allowed: asc, desc", v)
	}
	return p, nil
}

// annotationParams are the query parameters of the task list's annotation
// filter: all three or none.
var annotationParams = []string{"annotation_type", "annotation_key", "annotation_value"}

// annotationFilter reads the annotation filter of a task list (nil when
// none of its parameters is given). A given empty annotation_value is the
// empty string.
func annotationFilter(q url.Values) (*tasker.AnnotationFilter, error) {
	var given, missing []string
	for _, name := range annotationParams {
		if q.Has(name) {
			given = append(given, name)
		} else {
			missing = append(missing, name)
		}
	}
	switch {
	case len(given) == 0:
		return nil, nil
	case len(missing) > 0:
		return nil, badParam(missing[0], "is required with %s: filter by an annotation with annotation_type, annotation_key and annotation_value together",
			strings.Join(given, " and "))
	}
	return &tasker.AnnotationFilter{Type: q.Get("annotation_type"), Key: q.Get("annotation_key"), Value: q.Get("annotation_value")}, nil
}

func statesList() string {
	out := make([]string, len(taskertype.States))
	for i, s := range taskertype.States {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// createFields are the members of a task creation body (flat or inside
// {"task": {...}}).
var createFields = []string{"name", "namespace", "version", "context", "initiator", "source_system", "reason", "tags"}

// decodeCreate decodes a task creation body.
func decodeCreate(body []byte) (*tasker.TaskRequest, error) {
	d, err := decodeFields(body, "task", createFields...)
	if err != nil {
		return nil, err
	}
	req := &tasker.TaskRequest{
		Name: d.str("name"), Namespace: d.str("namespace"), Version: d.str("version"),
		Initiator: d.str("initiator"), SourceSystem: d.str("source_system"), Reason: d.str("reason"),
	}
	req.Tags, _ = d.strings("tags")
	if ctx := d.object("context"); ctx != nil {
		req.Context = ctx
	}
	if strings.TrimSpace(req.Name) == "" && d.fields["name"] == "" {
		d.problem("name", "is required: give the name of a registered task template")
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *server) createTask(w http.ResponseWriter, r *http.Request) error {
	req, err := readDecoded(s, w, r, decodeCreate)
	if err != nil {
		return err
	}
	req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	res, err := s.c.CreateTask(r.Context(), req)
	if err != nil {
		return err
	}
	steps := res.Steps
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
		if steps, err = s.c.ListSteps(r.Context(), res.Task.ID); err != nil {
			return err
		}
	}
	steps = nonNil(steps)
	w.Header().Set("Location", fmt.Sprintf("/tasker/tasks/%d", res.Task.ID))
	writeJSON(w, status, map[string]any{"task": newTaskView(res.Task, steps)})
	return nil
}

func (s *server) getTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	withDeps := false
	if v := r.URL.Query().Get("include_dependencies"); v != "" {
		if withDeps, err = strconv.ParseBool(v); err != nil {
			return badParam("include_dependencies", "must be true or false, not %q", v)
		}
	}
	task, steps, err := s.taskWithSteps(r.Context(), id)
	if err != nil {
		return err
	}
	notes, err := s.c.TaskAnnotations(r.Context(), id)
	if err != nil {
		return err
	}
	v := newTaskView(task, steps).WithAnnotations(notes[id])
	if err := s.coverage(r.Context(), steps, v.WorkflowSteps); err != nil {
		return err
	}
	if withDeps {
		ec, err := s.c.TaskExecutionContext(r.Context(), id)
		if err != nil {
			return err
		}
		a, err := s.c.TaskDependencyAnalysis(r.Context(), id)
		if err != nil {
			return err
		}
		reg, err := s.c.TemplateCatalog(r.Context())
		if err != nil {
			return err
		}
		v.DependencyAnalysis = apiview.NewDependencyAnalysis(reg, task, steps, ec).WithRuntime(a)
	}
	body, err := encodeCompact(map[string]any{"task": v})
	if err != nil {
		return err
	}
	if int64(len(body)) > s.opts.MaxResponseBytes {
		return responseTooLarge(fmt.Sprintf("task %d with its steps", id), len(body), s.opts.MaxResponseBytes,
			fmt.Sprintf("list its steps without their inputs and results (GET /tasker/tasks/%d/workflow_steps) and read the large ones alone", id))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// taskWithSteps returns task id and its steps (an empty list, not nil, when
// it has none).
func (s *server) taskWithSteps(ctx context.Context, id int64) (*tasker.Task, []*tasker.Step, error) {
	task, err := s.c.GetTask(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	steps, err := s.c.ListSteps(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	steps = nonNil(steps)
	return task, steps, nil
}

func (s *server) updateTask(w http.ResponseWriter, r *http.Request) error {
	id, u, err := readIDDecoded(s, w, r, "task_id", decodeTaskUpdate)
	if err != nil {
		return err
	}
	task, err := s.c.UpdateTask(r.Context(), id, u.reason, u.tags)
	return changedTask(w, task, err, false)
}

// taskUpdate is the body of PATCH and PUT /tasker/tasks/{task_id}.
type taskUpdate struct {
	reason *string
	tags   []string
}

// decodeTaskUpdate decodes {"reason", "tags"} or {"task": {...}}.
func decodeTaskUpdate(body []byte) (*taskUpdate, error) {
	d, err := decodeFields(body, "task", "reason", "tags")
	if err != nil {
		return nil, err
	}
	u := &taskUpdate{reason: d.strPtr("reason")}
	u.tags, _ = d.strings("tags")
	if err := d.err(); err != nil {
		return nil, err
	}
	if u.reason == nil && u.tags == nil {
		return nil, nothingToUpdate("reason", "tags")
	}
	return u, nil
}

func (s *server) cancelTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	task, err := s.c.CancelTask(r.Context(), id, r.URL.Query().Get("reason"))
	return changedTask(w, task, err, true)
}

func (s *server) retryTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	task, err := s.c.RetryTask(r.Context(), id)
	return changedTask(w, task, err, false)
}

// changedTask answers a change of a task (UpdateTask, CancelTask,
// RetryTask): err when the change failed, otherwise {"task": ...} (and
// "cancelled": true for a cancellation).
func changedTask(w http.ResponseWriter, task *tasker.Task, err error, cancelled bool) error {
	if err != nil {
		return err
	}
	body := map[string]any{"task": newTaskView(task, nil)}
	if cancelled {
		body["cancelled"] = true
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// annotationFields are the members of an annotation body (flat or inside
// {"task_annotation": {...}}).
var annotationFields = []string{"annotation_type", "annotation"}

// decodeAnnotation decodes {"annotation_type": NAME, "annotation": {...}}.
func decodeAnnotation(body []byte) (*taskerwire.Annotation, error) {
	d, err := decodeFields(body, "task_annotation", annotationFields...)
	if err != nil {
		return nil, err
	}
	a := &taskerwire.Annotation{Type: d.str("annotation_type")}
	if !d.has("annotation_type") {
		d.problem("annotation_type", "is required: name the annotation's type, such as billing_reference")
	}
	a.Annotation = d.object("annotation")
	if !d.has("annotation") {
		d.problem("annotation", `is required: a JSON object, such as {"invoice": "INV-1"}`)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return a, nil
}

// createAnnotation records an annotation of a task (POST
// /tasker/tasks/{task_id}/annotations).
func (s *server) createAnnotation(w http.ResponseWriter, r *http.Request) error {
	id, in, err := readIDDecoded(s, w, r, "task_id", decodeAnnotation)
	if err != nil {
		return err
	}
	a, err := s.c.AnnotateTask(r.Context(), id, in.Type, in.Annotation)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"task_annotation": apiview.NewAnnotation(a)})
	return nil
}

// taskTransitions answers a task's own audit trail (GET
// /tasker/tasks/{task_id}/transitions): who moved it, when and why.
func (s *server) taskTransitions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	if _, err := s.c.GetTask(r.Context(), id); err != nil {
		return err
	}
	trs, err := s.c.TaskTransitions(r.Context(), id)
	if err != nil {
		return err
	}
	trs = nonNil(trs)
	writeJSON(w, http.StatusOK, map[string]any{"transitions": trs})
	return nil
}

// limitParam reads the query parameter name, when it is given, into *dst:
// an integer from 1 to most.
func limitParam(q url.Values, name string, most int, dst *int) error {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return badParam(name, "must be an integer from 1 to %d, not %q", most, v)
	}
	*dst = n
	return nil
}
