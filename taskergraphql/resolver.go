package taskergraphql

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskergraphql/internal/generated"
	"github.com/tasker-go/tasker/taskergraphql/internal/model"
)

// resolver resolves every field of the schema with the Go API (the same
// calls the REST API makes); each root field first checks its permission.
type resolver struct {
	c   *tasker.Client
	cfg *Config
}

func (r *resolver) Query() generated.QueryResolver               { return (*queryResolver)(r) }
func (r *resolver) Mutation() generated.MutationResolver         { return (*mutationResolver)(r) }
func (r *resolver) Subscription() generated.SubscriptionResolver { return (*subscriptionResolver)(r) }
func (r *resolver) Task() generated.TaskResolver                 { return (*taskResolver)(r) }
func (r *resolver) WorkflowStep() generated.WorkflowStepResolver { return (*stepResolver)(r) }
func (r *resolver) TaskAnnotation() generated.TaskAnnotationResolver {
	return (*annotationResolver)(r)
}

type (
	queryResolver        resolver
	mutationResolver     resolver
	subscriptionResolver resolver
	taskResolver         resolver
	stepResolver         resolver
	annotationResolver   resolver
)

// Page sizes of the task lists, as the original engine's.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// sortColumns maps a sortBy value (the original's column names, or their
// camelCase) to the list's order; an unknown one falls back to the
// default, requested_at.
var sortColumns = map[string]string{
	"task_id": "task_id", "taskId": "task_id", "id": "task_id",
	"created_at": "created_at", "createdAt": "created_at",
	"requested_at": "requested_at", "requestedAt": "requested_at",
	"name": "name", "status": "status",
}

// listParams is the task list of the page arguments.
func listParams(limit, offset *int, sortBy, sortOrder *string) (*tasker.TaskListParams, error) {
	p := &tasker.TaskListParams{Limit: defaultLimit, OrderBy: "requested_at", Desc: true, OmitContext: false}
	if limit != nil {
		if *limit < 1 {
			return nil, inputError("limit", "must be 1 or more (at most 100)")
		}
		p.Limit = min(*limit, maxLimit)
	}
	if offset != nil {
		if *offset < 0 {
			return nil, inputError("offset", "must be 0 or more")
		}
		p.Offset = *offset
	}
	if sortBy != nil {
		if col, ok := sortColumns[*sortBy]; ok {
			p.OrderBy = col
		}
	}
	if sortOrder != nil && strings.EqualFold(*sortOrder, "asc") {
		p.Desc = false
	}
	return p, nil
}

func (r *queryResolver) list(ctx context.Context, p *tasker.TaskListParams) ([]*model.Task, error) {
	p.OmitContext = !slices.Contains(graphql.CollectAllFields(ctx), "context") // read only when asked
	page, err := r.c.ListTasks(ctx, p)
	if err != nil {
		return nil, err
	}
	return model.NewTasks(page.Tasks), nil
}

func (r *queryResolver) Tasks(ctx context.Context, limit, offset *int, sortBy, sortOrder *string) ([]*model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskIndex); err != nil {
		return nil, err
	}
	p, err := listParams(limit, offset, sortBy, sortOrder)
	if err != nil {
		return nil, err
	}
	return r.list(ctx, p)
}

func (r *queryResolver) TasksByStatus(ctx context.Context, status string, limit, offset *int, sortBy, sortOrder *string) ([]*model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskIndex); err != nil {
		return nil, err
	}
	st := tasker.State(status)
	if !st.Valid() {
		return nil, inputError("status", "must be one of pending, in_progress, complete, error, cancelled, resolved_manually")
	}
	p, err := listParams(limit, offset, sortBy, sortOrder)
	if err != nil {
		return nil, err
	}
	p.States = []tasker.State{st}
	return r.list(ctx, p)
}

func (r *queryResolver) TasksByAnnotation(ctx context.Context, annotationType, annotationKey, annotationValue string, limit, offset *int, sortBy, sortOrder *string) ([]*model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskIndex); err != nil {
		return nil, err
	}
	p, err := listParams(limit, offset, sortBy, sortOrder)
	if err != nil {
		return nil, err
	}
	p.Annotation = &tasker.AnnotationFilter{Type: annotationType, Key: annotationKey, Value: annotationValue}
	return r.list(ctx, p)
}

func (r *queryResolver) Task(ctx context.Context, taskID string) (*model.Task, error) {
	return (*resolver)(r).onTask(ctx, PermTaskShow, taskID, func(id int64) (*tasker.Task, error) {
		return r.c.GetTask(ctx, id)
	})
}

func (r *queryResolver) Step(ctx context.Context, taskID, stepID string) (*model.Step, error) {
	return (*resolver)(r).onStep(ctx, PermStepShow, taskID, stepID, func(st *tasker.Step) (*tasker.Step, error) {
		return st, nil
	})
}

