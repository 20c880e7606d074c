package driverkit

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// StepTransition is one step transition row to write. Seq is the step's
// transition sequence after the move; the row's sort key is SortKey(Seq).
type StepTransition struct {
	StepID, TaskID int64
	From, To       taskertype.State
	Meta           json.RawMessage
	Seq            int
}

// TaskTransition is one task transition row to write, as StepTransition.
type TaskTransition struct {
	TaskID   int64
	From, To taskertype.State
	Meta     json.RawMessage
	Seq      int
}

// SortKey is the sort key of the transition with sequence seq (spaced by
// ten, as the original engine's).
func SortKey(seq int) int { return seq * 10 }

// StepIDs returns the ids of steps.
func StepIDs(steps []*taskertype.Step) []int64 {
	ids := make([]int64, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return ids
}

// TaskStartedMeta is the metadata of a task's pending → in_progress move
// made by a claim.
var TaskStartedMeta = json.RawMessage(`{"reason":"steps_claimed"}`)

// ClaimTransitions returns the transition rows of claimed steps (seqs[i] is
// the sequence of steps[i] after the claim; wasError[i] tells a retry, which
// moves error → pending → in_progress) and the ids of their tasks, in
// order.
func ClaimTransitions(steps []*taskertype.Step, seqs []int, wasError []bool, owner string) ([]StepTransition, []int64) {
	rows := make([]StepTransition, 0, len(steps)+2)
	var taskIDs []int64
	seen := map[int64]bool{}
	for i, s := range steps {
		if wasError[i] {
			rows = append(rows, StepTransition{s.ID, s.TaskID, taskertype.StateError, taskertype.StatePending,
				json.RawMessage(fmt.Sprintf(`{"retry_attempt":%d}`, s.Attempts)), seqs[i] - 1})
		}
		rows = append(rows, StepTransition{s.ID, s.TaskID, taskertype.StatePending, taskertype.StateInProgress,
			json.RawMessage(fmt.Sprintf(`{"attempt":%d,"worker":%q}`, s.Attempts, owner)), seqs[i]})
		if !seen[s.TaskID] {
			seen[s.TaskID] = true
			taskIDs = append(taskIDs, s.TaskID)
		}
	}
	return rows, taskIDs
}

// Dependency is a claimed step's parent and its results.
type Dependency struct {
	Child, Parent int64
	Name          string
	Results       json.RawMessage
}

// AssembleClaims returns the claimed steps with their tasks, whether the
// claim started their task, their parents' ids and their dependencies'
// results.
func AssembleClaims(steps []*taskertype.Step, tasks []*taskertype.Task, started map[int64]bool, deps []Dependency) []*taskerdriver.ClaimedStep {
	byTask := make(map[int64]*taskertype.Task, len(tasks))
	for _, t := range tasks {
		byTask[t.ID] = t
	}
	out := make([]*taskerdriver.ClaimedStep, len(steps))
	byID := make(map[int64]*taskerdriver.ClaimedStep, len(steps))
	for i, s := range steps {
		out[i] = &taskerdriver.ClaimedStep{Step: s, Task: byTask[s.TaskID], Dependencies: map[string]json.RawMessage{}, TaskStarted: started[s.TaskID]}
		byID[s.ID] = out[i]
	}
	for _, d := range deps {
		c := byID[d.Child]
		c.Dependencies[d.Name] = d.Results
		c.Step.ParentIDs = append(c.Step.ParentIDs, d.Parent)
	}
	return out
}

// ClaimDone completes a claim: it writes the pending → in_progress
// transition of each task the claim started (starts holds (task id, new
// transition sequence) pairs) with write (nil: the claim's statement wrote
// them), and returns the claimed steps
// (see AssembleClaims), each with when it became ready (readyAt) and how
// many steps depend on it (children), by step id.
func ClaimDone(steps []*taskertype.Step, tasks []*taskertype.Task, starts [][2]int64, deps []Dependency,
	readyAt map[int64]time.Time, children map[int64]int, write func(taskID int64, meta json.RawMessage, seq int) error,
) ([]*taskerdriver.ClaimedStep, error) {
	started := make(map[int64]bool, len(starts))
	for _, st := range starts {
		started[st[0]] = true
		if write == nil {
			continue
		}
		if err := write(st[0], TaskStartedMeta, int(st[1])); err != nil {
			return nil, err
		}
	}
	claims := AssembleClaims(steps, tasks, started, deps)
	for _, c := range claims {
		c.ReadyAt, c.Children = readyAt[c.Step.ID], children[c.Step.ID]
	}
	return claims, nil
}
