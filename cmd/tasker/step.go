package main

// tasker step: the operations on one step of a task (resolve, cancel, its
// retry limit, its audit trail), on the database or through --server (the
// REST routes under /tasker/tasks/{task_id}/workflow_steps/{step_id}).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) stepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "step",
		Short: "Resolve, cancel or change a step of a task, or show its audit trail (on --database, or through --server)",
		Long: `The operations on one step of a task. A step is named by its task's id and
its own id or name: tasker step resolve 12 charge_card. They work on the
database or, with --server URL, through a running tasker serve (its REST
API: POST .../workflow_steps/{id}/resolve, DELETE and PATCH of the step,
GET of the step with its transitions).`,
	}
	a.addServerFlags(cmd.PersistentFlags(), anyToken)
	cmd.AddCommand(a.stepGetCmd(), a.stepResolveCmd(), a.stepCancelCmd(), a.stepRetryLimitCmd())
	return cmd
}

// stepRef is a step named on the command line: its task and its id or name.
type stepRef struct {
	taskID int64
	step   string
}

func parseStepRef(args []string) (stepRef, error) {
	id, err := parseID(args[0])
	if err != nil {
		return stepRef{}, err
	}
	return stepRef{taskID: id, step: args[1]}, nil
}

// stepOps are the step operations on the database or through a server.
type stepOps interface {
	find(ctx context.Context, ref stepRef) (*tasker.Step, error)
	get(ctx context.Context, st *tasker.Step) (*tasker.Step, []*tasker.Transition, error)
	resolve(ctx context.Context, st *tasker.Step, results json.RawMessage, reason string) (*tasker.Step, error)
	cancel(ctx context.Context, st *tasker.Step, reason string) (*tasker.Step, error)
	retryLimit(ctx context.Context, st *tasker.Step, limit int) (*tasker.Step, error)
}

// withSteps runs fn with the step operations of --server or the database.
func (a *app) withSteps(ctx context.Context, fn func(stepOps) error) error {
	if a.s.server != "" {
		r, err := a.apiClient()
		if err != nil {
			return err
		}
		return exitErr(fn(remoteSteps{r}))
	}
	return a.withClient(ctx, func(c *tasker.Client) error { return fn(localSteps{c}) })
}

// stepCommand completes cmd as a `step VERB TASK_ID STEP` command: run gets
// the step found.
func (a *app) stepCommand(cmd *cobra.Command, run func(ctx context.Context, ops stepOps, st *tasker.Step) error) *cobra.Command {
	cmd.Args = cobra.ExactArgs(2)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ref, err := parseStepRef(args)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		return a.withSteps(ctx, func(ops stepOps) error {
			st, err := ops.find(ctx, ref)
			if err != nil {
				return err
			}
			return run(ctx, ops, st)
		})
	}
	return cmd
}

// printStep prints a changed step: one line, or its JSON.
func (a *app) printStep(st *tasker.Step, output string) error {
	if output == "json" {
		return a.printJSON(map[string]any{"step": st})
	}
	fmt.Fprintf(a.out, "step %d (%s) of task %d is %s (attempts %d/%d)\n", st.ID, st.Name, st.TaskID, st.State, st.Attempts, st.RetryLimit)
	return nil
}