func (r *queryResolver) AnnotationTypes(ctx context.Context) ([]*model.AnnotationType, error) {
	if err := r.cfg.allow(ctx, PermTaskIndex); err != nil {
		return nil, err
	}
	types, err := r.c.AnnotationTypes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*model.AnnotationType, len(types))
	for i, t := range types {
		out[i] = &model.AnnotationType{T: t}
	}
	return out, nil
}

func (r *queryResolver) Node(ctx context.Context, id string) (model.Node, error) {
	typ, n, ok := model.ParseGlobalID(id)
	if !ok {
		return nil, inputError("id", "is not a global id of this API (take it from a Task's or WorkflowStep's id field)")
	}
	switch typ {
	case model.TypeTask:
		return node(ctx, r, PermTaskShow, n, r.c.GetTask, func(t *tasker.Task) model.Node { return model.NewTask(t) })
	case model.TypeStep:
		return node(ctx, r, PermStepShow, n, r.c.GetStep, func(st *tasker.Step) model.Node { return &model.Step{S: st} })
	}
	return nil, inputError("id", "is not a global id of this API (take it from a Task's or WorkflowStep's id field)")
}

// node answers the object n of a global id: it checks perm, reads the
// object with get and wraps it as a Node.
func node[T any](ctx context.Context, r *queryResolver, perm string, n int64, get func(context.Context, int64) (T, error), wrap func(T) model.Node) (model.Node, error) {
	if err := r.cfg.allow(ctx, perm); err != nil {
		return nil, err
	}
	v, err := get(ctx, n)
	if err != nil {
		return nil, err
	}
	return wrap(v), nil
}

// maxNodes bounds the ids of one nodes query.
const maxNodes = 100

