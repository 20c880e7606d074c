package taskerhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
)

func (s *server) listSteps(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	include, err := includeParam(r)
	if err != nil {
		return err
	}
	steps, err := s.c.ListStepsWith(r.Context(), id, &tasker.StepListOptions{OmitInputs: !include["inputs"], OmitResults: !include["results"]})
	if err != nil {
		return err
	}
	views := make([]*apiview.Step, len(steps))
	for i, st := range steps {
		views[i] = apiview.NewListStep(st, include["inputs"], include["results"])
	}
	if err := s.coverage(r.Context(), steps, views); err != nil {
		return err
	}
	items, truncated, err := boundedItems(len(steps), s.opts.MaxResponseBytes, func(i int) (any, error) {
		return views[i], nil
	}, func(i, size int) error {
		return responseTooLarge(fmt.Sprintf("step %d", steps[i].ID), size, s.opts.MaxResponseBytes,
			fmt.Sprintf("list without include=inputs,results, or read it alone with GET /tasker/tasks/%d/workflow_steps/%d", id, steps[i].ID))
	})
	if err != nil {
		return err
	}
	if truncated { // a step list has no pages: all of it or a 422
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "response_too_large",
			Message: fmt.Sprintf("the %d steps of task %d are over the %d bytes one answer may hold; list without include=inputs,results, or read the steps one at a time (GET /tasker/tasks/%d/workflow_steps/{step_id})",
				len(steps), id, s.opts.MaxResponseBytes, id)}
	}
	return writeList(w, "steps", items, "", nil)
}

// taskStep parses {task_id} and {step_id} and returns the step, 404 when the
// task or the step is missing or the step belongs to another task.
func (s *server) taskStep(r *http.Request) (*tasker.Step, error) {
	taskID, err := pathID(r, "task_id")
	if err != nil {
		return nil, err
	}
	stepID, err := pathID(r, "step_id")
	if err != nil {
		return nil, err
	}
	if _, err := s.c.GetTask(r.Context(), taskID); err != nil {
		return nil, err
	}
	st, err := s.c.GetStep(r.Context(), stepID)
	if err != nil {
		return nil, err
	}
	if st.TaskID != taskID {
		return nil, fmt.Errorf("%w: step %d of task %d (it belongs to task %d)", tasker.ErrNotFound, stepID, taskID, st.TaskID)
	}
	return st, nil
}

func (s *server) getStep(w http.ResponseWriter, r *http.Request) error {
	st, err := s.taskStep(r)
	if err != nil {
		return err
	}
	trs, err := s.c.StepTransitions(r.Context(), st.TaskID, st.ID)
	if err != nil {
		return err
	}
	trs = nonNil(trs)
	v := newStepView(st, trs)
	if err := s.coverage(r.Context(), []*tasker.Step{st}, []*apiview.Step{v}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": v})
	return nil
}

// coverage sets waiting_for_handler on the views of steps (in the same
// order) that no worker seen recently runs; it reads the registry of
// workers only when some step may wait.
func (s *server) coverage(ctx context.Context, steps []*tasker.Step, views []*apiview.Step) error {
	if !apiview.Waits(steps) {
		return nil
	}
	cov, err := s.c.WorkerCoverage(ctx)
	if err != nil {
		return err
	}
	apiview.WithCoverage(views, cov)
	return nil
}

// stepUpdate is the body of PATCH and PUT of a step.
type stepUpdate struct {
	retryLimit *int
	inputs     json.RawMessage
}

// decodeStepUpdate decodes {"retry_limit", "inputs"} or {"workflow_step": {...}}.
func decodeStepUpdate(body []byte) (*stepUpdate, error) {
	d, err := decodeFields(body, "workflow_step", "retry_limit", "inputs")
	if err != nil {
		return nil, err
	}
	u := &stepUpdate{retryLimit: d.intPtr("retry_limit"), inputs: d.object("inputs")}
	if err := d.err(); err != nil {
		return nil, err
	}
	if u.retryLimit == nil && u.inputs == nil {
		return nil, nothingToUpdate("retry_limit", "inputs")
	}
	return u, nil
}

func (s *server) updateStep(w http.ResponseWriter, r *http.Request) error {
	st, err := s.taskStep(r)
	if err != nil {
		return err
	}
	u, err := readDecoded(s, w, r, decodeStepUpdate)
	if err != nil {
		return err
	}
	st, err = s.c.UpdateStep(r.Context(), st.ID, u.retryLimit, u.inputs)
	return s.changedStep(w, r, st, err, false)
}

func (s *server) cancelStep(w http.ResponseWriter, r *http.Request) error {
	st, err := s.taskStep(r)
	if err != nil {
		return err
	}
	st, err = s.c.CancelStep(r.Context(), st.ID, r.URL.Query().Get("reason"))
	return s.changedStep(w, r, st, err, true)
}

// decodeResolve decodes the optional {"results", "reason"} body.
func decodeResolve(body []byte) (json.RawMessage, string, error) {
	if len(body) == 0 {
		return nil, "", nil
	}
	d, err := decodeFields(body, "", "results", "reason")
	if err != nil {
		return nil, "", err
	}
	results := d.raw("results")
	reason := d.str("reason")
	return results, reason, d.err()
}

func (s *server) resolveStep(w http.ResponseWriter, r *http.Request) error {
	st, err := s.taskStep(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r, false)
	if err != nil {
		return err
	}
	results, reason, err := decodeResolve(body)
	if err != nil {
		return err
	}
	var res any
	if results != nil {
		res = results
	}
	st, err = s.c.ResolveStep(r.Context(), st.ID, res, reason)
	return s.changedStep(w, r, st, err, false)
}

// changedStep answers a change of a step (UpdateStep, CancelStep,
// ResolveStep): err when the change failed, otherwise {"step": ...} (and
// "cancelled": true for a cancellation) with the step read again, since
// the steps those calls return lack their parents_ids and children_ids.
func (s *server) changedStep(w http.ResponseWriter, r *http.Request, st *tasker.Step, err error, cancelled bool) error {
	if err != nil {
		return err
	}
	if fresh, err := s.c.GetStep(r.Context(), st.ID); err == nil {
		st = fresh
	}
	body := map[string]any{"step": newStepView(st, nil)}
	if cancelled {
		body["cancelled"] = true
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
