package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Create, list, pause, resume, trigger and delete schedules (cron) (on --database, or through --server)",
		Long: `A schedule creates a task of a template at each fire time of a cron
expression: 5 fields (minute hour day-of-month month day-of-week), 6 with
seconds first, @hourly, @daily, @weekly, @monthly, @yearly or @every DURATION,
on the wall clock of a time zone. The maintenance leader among the worker and
serve processes fires them, one task per fire time (docs/schedules.md).
Templates declare schedules too (schedules: in the YAML).`,
	}
	a.addServerFlags(cmd.PersistentFlags(), "an API token or a JWT with the tasker.schedule permissions")
	cmd.AddCommand(a.scheduleCreateCmd(), a.scheduleListCmd(), a.scheduleGetCmd(),
		a.scheduleActionCmd("pause", "Pause a schedule: it fires nothing until resumed", (*tasker.Client).PauseSchedule),
		a.scheduleActionCmd("resume", "Resume a paused schedule from now (missed fire times are not caught up)", (*tasker.Client).ResumeSchedule),
		a.scheduleTriggerCmd(), a.scheduleDeleteCmd())
	return cmd
}

// parseTemplateRef splits [NAMESPACE/]NAME[@VERSION].
func parseTemplateRef(s string) (ns, name, version string) {
	name = s
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name, version = name[:i], name[i+1:]
	}
	if i := strings.Index(name, "/"); i >= 0 {
		ns, name = name[:i], name[i+1:]
	}
	return ns, name, version
}

func (a *app) scheduleCreateCmd() *cobra.Command {
	var req tasker.ScheduleRequest
	var template, contextJSON, output string
	cmd := &cobra.Command{
		Use:   "create NAME --template [NAMESPACE/]TEMPLATE[@VERSION] --cron EXPR [--context JSON] [--time-zone TZ] [--overlap allow|skip] [--catch-up none|one|all]",
		Short: "Create a schedule of a registered template",
		Example: `  tasker schedule create nightly_report --template ops/report --cron "30 2 * * *" --time-zone Europe/Paris --context '{"region": "eu"}'
  tasker schedule create heartbeat --template ping --cron "@every 10s" --overlap skip
  tasker schedule create hourly --template etl@1.2.0 --cron "0 * * * *" --catch-up all --catch-up-limit 24`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			ns, name, version := parseTemplateRef(template)
			req.Namespace, req.TaskName, req.Version = cmp.Or(req.Namespace, ns), name, cmp.Or(req.Version, version)
			raw, err := readContextArg(contextJSON)
			if err != nil {
				return err
			}
			req.Context = raw
			ctx := cmd.Context()
			sc, err := remoteOrLocal(ctx, a, func(r *apiClient) (*tasker.Schedule, error) {
				return member[*tasker.Schedule](ctx, r, http.MethodPost, "/tasker/schedules", nil, &req, "schedule")
			}, func(c *tasker.Client) (*tasker.Schedule, error) { return c.CreateSchedule(ctx, &req) })
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(sc)
			}
			fmt.Fprintf(a.out, "created schedule %s (%s, %s), next fire %s\n", sc.Name, sc.Cron, sc.TimeZone, sc.NextFireAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&template, "template", "", "the template: [NAMESPACE/]NAME[@VERSION] (without a version: the highest registered at each fire) (required)")
	f.StringVar(&req.Namespace, "namespace", "", "template namespace (default \"default\"; or NAMESPACE/ in --template)")
	f.StringVar(&req.Version, "version", "", "template version (or @VERSION in --template)")
	f.StringVar(&req.Cron, "cron", "", `cron expression: "*/5 * * * *", "0 30 9 * * MON-FRI" (seconds first), "@daily", "@every 10s" (required)`)
	f.StringVar(&req.TimeZone, "time-zone", "", "IANA time zone of the expression's wall clock (default UTC)")
	f.StringVar(&contextJSON, "context", "{}", "task context as a JSON object, or @FILE to read it from a file")
	f.StringVar(&req.Overlap, "overlap", "", "allow (default) or skip: skip a fire while the previous task of the schedule is unfinished")
	f.StringVar(&req.CatchUp, "catch-up", "", "after downtime: none (default), one (the most recent missed fire) or all (up to --catch-up-limit)")
	f.IntVar(&req.CatchUpLimit, "catch-up-limit", 0, "with --catch-up all: the most missed fires created (default 10, at most 1000)")
	f.BoolVar(&req.Paused, "paused", false, "create the schedule paused")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("template")
	_ = cmd.MarkFlagRequired("cron")
	return cmd
}