func (r *queryResolver) Nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > maxNodes {
		return nil, inputError("ids", "at most 100 ids")
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		n, err := r.Node(ctx, id)
		if err != nil {
			if isNotFound(err) {
				continue // null for an object not found
			}
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// onTask answers a root field on one task: it checks perm, parses taskID
// and answers the task that act returns for that id.
func (r *resolver) onTask(ctx context.Context, perm, taskID string, act func(id int64) (*tasker.Task, error)) (*model.Task, error) {
	if err := r.cfg.allow(ctx, perm); err != nil {
		return nil, err
	}
	id, err := parseID("taskId", taskID)
	if err != nil {
		return nil, err
	}
	t, err := act(id)
	if err != nil {
		return nil, err
	}
	return model.NewTask(t), nil
}

// onStep answers a root field on one step: it checks perm, reads the step
// stepID of the task taskID and answers the step that act returns for it.
func (r *resolver) onStep(ctx context.Context, perm, taskID, stepID string, act func(st *tasker.Step) (*tasker.Step, error)) (*model.Step, error) {
	if err := r.cfg.allow(ctx, perm); err != nil {
		return nil, err
	}
	st, err := r.taskStep(ctx, taskID, stepID)
	if err != nil {
		return nil, err
	}
	st, err = act(st)
	if err != nil {
		return nil, err
	}
	return &model.Step{S: st}, nil
}

// taskStep returns the step stepID of the task taskID (not found when the
// step belongs to another task).
func (r *resolver) taskStep(ctx context.Context, taskID, stepID string) (*tasker.Step, error) {
	tid, err := parseID("taskId", taskID)
	if err != nil {
		return nil, err
	}
	sid, err := parseID("stepId", stepID)
	if err != nil {
		return nil, err
	}
	st, err := r.c.GetStep(ctx, sid)
	if err != nil {
		return nil, err
	}
	if st.TaskID != tid {
		return nil, notFound("step %d not found in task %d", sid, tid)
	}
	return st, nil
}

// parseID reads an ID argument holding a task's or a step's number.
func parseID(field, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, inputError(field, "must be the number of a task or step, such as \"42\"")
	}
	return n, nil
}

// --- Task fields ---

func (r *taskResolver) NamedTask(ctx context.Context, obj *model.Task) (*model.NamedTask, error) {
	t := obj.T
	nt := &model.NamedTask{NamedTaskID: obj.NamedTaskID(), Name: t.Name, Namespace: t.Namespace, Version: t.Version, FullName: t.FullName()}
	if tmpl, err := r.c.Template(ctx, t.Namespace, t.Name, t.Version); err == nil && tmpl.Description != "" {
		nt.Description = &tmpl.Description
	}
	return nt, nil
}

// Nested fields that show another object than the one they hang on need
// the permission of a REST route that shows it: a task's steps and a
// step's parents and children those of GET /tasker/tasks/{id} (which
// answers its steps) or of the step list; a task's annotations and a
// step's task those of GET /tasker/tasks/{id}.
var stepsPermissions = []string{PermTaskShow, PermStepIndex}

// WorkflowSteps loads the steps of every task of obj's batch at once.
func (r *taskResolver) WorkflowSteps(ctx context.Context, obj *model.Task) ([]*model.Step, error) {
	if err := r.cfg.allowAny(ctx, stepsPermissions...); err != nil {
		return nil, err
	}
	return r.steps(ctx, obj)
}

// steps returns the steps of obj, loading those of its whole batch.
func (r *taskResolver) steps(ctx context.Context, obj *model.Task) ([]*model.Step, error) {
	b := obj.Batch
	b.StepsOnce.Do(func() {
		steps, err := r.c.ListStepsOfTasks(ctx, b.IDs, nil)
		if err != nil {
			b.StepsErr = err
			return
		}
		b.Steps = make(map[int64][]*model.Step, len(b.IDs))
		for _, s := range steps {
			b.Steps[s.TaskID] = append(b.Steps[s.TaskID], &model.Step{S: s, Task: b.Tasks[s.TaskID]})
		}
	})
	if b.StepsErr != nil {
		return nil, b.StepsErr
	}
	steps := b.Steps[obj.T.ID]
	if steps == nil {
		steps = []*model.Step{}
	}
	return steps, nil
}

// TaskAnnotations loads the annotations of every task of obj's batch at
// once.
func (r *taskResolver) TaskAnnotations(ctx context.Context, obj *model.Task) ([]*model.TaskAnnotation, error) {
	if err := r.cfg.allow(ctx, PermTaskShow); err != nil {
		return nil, err
	}
	b := obj.Batch
	b.AnnotationsOnce.Do(func() {
		b.Annotations, b.AnnotationsErr = r.c.TaskAnnotations(ctx, b.IDs...)
	})
	if b.AnnotationsErr != nil {
		return nil, b.AnnotationsErr
	}
	list := b.Annotations[obj.T.ID]
	out := make([]*model.TaskAnnotation, len(list))
	for i, a := range list {
		out[i] = &model.TaskAnnotation{A: a, Batch: b}
	}
	return out, nil
}

// --- TaskAnnotation fields ---

// AnnotationType loads the annotation types once for the batch.
func (r *annotationResolver) AnnotationType(ctx context.Context, obj *model.TaskAnnotation) (*model.AnnotationType, error) {
	b := obj.Batch
	b.TypesOnce.Do(func() {
		types, err := r.c.AnnotationTypes(ctx)
		if err != nil {
			b.TypesErr = err
			return
		}
		b.Types = make(map[string]*tasker.AnnotationType, len(types))
		for _, t := range types {
			b.Types[t.Name] = t
		}
	})
	if b.TypesErr != nil {
		return nil, b.TypesErr
	}
	t := b.Types[obj.A.Type]
	if t == nil { // cannot happen: an annotation's type exists before it
		return nil, fmt.Errorf("annotation type %q not found", obj.A.Type)
	}
	return &model.AnnotationType{T: t}, nil
}

// --- WorkflowStep fields ---

// task returns the task of obj, loading it when the step was not reached
// through it.
func (r *stepResolver) task(ctx context.Context, obj *model.Step) (*model.Task, error) {
	obj.TaskOnce.Do(func() {
		if obj.Task != nil {
			return
		}
		t, err := r.c.GetTask(ctx, obj.S.TaskID)
		if err != nil {
			obj.TaskErr = err
			return
		}
		obj.Task = model.NewTask(t)
	})
	return obj.Task, obj.TaskErr
}

func (r *stepResolver) Task(ctx context.Context, obj *model.Step) (*model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskShow); err != nil {
		return nil, err
	}
	return r.task(ctx, obj)
}

func (r *stepResolver) NamedStepID(ctx context.Context, obj *model.Step) (int, error) {
	t, err := r.task(ctx, obj)
	if err != nil {
		return 0, err
	}
	return model.StableID("named_step", t.T.Namespace, t.T.Name, t.T.Version, obj.S.Name), nil
}

func (r *stepResolver) NamedStep(ctx context.Context, obj *model.Step) (*model.NamedStep, error) {
	id, err := r.NamedStepID(ctx, obj)
	if err != nil {
		return nil, err
	}
	task, _ := r.task(ctx, obj) // loaded by NamedStepID
	t := task.T
	ns := &model.NamedStep{NamedStepID: id, Name: obj.S.Name}
	system := "unknown"
	if tmpl, err := r.c.Template(ctx, t.Namespace, t.Name, t.Version); err == nil {
		for _, st := range tmpl.Steps {
			if st.Name == obj.S.Name {
				if st.Description != "" {
					ns.Description = &st.Description
				}
				if st.DependentSystem != "" {
					system = st.DependentSystem
				}
			}
		}
	}
	ns.DependentSystem = &model.DependentSystem{DependentSystemID: model.StableID("dependent_system", system), Name: system}
	ns.DependentSystemID = ns.DependentSystem.DependentSystemID
	return ns, nil
}

