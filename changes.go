package tasker

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/tasker-go/tasker/internal/statemachine"
	"github.com/tasker-go/tasker/taskerdriver"
)

// Change is one committed state change of a task or of a step, read from
// the database's audit trail by ReadChanges: what any process on the
// database did.
type Change struct {
	// TaskID is the task's; StepID the step's, zero for a change of the
	// task itself.
	TaskID int64 `json:"task_id"`
	StepID int64 `json:"step_id,omitempty"`
	// From is empty for a creation.
	From State `json:"from,omitempty"`
	To   State `json:"to"`
	// Event names the event that reports the change (empty for a
	// same-state audit row, such as an update of a task's reason).
	Event string    `json:"event,omitempty"`
	At    time.Time `json:"at"`
}

// ChangeCursor is a position in the change feed (ReadChanges): the ids of
// the last task and step transitions read. Its zero value is the
// beginning; ChangesNow is the present.
type ChangeCursor struct {
	Task int64 `json:"task"`
	Step int64 `json:"step"`
}

// ChangesNow returns the cursor at the newest change: a feed started from
// it reads what happens next.
func (c *Client) ChangesNow(ctx context.Context) (ChangeCursor, error) {
	var cur ChangeCursor
	for _, steps := range []bool{false, true} {
		tr, err := c.exec.TransitionList(ctx, &taskerdriver.TransitionListParams{Feed: true, AllSteps: steps, AfterID: -1})
		if err != nil {
			return ChangeCursor{}, err
		}
		if len(tr) > 0 {
			if steps {
				cur.Step = tr[0].ID
			} else {
				cur.Task = tr[0].ID
			}
		}
	}
	return cur, nil
}

// ReadChanges returns the task and step state changes committed after
// after, at most limit of each kind (0 or above 1,000: 1,000), in time
// order (at the same instant, steps' changes before tasks'; the changes of
// one task, or of one step, always in the order they happened), and the
// cursor after them. It reads every process's
// changes, where SubscribeChanges sees only this one's, at the cost of two
// indexed reads: a live view polls it (the dashboard every 250 ms while a
// page listens). Transactions can commit in another order than the one
// their rows were numbered in, so a change committed late can fall behind
// a cursor: a view that must not miss one also re-reads what it shows.
func (c *Client) ReadChanges(ctx context.Context, after ChangeCursor, limit int) ([]Change, ChangeCursor, error) {
	var out []Change
	next := after
	for _, steps := range []bool{false, true} {
		from := after.Task
		if steps {
			from = after.Step
		}
		tr, err := c.exec.TransitionList(ctx, &taskerdriver.TransitionListParams{Feed: true, AllSteps: steps, AfterID: from, Limit: limit})
		if err != nil {
			return nil, after, err
		}
		for _, t := range tr {
			ch := Change{TaskID: t.TaskID, StepID: t.StepID, From: t.FromState, To: t.ToState, At: t.CreatedAt}
			if steps {
				ch.Event = statemachine.StepEvent(t.FromState, t.ToState)
				next.Step = t.ID
			} else {
				ch.Event = statemachine.TaskEvent(t.FromState, t.ToState)
				next.Task = t.ID
			}
			out = append(out, ch)
		}
	}
	// In time order; at the same time a step's change first, as it caused
	// its task's.
	slices.SortStableFunc(out, func(a, b Change) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(b2i(a.StepID == 0), b2i(b.StepID == 0)))
	})
	return out, next, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
