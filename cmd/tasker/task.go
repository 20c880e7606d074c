package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
	"github.com/tasker-go/tasker/taskertype"
)

func (a *app) taskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Create, inspect, cancel and retry tasks"}
	a.addServerFlags(cmd.PersistentFlags(), anyToken)
	cmd.AddCommand(a.taskCreateCmd(), a.taskGetCmd(), a.taskListCmd(), a.taskCancelCmd(), a.taskRetryCmd(), a.taskTransitionsCmd())
	return cmd
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable prints a table: the tab-separated header line, then the rows
// that rows writes, in aligned columns.
func (a *app) printTable(header string, rows func(tw io.Writer)) {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	_ = tw.Flush()
}

// printList prints v as JSON when asJSON, otherwise as a table (see
// printTable) followed by the summary line footer.
func (a *app) printList(asJSON bool, v any, header string, rows func(tw io.Writer), footer string) error {
	if asJSON {
		return a.printJSON(v)
	}
	a.printTable(header, rows)
	fmt.Fprintln(a.out, footer)
	return nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("task id %q is not a positive integer", s)
	}
	return id, nil
}

func (a *app) taskCreateCmd() *cobra.Command {
	var req tasker.TaskRequest
	var contextJSON string
	var wait bool
	var output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a task from a registered template; --wait runs it here and shows progress",
		Args:  cobra.ExactArgs(1),
		Example: `  tasker task create diamond_workflow --templates examples --context '{"value": 3}' --wait
  tasker task create process_order --namespace ecommerce --version 1.0.0 --context @order.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			req.Name = args[0]
			raw, err := readContextArg(contextJSON)
			if err != nil {
				return err
			}
			req.Context = raw
			if a.s.server != "" {
				if a.s.token != "" && !cmd.Flags().Changed("initiator") {
					req.Initiator = "" // the server names the credential's actor
				}
				return a.remoteCreate(ctx, &req, raw, wait, output, timeout)
			}
			c, closeFn, err := a.client(ctx)
			if err != nil {
				return err
			}
			defer closeFn()
			var events <-chan *tasker.Event
			unsub := func() {}
			if wait {
				events, unsub = c.Subscribe("task.*", "step.*")
				defer unsub()
			}
			res, err := c.CreateTask(ctx, &req)
			if err != nil {
				return err
			}
			if !wait {
				if output == "json" {
					return a.printJSON(res.Task)
				}
				if res.Duplicate {
					fmt.Fprintf(a.out, "existing task %d (%s, same identity), status %s\n", res.Task.ID, res.Task.FullName(), res.Task.State)
					return nil
				}
				fmt.Fprintf(a.out, "created task %d (%s), status %s\n", res.Task.ID, res.Task.FullName(), res.Task.State)
				return nil
			}
			how := watchCreated
			if res.Duplicate {
				how = watchExisting
			}
			return a.runAndWatch(ctx, c, res.Task, how, events, unsub, output, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&contextJSON, "context", "{}", "task context as a JSON object, or @FILE to read it from a file")
	f.StringVar(&req.Namespace, "namespace", "", "template namespace (default \"default\")")
	f.StringVar(&req.Version, "version", "", "template version (default: the highest registered)")
	f.StringVar(&req.Initiator, "initiator", "cli", "who asked for the task (with --server the default is the credential's name: the API token's, or the JWT's subject)")
	f.StringVar(&req.SourceSystem, "source-system", "tasker-cli", "system the request came from")
	f.StringVar(&req.Reason, "reason", "", "why the task runs")
	f.StringSliceVar(&req.Tags, "tag", nil, "tag the task (repeatable)")
	f.BoolVar(&wait, "wait", false, "run the task in this process (with --server: poll the server) and wait for it to finish, showing each step")
	addOutputFlag(f, &output)
	f.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (0: no limit)")
	return cmd
}

func readContextArg(s string) (json.RawMessage, error) {
	if strings.HasPrefix(s, "@") {
		b, err := readFile(strings.TrimPrefix(s, "@"))
		if err != nil {
			return nil, fmt.Errorf("--context: %w", err)
		}
		s = string(b)
	}
	if !json.Valid([]byte(s)) {
		return nil, fmt.Errorf("--context %q is not valid JSON: give an object such as '{\"order_id\": 1}'", s)
	}
	return json.RawMessage(s), nil
}

// runAndWatch runs the task's steps in this process, printing progress, and
// reports the outcome. The exit status is 0 for complete, 2 otherwise.
func (a *app) runAndWatch(ctx context.Context, c *tasker.Client, task *tasker.Task, how watchKind, events <-chan *tasker.Event, unsub func(), output string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if output != "json" {
		fmt.Fprintln(a.out, watchHeader(task, how))
	}
	if task.State.Final() { // an existing task that finished: nothing to run
		unsub()
		return a.watchEnd(ctx, c, task, output)
	}
	if steps, err := c.ListSteps(ctx, task.ID); err == nil {
		for _, s := range steps {
			if s.Queue != "" && !s.State.Final() {
				fmt.Fprintf(a.errOut, "note: step %s runs on remote workers of queue %q, not in this process: serve them with `tasker serve --worker-token` on this database (docs/remote-workers.md)\n",
					s.Name, s.Queue)
			}
		}
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Task == nil || ev.Task.ID != task.ID || output == "json" {
				continue
			}
			a.printEvent(ev, start)
		}
	}()
	final, waitErr := c.WaitTask(ctx, task.ID)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Stop(stopCtx)
	unsub() // every event is published once the worker stopped
	<-done
	if waitErr != nil {
		return fmt.Errorf("task %d did not finish: %w", task.ID, waitErr)
	}
	return a.watchEnd(ctx, c, final, output)
}

// watchEnd prints a finished task's summary (or JSON) for --wait. The exit
// status is 0 for complete, 2 otherwise.
func (a *app) watchEnd(ctx context.Context, c *tasker.Client, final *tasker.Task, output string) error {
	steps, err := c.ListSteps(context.WithoutCancel(ctx), final.ID)
	if err != nil {
		return err
	}
	if output == "json" {
		if err := a.printJSON(map[string]any{"task": final, "steps": policyViews(steps)}); err != nil {
			return err
		}
	} else {
		a.printSummary(final, steps, taskDuration(final, time.Now()))
	}
	if final.State != taskertype.StateComplete {
		return &exitError{code: 2, err: fmt.Errorf("task %d ended %s", final.ID, final.State)}
	}
	return nil
}

// policyViews returns copies of steps whose policy shows its durations as
// the REST API does (the _ms fields beside the stored ones), so that -o json
// prints the same on the database as through --server.
func policyViews(steps []*tasker.Step) []*tasker.Step {
	out := make([]*tasker.Step, len(steps))
	for i, s := range steps {
		c := *s
		if c.Policy != nil {
			c.Policy = apiview.PolicyView(c.Policy)
		}
		out[i] = &c
	}
	return out
}

// watchKind is how the task a --wait watches came to be.
type watchKind int

const (
	watchCreated  watchKind = iota // task create made it
	watchExisting                  // task create found it (the same identity)
	watchRetried                   // task retry restarted it
)

// watchHeader is the first line of a --wait: what happened to the task,
// then what this process does with it.
func watchHeader(t *tasker.Task, how watchKind) string {
	switch {
	case how == watchExisting && t.State.Final():
		return fmt.Sprintf("existing task %d (%s, same identity) already %s; not run again", t.ID, t.FullName(), t.State)
	case how == watchExisting:
		return fmt.Sprintf("existing task %d (%s, same identity), status %s; running its steps here", t.ID, t.FullName(), t.State)
	case how == watchRetried:
		return fmt.Sprintf("task %d (%s) is %s again; running its failed steps here", t.ID, t.FullName(), t.State)
	}
	return fmt.Sprintf("created task %d (%s); running its steps here", t.ID, t.FullName())
}

// taskDuration is how long a task has run: from its creation to its end
// when it finished, to now while it runs.
func taskDuration(t *tasker.Task, now time.Time) time.Duration {
	start := t.CreatedAt
	if start.IsZero() { // the REST API reports requested_at
		start = t.RequestedAt
	}
	end := t.CompletedAt
	if end.IsZero() && t.State.Final() {
		end = t.UpdatedAt
	}
	if end.IsZero() {
		end = now
	}
	if start.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

func (a *app) printEvent(ev *tasker.Event, start time.Time) {
	at := time.Since(start).Round(time.Millisecond)
	switch ev.Name {
	case "step.execution_requested":
		fmt.Fprintf(a.out, "%8s  ▶ %-28s started (attempt %d/%d)\n", at, ev.Step.Name, ev.Attempt, ev.Step.RetryLimit)
	case "step.completed":
		fmt.Fprintf(a.out, "%8s  ✓ %-28s complete in %s\n", at, ev.Step.Name, ev.Duration.Round(time.Millisecond))
	case "step.failed":
		next := "no retry"
		if !ev.Step.Blocked && !ev.Step.NextAttemptAt.IsZero() {
			next = "retry in " + time.Until(ev.Step.NextAttemptAt).Round(100*time.Millisecond).String()
		}
		fmt.Fprintf(a.out, "%8s  ✗ %-28s failed (attempt %d/%d, %s): %s\n", at, ev.Step.Name, ev.Attempt, ev.Step.RetryLimit, next, firstLine(ev.Error.Message))
	case "task.completed", "task.failed", "task.cancelled", "task.resolved_manually":
		fmt.Fprintf(a.out, "%8s  task %s\n", at, ev.Task.State)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (a *app) printSummary(t *tasker.Task, steps []*tasker.Step, took time.Duration) {
	if t.State.Final() {
		fmt.Fprintf(a.out, "\ntask %d %s: %s in %s\n", t.ID, t.FullName(), t.State, took.Round(time.Millisecond))
	} else {
		fmt.Fprintf(a.out, "\ntask %d %s: %s, running for %s\n", t.ID, t.FullName(), t.State, took.Round(time.Millisecond))
	}
	a.printTable("STEP\tSTATUS\tATTEMPTS\tRESULT", func(tw io.Writer) {
		for _, s := range steps {
			result := string(s.Results)
			if s.LastError != nil && s.State != taskertype.StateComplete {
				result = "error: " + firstLine(s.LastError.Message)
			}
			if len(result) > 80 {
				result = result[:80] + "…"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", s.Name, s.State, s.Attempts, s.RetryLimit, result)
		}
	})
}

// printAnnotations prints a task's annotations after its summary: type,
// time and the annotation (cut to 80 characters); nothing when it has none.
func (a *app) printAnnotations(list []*tasker.TaskAnnotation) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(a.out)
	a.printTable("ANNOTATION\tCREATED\tVALUE", func(tw io.Writer) {
		for _, n := range list {
			value := string(n.Annotation)
			if len(value) > 80 {
				value = value[:80] + "…"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Type, n.CreatedAt.UTC().Format(time.RFC3339), value)
		}
	})
}

func (a *app) taskGetCmd() *cobra.Command {
	var (
		output       string
		transitions  bool
		dependencies bool
	)
	cmd := a.taskIDCmd(&cobra.Command{Use: "get ID", Aliases: []string{"show"},
		Short: "Show a task and its steps (with --transitions its audit trail, with --dependencies its dependency analysis)"},
		func(ctx context.Context, id int64) error {
			if dependencies {
				da, err := callServer(a, func(r *apiClient) (*tasker.TaskDependencyAnalysis, error) { return r.taskDependencies(ctx, id) })
				if err != nil {
					return err
				}
				return a.printDependencies(da, output)
			}
			if transitions {
				trs, err := callServer(a, func(r *apiClient) ([]*tasker.Transition, error) { return r.taskTransitions(ctx, id) })
				if err != nil {
					return err
				}
				return a.printTransitions(trs, output)
			}
			return a.remoteGet(ctx, id, output)
		},
		func(ctx context.Context, c *tasker.Client, id int64) error {
			t, err := c.GetTask(ctx, id)
			if err != nil {
				return err
			}
			if dependencies {
				da, err := c.TaskDependencyAnalysis(ctx, id)
				if err != nil {
					return err
				}
				return a.printDependencies(da, output)
			}
			if transitions {
				trs, err := c.TaskTransitions(ctx, id)
				if err != nil {
					return err
				}
				return a.printTransitions(trs, output)
			}
			steps, err := c.ListSteps(ctx, id)
			if err != nil {
				return err
			}
			notes, err := c.TaskAnnotations(ctx, id)
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(map[string]any{"task": t, "steps": policyViews(steps), "task_annotations": notes[id]})
			}
			a.printSummary(t, steps, taskDuration(t, time.Now()))
			a.printAnnotations(notes[id])
			return nil
		})
	addOutputFlag(cmd.Flags(), &output)
	cmd.Flags().BoolVar(&transitions, "transitions", false, "show the task's own transitions (who moved it, when and why) instead of its steps")
	cmd.Flags().BoolVar(&dependencies, "dependencies", false, "show the task's dependency analysis (critical paths, bottlenecks, error chains, recommendations) instead of its steps")
	cmd.MarkFlagsMutuallyExclusive("transitions", "dependencies")
	return cmd
}

// printDependencies prints a dependency analysis: all of it as JSON, or
// its summary, most critical path, bottlenecks and error chains as text.
func (a *app) printDependencies(da *tasker.TaskDependencyAnalysis, output string) error {
	if output == "json" {
		return a.printJSON(da)
	}
	s := da.TaskExecutionSummary
	fmt.Fprintf(a.out, "task %d: %s\n", da.TaskID, s.OverallHealth)
	fmt.Fprintf(a.out, "steps %d, dependencies %d, levels %d, longest path %d, parallelism efficiency %.1f%%\n",
		s.TotalSteps, s.TotalDependencies, s.DependencyLevels, s.LongestPathLength, s.ParallelismEfficiency)
	if len(da.CriticalPaths.Paths) > 0 {
		p := da.CriticalPaths.Paths[0]
		fmt.Fprintf(a.out, "most critical path (score %.2f, %.1f%% complete): %s\n", p.CriticalityScore, p.CompletionPercentage, strings.Join(p.StepNames, " -> "))
	}
	if len(da.Bottlenecks.Bottlenecks) > 0 {
		a.printTable("BOTTLENECK\tSTATE\tSEVERITY\tIMPACT\tTYPE\tRESOLUTION", func(tw io.Writer) {
			for _, b := range da.Bottlenecks.Bottlenecks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", b.StepName, b.CurrentState, b.Severity, b.ImpactScore, b.BottleneckType, b.ResolutionStrategy)
			}
		})
	}
	for _, c := range da.ErrorChains.ErrorChains {
		fmt.Fprintf(a.out, "error chain: %s (attempt %d of %d) holds up %d downstream steps (%d blocked); impact %d\n",
			c.ErrorStepName, c.ErrorAttempts, c.RetryLimit, c.TotalDownstreamSteps, c.BlockedDownstreamSteps, c.TotalImpact)
	}
	for _, r := range s.Recommendations {
		fmt.Fprintf(a.out, "- %s\n", r)
	}
	return nil
}

// taskIDCmd completes cmd as a `task VERB ID` command: it parses the task
// id, then runs remote when --server is given and local, with a client on
// the database, otherwise.
func (a *app) taskIDCmd(cmd *cobra.Command, remote func(ctx context.Context, id int64) error,
	local func(ctx context.Context, c *tasker.Client, id int64) error) *cobra.Command {
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseID(args[0])
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if a.s.server != "" {
			return remote(ctx, id)
		}
		return a.withClient(ctx, func(c *tasker.Client) error { return local(ctx, c, id) })
	}
	return cmd
}

func (a *app) taskListCmd() *cobra.Command {
	var p tasker.TaskListParams
	var states []string
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range states {
				st := taskertype.State(s)
				if !st.Valid() {
					return fmt.Errorf("--status %q is not a state: use one of %v", s, taskertype.States)
				}
				p.States = append(p.States, st)
			}
			// The table shows no context: only JSON output reads it.
			p.OmitContext = output != "json"
			if a.s.server != "" {
				return a.remoteList(cmd.Context(), &p, output)
			}
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			list, err := c.ListTasks(cmd.Context(), &p)
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(map[string]any{"tasks": list.Tasks, "total": list.Total, "limit": list.Limit, "offset": list.Offset})
			}
			a.printTaskTable(list.Tasks, list.Total)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&states, "status", nil, "only tasks in these states")
	f.StringVar(&p.Namespace, "namespace", "", "only this namespace")
	f.StringVar(&p.Name, "name", "", "only this template name")
	f.StringVar(&p.Version, "version", "", "only this template version")
	f.StringSliceVar(&p.Tags, "tag", nil, "only tasks with these tags")
	f.IntVar(&p.Limit, "limit", 50, "page size")
	f.IntVar(&p.Offset, "offset", 0, "tasks to skip")
	addOutputFlag(f, &output)
	p.OrderBy, p.Desc = "task_id", true
	return cmd
}

// printTaskTable prints a page of tasks as `task list` does.
func (a *app) printTaskTable(tasks []*tasker.Task, total int) {
	a.printTable("ID\tTASK\tSTATUS\tCREATED", func(tw io.Writer) {
		for _, t := range tasks {
			created := t.CreatedAt
			if created.IsZero() { // the REST API reports requested_at
				created = t.RequestedAt
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.FullName(), t.State, created.Format(time.RFC3339))
		}
	})
	fmt.Fprintf(a.out, "%d of %d tasks\n", len(tasks), total)
}

func (a *app) taskCancelCmd() *cobra.Command {
	var reason string
	cmd := a.taskIDCmd(&cobra.Command{Use: "cancel ID", Short: "Cancel a task that has not finished"},
		func(ctx context.Context, id int64) error { return a.remoteCancel(ctx, id, reason) },
		func(ctx context.Context, c *tasker.Client, id int64) error {
			t, err := c.CancelTask(ctx, id, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "task %d %s\n", t.ID, t.State)
			return nil
		})
	cmd.Flags().StringVar(&reason, "reason", "", "why the task is cancelled (kept in the audit trail)")
	return cmd
}

func (a *app) taskRetryCmd() *cobra.Command {
	var wait bool
	cmd := a.taskIDCmd(&cobra.Command{Use: "retry ID", Short: "Retry a task in error: its failed steps start again with fresh attempts"},
		func(ctx context.Context, id int64) error { return a.remoteRetry(ctx, id, wait) },
		func(ctx context.Context, c *tasker.Client, id int64) error {
			events, unsub := c.Subscribe("task.*", "step.*")
			defer unsub()
			t, err := c.RetryTask(ctx, id)
			if err != nil {
				if errors.Is(err, tasker.ErrInvalidState) {
					return &exitError{code: 2, err: err}
				}
				return err
			}
			if !wait {
				fmt.Fprintf(a.out, "task %d is %s again; a worker will run its failed steps\n", t.ID, t.State)
				return nil
			}
			return a.runAndWatch(ctx, c, t, watchRetried, events, unsub, "text", 0)
		})
	cmd.Flags().BoolVar(&wait, "wait", false, "run the task here and wait for it to finish")
	return cmd
}

func (a *app) taskTransitionsCmd() *cobra.Command {
	var output string
	cmd := a.taskIDCmd(&cobra.Command{Use: "transitions ID", Aliases: []string{"audit"},
		Short: "Show a task's audit trail: who moved it, when and why (the same as task get ID --transitions)"},
		func(ctx context.Context, id int64) error {
			trs, err := callServer(a, func(r *apiClient) ([]*tasker.Transition, error) { return r.taskTransitions(ctx, id) })
			if err != nil {
				return err
			}
			return a.printTransitions(trs, output)
		},
		func(ctx context.Context, c *tasker.Client, id int64) error {
			trs, err := c.TaskTransitions(ctx, id)
			if err != nil {
				return err
			}
			return a.printTransitions(trs, output)
		})
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

// printTransitions prints a task's audit trail: one line per transition
// with its time, states, reason, note and actor.
func (a *app) printTransitions(trs []*tasker.Transition, output string) error {
	if trs == nil {
		trs = []*tasker.Transition{}
	}
	if output == "json" {
		return a.printJSON(map[string]any{"transitions": trs})
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tFROM\tTO\tREASON\tACTOR\tNOTE")
	for _, tr := range trs {
		var m struct{ Reason, Actor, Note string }
		_ = json.Unmarshal(tr.Metadata, &m)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", tr.CreatedAt.UTC().Format(time.RFC3339), cmp.Or(string(tr.FromState), "-"), tr.ToState,
			cmp.Or(m.Reason, "-"), cmp.Or(m.Actor, "-"), m.Note)
	}
	return tw.Flush()
}