// related returns the steps of obj's task with the given ids, from the
// steps its task's batch loaded.
func (r *stepResolver) related(ctx context.Context, obj *model.Step, ids []int64) ([]*model.Step, error) {
	if err := r.cfg.allowAny(ctx, stepsPermissions...); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []*model.Step{}, nil
	}
	t, err := r.task(ctx, obj)
	if err != nil {
		return nil, err
	}
	steps, err := (*taskResolver)(r).steps(ctx, t)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Step, 0, len(ids))
	for _, id := range ids {
		for _, s := range steps {
			if s.S.ID == id {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func (r *stepResolver) Parents(ctx context.Context, obj *model.Step) ([]*model.Step, error) {
	return r.related(ctx, obj, obj.S.ParentIDs)
}

func (r *stepResolver) Children(ctx context.Context, obj *model.Step) ([]*model.Step, error) {
	return r.related(ctx, obj, obj.S.ChildIDs)
}

// --- Mutations ---

func (r *mutationResolver) CreateTask(ctx context.Context, in model.CreateTaskInput) (*model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskCreate); err != nil {
		return nil, err
	}
	if len(strs(in.BypassSteps)) > 0 {
		return nil, inputError("bypassSteps", "this engine never bypasses a step; leave it out")
	}
	req := &tasker.TaskRequest{Name: in.Name, Namespace: deref(in.Namespace), Version: deref(in.Version),
		Context: json.RawMessage(in.Context), Initiator: deref(in.Initiator), SourceSystem: deref(in.SourceSystem),
		Reason: deref(in.Reason), Tags: strs(in.Tags)}
	res, err := r.c.CreateTask(ctx, req)
	if err != nil {
		return nil, err
	}
	return model.NewTask(res.Task), nil
}

func (r *mutationResolver) UpdateTask(ctx context.Context, in model.UpdateTaskInput) (*model.Task, error) {
	return (*resolver)(r).onTask(ctx, PermTaskUpdate, in.TaskID, func(id int64) (*tasker.Task, error) {
		if in.Reason == nil && in.Tags == nil {
			return nil, inputError("input", "give reason, tags or both")
		}
		var tags []string
		if in.Tags != nil {
			tags = strs(in.Tags)
			if tags == nil {
				tags = []string{}
			}
		}
		return r.c.UpdateTask(ctx, id, in.Reason, tags)
	})
}

func (r *mutationResolver) CancelTask(ctx context.Context, in model.CancelTaskInput) (*model.Task, error) {
	return (*resolver)(r).onTask(ctx, PermTaskDestroy, in.TaskID, func(id int64) (*tasker.Task, error) {
		return r.c.CancelTask(ctx, id, deref(in.Reason))
	})
}

func (r *mutationResolver) RetryTask(ctx context.Context, in model.RetryTaskInput) (*model.Task, error) {
	return (*resolver)(r).onTask(ctx, PermTaskRetry, in.TaskID, func(id int64) (*tasker.Task, error) {
		return r.c.RetryTask(ctx, id)
	})
}

func (r *mutationResolver) UpdateStep(ctx context.Context, in model.UpdateStepInput) (*model.Step, error) {
	return (*resolver)(r).onStep(ctx, PermStepUpdate, in.TaskID, in.StepID, func(st *tasker.Step) (*tasker.Step, error) {
		if in.RetryLimit == nil && in.Inputs == nil {
			return nil, inputError("input", "give retryLimit, inputs or both")
		}
		var inputs json.RawMessage
		if in.Inputs != nil {
			inputs = in.Inputs.Raw()
		}
		return r.c.UpdateStep(ctx, st.ID, in.RetryLimit, inputs)
	})
}

func (r *mutationResolver) CancelStep(ctx context.Context, in model.CancelStepInput) (*model.Step, error) {
	return (*resolver)(r).onStep(ctx, PermStepDestroy, in.TaskID, in.StepID, func(st *tasker.Step) (*tasker.Step, error) {
		return r.c.CancelStep(ctx, st.ID, deref(in.Reason))
	})
}

func (r *mutationResolver) ResolveStep(ctx context.Context, in model.ResolveStepInput) (*model.Step, error) {
	return (*resolver)(r).onStep(ctx, PermStepResolve, in.TaskID, in.StepID, func(st *tasker.Step) (*tasker.Step, error) {
		var results any
		if in.Results != nil {
			results = in.Results.Raw()
		}
		return r.c.ResolveStep(ctx, st.ID, results, deref(in.Reason))
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// strs drops the nulls of a list of nullable strings (nil when none is
// left).
func strs(in []*string) []string {
	var out []string
	for _, s := range in {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}