func (a *app) stepGetCmd() *cobra.Command {
	var output string
	cmd := a.stepCommand(&cobra.Command{
		Use:     "get TASK_ID STEP",
		Aliases: []string{"transitions", "audit"},
		Short:   "Show a step and its audit trail (who changed it, when and why)",
		Example: "  tasker step get 12 charge_card\n  tasker step transitions 12 34 -o json",
	}, func(ctx context.Context, ops stepOps, st *tasker.Step) error {
		st, trs, err := ops.get(ctx, st)
		if err != nil {
			return err
		}
		if trs == nil {
			trs = []*tasker.Transition{}
		}
		if output == "json" {
			return a.printJSON(map[string]any{"step": st, "transitions": trs})
		}
		if err := a.printStep(st, output); err != nil {
			return err
		}
		return a.printTransitions(trs, output)
	})
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

func (a *app) stepResolveCmd() *cobra.Command {
	var output, results, reason string
	cmd := a.stepCommand(&cobra.Command{
		Use:     "resolve TASK_ID STEP",
		Short:   "Mark a pending or failed step resolved by hand (its children then run), optionally with its results",
		Example: `  tasker step resolve 12 charge_card --results '{"charge_id": "manual-1"}' --reason "charged by phone"`,
	}, func(ctx context.Context, ops stepOps, st *tasker.Step) error {
		var raw json.RawMessage
		if results != "" {
			var err error
			if raw, err = readContextArg(results); err != nil {
				return fmt.Errorf("--results: %w", err)
			}
		}
		st, err := ops.resolve(ctx, st, raw, reason)
		if err != nil {
			return stateErr(err)
		}
		return a.printStep(st, output)
	})
	cmd.Flags().StringVar(&results, "results", "", "the step's results as JSON (or @FILE), given to its children")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit trail)")
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

func (a *app) stepCancelCmd() *cobra.Command {
	var output, reason string
	cmd := a.stepCommand(&cobra.Command{
		Use:   "cancel TASK_ID STEP",
		Short: "Cancel an unfinished step (its descendants can then never run)",
	}, func(ctx context.Context, ops stepOps, st *tasker.Step) error {
		st, err := ops.cancel(ctx, st, reason)
		if err != nil {
			return stateErr(err)
		}
		return a.printStep(st, output)
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit trail)")
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

func (a *app) stepRetryLimitCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "retry-limit TASK_ID STEP N",
		Short: "Set a step's retry limit (all attempts); a higher one lets a step whose attempts ran out run again after task retry",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseStepRef(args[:2])
			if err != nil {
				return err
			}
			limit, err := strconv.Atoi(args[2])
			if err != nil {
				return fmt.Errorf("retry limit %q is not a whole number", args[2])
			}
			ctx := cmd.Context()
			return a.withSteps(ctx, func(ops stepOps) error {
				st, err := ops.find(ctx, ref)
				if err != nil {
					return err
				}
				if st, err = ops.retryLimit(ctx, st, limit); err != nil {
					return err
				}
				return a.printStep(st, output)
			})
		},
	}
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

// stateErr gives a change refused by the step's state exit status 2, as
// task retry does.
func stateErr(err error) error {
	if errors.Is(err, tasker.ErrInvalidState) {
		return &exitError{code: 2, err: err}
	}
	return err
}

// findStep finds ref among the steps of its task: by id, else by name.
func findStep(ref stepRef, steps []*tasker.Step) (*tasker.Step, error) {
	id, idErr := strconv.ParseInt(ref.step, 10, 64)
	for _, s := range steps {
		if (idErr == nil && s.ID == id) || s.Name == ref.step {
			return s, nil
		}
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = fmt.Sprintf("%s (%d)", s.Name, s.ID)
	}
	return nil, fmt.Errorf("%w: task %d has no step %q; its steps: %s", tasker.ErrNotFound, ref.taskID, ref.step, cmpOr(strings.Join(names, ", "), "none"))
}

// localSteps are the step operations on the database.
type localSteps struct{ c *tasker.Client }

func (l localSteps) find(ctx context.Context, ref stepRef) (*tasker.Step, error) {
	if _, err := l.c.GetTask(ctx, ref.taskID); err != nil {
		return nil, err
	}
	steps, err := l.c.ListSteps(ctx, ref.taskID)
	if err != nil {
		return nil, err
	}
	return findStep(ref, steps)
}

func (l localSteps) get(ctx context.Context, st *tasker.Step) (*tasker.Step, []*tasker.Transition, error) {
	trs, err := l.c.StepTransitions(ctx, st.TaskID, st.ID)
	return st, trs, err
}

func (l localSteps) resolve(ctx context.Context, st *tasker.Step, results json.RawMessage, reason string) (*tasker.Step, error) {
	var res any
	if results != nil {
		res = results
	}
	return l.c.ResolveStep(ctx, st.ID, res, reason)
}

func (l localSteps) cancel(ctx context.Context, st *tasker.Step, reason string) (*tasker.Step, error) {
	return l.c.CancelStep(ctx, st.ID, reason)
}

func (l localSteps) retryLimit(ctx context.Context, st *tasker.Step, limit int) (*tasker.Step, error) {
	return l.c.UpdateStep(ctx, st.ID, &limit, nil)
}

// remoteSteps are the step operations through the REST API.
type remoteSteps struct{ r *apiClient }

func stepPath(st *tasker.Step) string {
	return taskPath(st.TaskID) + "/workflow_steps/" + strconv.FormatInt(st.ID, 10)
}

// stepEnvelope is the answer {"step": ...} of the step routes.
type stepEnvelope struct {
	Step *struct {
		tasker.Step
		Transitions []*tasker.Transition `json:"transitions"`
	} `json:"step"`
}

func (e *stepEnvelope) step(what string) (*tasker.Step, error) {
	if e.Step == nil {
		return nil, fmt.Errorf("%s: the server's answer has no step", what)
	}
	return &e.Step.Step, nil
}

func (rs remoteSteps) find(ctx context.Context, ref stepRef) (*tasker.Step, error) {
	t, err := rs.r.getTask(ctx, ref.taskID)
	if err != nil {
		return nil, err
	}
	return findStep(ref, t.Steps)
}

func (rs remoteSteps) get(ctx context.Context, st *tasker.Step) (*tasker.Step, []*tasker.Transition, error) {
	var env stepEnvelope
	if _, err := rs.r.do(ctx, http.MethodGet, stepPath(st), nil, nil, &env); err != nil {
		return nil, nil, err
	}
	got, err := env.step("get step")
	if err != nil {
		return nil, nil, err
	}
	return got, env.Step.Transitions, nil
}

func (rs remoteSteps) call(ctx context.Context, method, path string, q url.Values, body any, what string) (*tasker.Step, error) {
	var env stepEnvelope
	if _, err := rs.r.do(ctx, method, path, q, body, &env); err != nil {
		return nil, err
	}
	return env.step(what)
}

func (rs remoteSteps) resolve(ctx context.Context, st *tasker.Step, results json.RawMessage, reason string) (*tasker.Step, error) {
	body := map[string]any{}
	if results != nil {
		body["results"] = results
	}
	if reason != "" {
		body["reason"] = reason
	}
	return rs.call(ctx, http.MethodPost, stepPath(st)+"/resolve", nil, body, "resolve step")
}

func (rs remoteSteps) cancel(ctx context.Context, st *tasker.Step, reason string) (*tasker.Step, error) {
	var q url.Values
	if reason != "" {
		q = url.Values{"reason": {reason}}
	}
	return rs.call(ctx, http.MethodDelete, stepPath(st), q, nil, "cancel step")
}

func (rs remoteSteps) retryLimit(ctx context.Context, st *tasker.Step, limit int) (*tasker.Step, error) {
	return rs.call(ctx, http.MethodPatch, stepPath(st), nil, map[string]any{"retry_limit": limit}, "update step")
}
