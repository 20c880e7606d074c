package tasker_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// ReadChanges reads every process's state changes from the database, in
// the order they happened, from a cursor; ChangesNow starts at the present.
func TestReadChanges(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "pair", "1.0.0", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}}))
		old := e.create("pair", nil)
		e.quiesce(old.ID)
		cur, err := e.client.ChangesNow(e.ctx)
		require.NoError(t, err)
		none, same, err := e.client.ReadChanges(e.ctx, cur, 0)
		require.NoError(t, err)
		require.Empty(t, none, "nothing after the present")
		require.Equal(t, cur, same)

		task := e.create("pair", nil)
		e.quiesce(task.ID)
		changes, next, err := e.client.ReadChanges(e.ctx, cur, 0)
		require.NoError(t, err)
		names := map[int64]string{}
		for name, s := range e.steps(task.ID) {
			names[s.ID] = name
		}
		var tasks, steps []string
		for i, c := range changes {
			require.Equal(t, task.ID, c.TaskID, "only what happened after the cursor")
			if i > 0 {
				require.False(t, c.At.Before(changes[i-1].At), "in time order")
			}
			if c.StepID == 0 {
				tasks = append(tasks, string(c.From)+"→"+string(c.To)+" "+c.Event)
			} else {
				steps = append(steps, names[c.StepID]+":"+string(c.From)+"→"+string(c.To)+" "+c.Event)
			}
		}
		require.Equal(t, []string{"→pending task.initialize_requested", "pending→in_progress task.start_requested",
			"in_progress→complete task.completed"}, tasks)
		require.Equal(t, []string{
			"a:→pending step.initialize_requested", "b:→pending step.initialize_requested",
			"a:pending→in_progress step.execution_requested", "a:in_progress→complete step.completed",
			"b:pending→in_progress step.execution_requested", "b:in_progress→complete step.completed",
		}, steps)
		rest, _, err := e.client.ReadChanges(e.ctx, next, 0)
		require.NoError(t, err)
		require.Empty(t, rest)
		limited, _, err := e.client.ReadChanges(e.ctx, cur, 2)
		require.NoError(t, err)
		require.Len(t, limited, 2+2, "at most 2 of each kind")
	})
}