func (a *app) scheduleListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the schedules with their next fire times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			list, err := remoteOrLocal(ctx, a, func(r *apiClient) ([]*tasker.Schedule, error) {
				return member[[]*tasker.Schedule](ctx, r, http.MethodGet, "/tasker/schedules", nil, nil, "schedules")
			}, func(c *tasker.Client) ([]*tasker.Schedule, error) { return c.Schedules(ctx) })
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(list)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTEMPLATE\tCRON\tTIME ZONE\tSTATE\tNEXT FIRE\tLAST FIRE\tLAST TASK")
			for _, s := range list {
				state, last, task := "active", "-", "-"
				if s.Paused {
					state = "paused"
				}
				if !s.LastFireAt.IsZero() {
					last = s.LastFireAt.UTC().Format(time.RFC3339)
				}
				if s.LastTaskID != 0 {
					task = fmt.Sprint(s.LastTaskID)
				}
				tmpl := s.Namespace + "/" + s.TaskName
				if s.Version != "" {
					tmpl += "@" + s.Version
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, tmpl, s.Cron, s.TimeZone, state, s.NextFireAt.UTC().Format(time.RFC3339), last, task)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "%d schedules\n", len(list))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// scheduleOne gets, pauses or resumes a schedule: locally with local, or
// through the server with method on path suffix.
func (a *app) scheduleOne(ctx context.Context, name, method, suffix string, local func(*tasker.Client, context.Context, string) (*tasker.Schedule, error)) (*tasker.Schedule, error) {
	return remoteOrLocal(ctx, a, func(r *apiClient) (*tasker.Schedule, error) {
		return member[*tasker.Schedule](ctx, r, method, "/tasker/schedules/"+url.PathEscape(name)+suffix, nil, nil, "schedule")
	}, func(c *tasker.Client) (*tasker.Schedule, error) { return local(c, ctx, name) })
}

func (a *app) scheduleGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a schedule (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := a.scheduleOne(cmd.Context(), args[0], http.MethodGet, "", (*tasker.Client).GetSchedule)
			if err != nil {
				return err
			}
			return a.printJSON(sc)
		},
	}
}

func (a *app) scheduleActionCmd(action, short string, local func(*tasker.Client, context.Context, string) (*tasker.Schedule, error)) *cobra.Command {
	return &cobra.Command{
		Use:   action + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := a.scheduleOne(cmd.Context(), args[0], http.MethodPost, "/"+action, local)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s schedule %s, next fire %s\n", strings.TrimSuffix(action, "e")+"ed", sc.Name, sc.NextFireAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
}

func (a *app) scheduleTriggerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "trigger NAME",
		Short: "Fire a schedule now: create its task (paused or not)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			task, err := remoteOrLocal(ctx, a, func(r *apiClient) (*tasker.Task, error) {
				var out struct {
					Task json.RawMessage `json:"task"`
				}
				if _, err := r.do(ctx, http.MethodPost, "/tasker/schedules/"+url.PathEscape(args[0])+"/trigger", nil, nil, &out); err != nil {
					return nil, err
				}
				var v struct {
					ID     int64  `json:"task_id"`
					Reason string `json:"reason"`
				}
				if err := json.Unmarshal(out.Task, &v); err != nil {
					return nil, err
				}
				return &tasker.Task{ID: v.ID, Reason: v.Reason}, nil
			}, func(c *tasker.Client) (*tasker.Task, error) {
				res, err := c.TriggerSchedule(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return res.Task, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "created task %d (reason %s)\n", task.ID, task.Reason)
			return nil
		},
	}
}

func (a *app) scheduleDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schedule (its tasks stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, err := remoteOrLocal(ctx, a, func(r *apiClient) (struct{}, error) {
				_, err := r.do(ctx, http.MethodDelete, "/tasker/schedules/"+url.PathEscape(args[0]), nil, nil, nil)
				return struct{}{}, err
			}, func(c *tasker.Client) (struct{}, error) { return struct{}{}, c.DeleteSchedule(ctx, args[0]) })
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "deleted schedule %s\n", args[0])
			return nil
		},
	}
}
