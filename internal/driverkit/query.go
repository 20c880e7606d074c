package driverkit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// The columns every driver reads, in the order its scan functions expect.
const (
	TaskColumns = `task_id, namespace, name, version, state, context, initiator, source_system, reason, tags,
	identity_hash, requested_at, created_at, updated_at, completed_at, trace_parent, trace_state`
	StepColumns = `workflow_step_id, task_id, name, position, state, handler, handler_config, policy, attempts,
	retry_limit, retryable, skippable, blocked, pending_parents, inputs, results, last_error, next_attempt_at,
	last_attempted_at, processed_at, lease_owner, lease_expires_at, created_at, updated_at, queue, transition_seq`
	OutboxColumns = `id, subscription, event_name, payload, state, attempts, next_attempt_at, coalesce(last_error, ''), created_at, delivered_at`
)

// Prefixed returns the columns cols (a comma-separated list) each with
// prefix, a table's alias and a dot.
func Prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// TaskListColumns returns the columns of a task list: TaskColumns, with
// context read as null (the driver's null literal of its type) when the
// list omits it.
func TaskListColumns(p *taskerdriver.TaskListParams, null string) string {
	if !p.OmitContext {
		return TaskColumns
	}
	return strings.Replace(TaskColumns, " context,", " "+null+" AS context,", 1)
}

// StepListColumns returns the columns of a step list: StepColumns, with
// inputs and results read as null (the driver's null literal of their type)
// when the list omits them.
func StepListColumns(p *taskerdriver.StepListParams, null string) string {
	cols := StepColumns
	if p.OmitInputs {
		cols = strings.Replace(cols, " inputs,", " "+null+" AS inputs,", 1)
	}
	if p.OmitResults {
		cols = strings.Replace(cols, " results,", " "+null+" AS results,", 1)
	}
	return cols
}

