package taskerdrivertest

import (
	"context"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// MigrationVersion is the schema version every driver reports after
// Migrate: the drivers number the same schema change the same.
const MigrationVersion = 4

// finishOne records one attempt with StepFinishMany and returns its result,
// or the call's error, or the attempt's (ErrLeaseLost).
func finishOne(ctx context.Context, ex taskerdriver.Executor, p *taskerdriver.StepFinishParams) (*taskerdriver.StepFinishResult, error) {
	outs, err := ex.StepFinishMany(ctx, []*taskerdriver.StepFinishParams{p})
	if err != nil {
		return nil, err
	}
	return outs[0].Result, outs[0].Err
}

// progressOf counts one task's steps with TaskProgressMany.
func progressOf(ctx context.Context, ex taskerdriver.Executor, taskID int64) (*taskerdriver.TaskProgress, error) {
	all, err := ex.TaskProgressMany(ctx, []int64{taskID})
	if err != nil {
		return nil, err
	}
	tp := all[taskID]
	if tp == nil {
		return nil, taskerdriver.ErrNotFound
	}
	return tp.Progress, nil
}

// setTaskState moves one task with TaskSetStateMany; with no From, from the
// state the task is in.
func setTaskState(ctx context.Context, ex taskerdriver.Executor, p *taskerdriver.TaskSetStateParams) (*taskertype.Task, error) {
	if len(p.From) == 0 {
		cur, err := ex.TaskGet(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		q := *p
		q.From = []taskertype.State{cur.State}
		p = &q
	}
	tasks, err := ex.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{p})
	if err != nil {
		return nil, err
	}
	return tasks[0], nil
}
