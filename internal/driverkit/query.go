package driverkit

import (
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

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

// TransitionQuery returns the query of a transition list, with param the
// placeholder of its one argument and noStep the expression of a task row's
// step id, and the argument.
func TransitionQuery(p *taskerdriver.TransitionListParams, param, noStep string) (string, int64) {
	const cols = `id, task_id, %s, coalesce(from_state, ''), to_state, metadata, sort_key, most_recent, created_at`
	switch {
	case p.StepID != 0:
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE workflow_step_id = %s ORDER BY sort_key`, "workflow_step_id", param), p.StepID
	case p.AllSteps:
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_workflow_step_transitions WHERE task_id = %s ORDER BY workflow_step_id, sort_key`, "workflow_step_id", param), p.TaskID
	default:
		return fmt.Sprintf(`SELECT `+cols+` FROM tasker_task_transitions WHERE task_id = %s ORDER BY sort_key`, noStep, param), p.TaskID
	}
}

// StateCount is a number of rows in a state.
type StateCount struct {
	State string
	N     int
}

// NewHealthCounts returns health counts with every state at zero, then the
// counts given.
func NewHealthCounts(tasks, steps []StateCount) *taskerdriver.HealthCounts {
	h := &taskerdriver.HealthCounts{Tasks: map[taskertype.State]int{}, Steps: map[taskertype.State]int{}}
	for _, s := range taskertype.States {
		h.Tasks[s], h.Steps[s] = 0, 0
	}
	for _, c := range tasks {
		h.Tasks[taskertype.State(c.State)] = c.N
	}
	for _, c := range steps {
		h.Steps[taskertype.State(c.State)] = c.N
	}
	return h
}