// ListTasks is TaskList given the driver's filter conditions (where): it
// counts the matching tasks with count (query is the counting statement,
// which stops at p.CountLimit + 1 when p.CountLimit is set), then reads the
// page with page (after is the WHERE and ORDER BY clauses).
func ListTasks(p *taskerdriver.TaskListParams, where []string, count func(query string) (int, error),
	page func(after string, limit, offset int) ([]*taskertype.Task, error),
) ([]*taskertype.Task, int, error) {
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	query := `SELECT count(*) FROM tasker_tasks` + cond
	if p.CountLimit > 0 {
		query = `SELECT count(*) FROM (SELECT 1 FROM tasker_tasks` + cond + ` LIMIT ` + strconv.Itoa(p.CountLimit+1) + `) AS capped`
	}
	total, err := count(query)
	if err != nil {
		return nil, 0, fmt.Errorf("count tasks: %w", err)
	}
	order, limit, err := TaskOrder(p)
	if err != nil {
		return nil, 0, err
	}
	out, err := page(cond+order, limit, max(p.Offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks: %w", err)
	}
	if out == nil {
		out = []*taskertype.Task{}
	}
	return out, total, nil
}

// taskOrderColumns maps TaskListParams.OrderBy to a column.
var taskOrderColumns = map[string]string{
	"": "task_id", "task_id": "task_id", "created_at": "created_at", "requested_at": "requested_at",
	"name": "name", "status": "state", "state": "state", "namespace": "namespace", "updated_at": "updated_at",
}

// TaskOrder returns the ORDER BY clause of a task list (a known column,
// then task_id, in the asked direction) and its page size.
func TaskOrder(p *taskerdriver.TaskListParams) (orderBy string, limit int, err error) {
	col, ok := taskOrderColumns[p.OrderBy]
	if !ok {
		return "", 0, fmt.Errorf("cannot order tasks by %q", p.OrderBy)
	}
	dir := "ASC"
	if p.Desc {
		dir = "DESC"
	}
	return ` ORDER BY ` + col + ` ` + dir + `, task_id ` + dir, Limit(p.Limit, 50), nil
}

// Equal is a column = value filter.
type Equal struct{ Column, Value string }

// TaskEquals returns the equality filters of a task list that are set, in
// a fixed order.
func TaskEquals(p *taskerdriver.TaskListParams) []Equal {
	var out []Equal
	for _, f := range []Equal{{"namespace", p.Namespace}, {"name", p.Name}, {"version", p.Version},
		{"initiator", p.Initiator}, {"source_system", p.SourceSystem}} {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// ListTransitions is TransitionList: it runs the query of p (see
// TransitionQuery) with query, and never returns a nil list.
// An error names driver.
func ListTransitions(driver string, p *taskerdriver.TransitionListParams, param, noStep string, query func(q string, arg int64) ([]*taskertype.Transition, error)) ([]*taskertype.Transition, error) {
	if p.Feed && (p.TaskID != 0 || p.StepID != 0) {
		return nil, fmt.Errorf("%s: list transitions: a feed lists every task's or every step's: TaskID and StepID must be zero", driver)
	}
	out, err := query(TransitionQuery(p, param, noStep))
	if err != nil {
		return nil, fmt.Errorf("%s: list transitions: %w", driver, err)
	}
	if out == nil {
		out = []*taskertype.Transition{}
	}
	return out, nil
}

// ExistingTask is the result of a TaskCreate whose identity exists: the
// task load reads.
func ExistingTask(load func() (*taskertype.Task, error)) (*taskerdriver.TaskCreateResult, error) {
	t, err := load()
	if err != nil {
		return nil, fmt.Errorf("load task by identity: %w", err)
	}
	return &taskerdriver.TaskCreateResult{Task: t, Existing: true}, nil
}

// TransitionQuery returns the query of a transition list, with param the
// placeholder of its one argument and noStep the expression of a task row's
// step id, and the argument.
//
// A row is the most recent of its step (or task) when its sort key is the
// highest: the flag is derived on read (both databases have window
// functions), never stored, so that a state change writes one row and
// updates none (migration 011).
func TransitionQuery(p *taskerdriver.TransitionListParams, param, noStep string) (string, int64) {
	const cols = `id, task_id, %s, coalesce(from_state, ''), to_state, metadata, sort_key, %s, created_at`
	const stepRecent = `sort_key = max(sort_key) OVER (PARTITION BY workflow_step_id)`
	switch {
	case p.Feed:
		table, key, step := "tasker_task_transitions", "x.task_id = t.task_id", noStep
		if p.AllSteps {
			table, key, step = "tasker_workflow_step_transitions", "x.task_id = t.task_id AND x.workflow_step_id = t.workflow_step_id", "workflow_step_id"
		}
		recent := fmt.Sprintf(`sort_key = (SELECT max(x.sort_key) FROM %s x WHERE %s)`, table, key)
		if p.AfterID < 0 {
			return fmt.Sprintf(`SELECT `+cols+` FROM %s t WHERE id > %s ORDER BY id DESC LIMIT 1`, step, recent, table, param), -1
		}
		limit := p.Limit
		if limit <= 0 || limit > taskerdriver.MaxFeedLimit {
			limit = taskerdriver.MaxFeedLimit
		}
		return fmt.Sprintf(`SELECT `+cols+` FROM %s t WHERE id > %s ORDER BY id LIMIT %d`, step, recent, table, param, limit), p.AfterID
	case p.StepID != 0:
		// By the step's task first: PostgreSQL indexes a step's
		// transitions under (task_id, workflow_step_id, sort_key).
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions
			JOIN (SELECT task_id AS of_task, workflow_step_id AS of_step FROM tasker_workflow_steps WHERE workflow_step_id = %s) s
				ON task_id = s.of_task AND workflow_step_id = s.of_step ORDER BY sort_key`, "workflow_step_id", stepRecent, param), p.StepID
	case p.AllSteps:
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE task_id = %s ORDER BY workflow_step_id, sort_key`, "workflow_step_id", stepRecent, param), p.TaskID
	default:
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_task_transitions WHERE task_id = %s ORDER BY sort_key`, noStep, `sort_key = max(sort_key) OVER ()`, param), p.TaskID
	}
}

// StateCount is a number of rows in a state.
type StateCount struct {
	State string
	N     int
}

// HealthStates counts tasks and steps by state with count, which runs
// "SELECT state, count(*) FROM <table> GROUP BY state"; every state not
// counted is zero.
func HealthStates(count func(table string) ([]StateCount, error)) (*taskerdriver.HealthCounts, error) {
	h := &taskerdriver.HealthCounts{Tasks: map[taskertype.State]int{}, Steps: map[taskertype.State]int{}}
	for _, s := range taskertype.States {
		h.Tasks[s], h.Steps[s] = 0, 0
	}
	for _, t := range []struct {
		table string
		into  map[taskertype.State]int
	}{{"tasker_tasks", h.Tasks}, {"tasker_workflow_steps", h.Steps}} {
		counts, err := count(t.table)
		if err != nil {
			return nil, err
		}
		for _, c := range counts {
			t.into[taskertype.State(c.State)] = c.N
		}
	}
	return h, nil
}

// ListSteps is StepList given the driver's filter conditions (where, at
// least one): it reads the steps with steps (cond is " WHERE ..."), then
// their edges with edges (the edges touching ids), and links them.
func ListSteps(where []string, steps func(cond string) ([]*taskertype.Step, error), edges func(ids []int64) ([][2]int64, error)) ([]*taskertype.Step, error) {
	if len(where) == 0 {
		return nil, ErrNoStepSelection
	}
	list, err := steps(" WHERE " + strings.Join(where, " AND "))
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	if len(list) == 0 {
		return list, nil
	}
	pairs, err := edges(StepIDs(list))
	if err != nil {
		return nil, fmt.Errorf("list edges: %w", err)
	}
	LinkEdges(list, pairs)
	return list, nil
}
