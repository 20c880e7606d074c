package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) analyticsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analytics",
		Short: "Performance and bottleneck analytics (on --database, or through --server)",
		Long: `The analytics of GET /tasker/analytics/performance and /bottlenecks, computed
by the database over the tasks created in a time window (docs/observability.md).
The commands work on the database (--database, like tasker migrate), always
computing a fresh answer, or with --server URL through a running tasker serve
(its answer may come from its 90 s / 2 min cache: see cache_info), with --token
a credential holding tasker.analytics:index. Durations are seconds.`,
	}
	a.addServerFlags(cmd.PersistentFlags(), "an API token or a JWT holding tasker.analytics:index")
	cmd.AddCommand(a.analyticsPerformanceCmd(), a.analyticsBottlenecksCmd())
	return cmd
}

// runWithOutput adds -o/--output (and the deprecated --json) to cmd and
// makes run its RunE, told whether the output is JSON (an unknown --output
// is an error).
func runWithOutput(cmd *cobra.Command, run func(cmd *cobra.Command, args []string, js bool) error) {
	var output string
	addOutputFlag(cmd.Flags(), &output)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		return run(cmd, args, output == "json")
	}
}

func (a *app) analyticsPerformanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "performance",
		Short: "The system overview and the performance of the last hour, 4 hours and 24 hours",
		Example: `  tasker analytics performance --database postgres://localhost/tasker
  tasker analytics performance --server http://127.0.0.1:8080 --token $TOKEN -o json`,
		Args: cobra.NoArgs,
	}
	runWithOutput(cmd, func(cmd *cobra.Command, _ []string, js bool) error {
		ctx := cmd.Context()
		rep, err := remoteOrLocal(ctx, a, func(r *apiClient) (*tasker.PerformanceReport, error) {
			var out tasker.PerformanceReport
			_, err := r.do(ctx, http.MethodGet, "/tasker/analytics/performance", nil, nil, &out)
			return &out, err
		}, func(c *tasker.Client) (*tasker.PerformanceReport, error) {
			return c.AnalyticsPerformance(ctx, &tasker.AnalyticsOptions{NoCache: true})
		})
		if err != nil {
			return err
		}
		if js {
			return a.printJSON(rep)
		}
		o := rep.SystemOverview
		fmt.Fprintf(a.out, "%d active tasks, %d namespaces, %d task types in use; health score %.3f (last hour)\n\n",
			o.ActiveTasks, o.TotalNamespaces, o.UniqueTaskTypes, o.SystemHealthScore)
		a.printTable("PERIOD\tTASKS\tCOMPLETE %\tERROR %\tSTEPS\tTASK AVG\tTASK P50\tTASK P95\tTASK P99\tSTEP AVG\tSTEP P95", func(tw io.Writer) {
			for _, p := range []struct {
				name string
				v    tasker.PeriodPerformance
			}{{"last hour", rep.PerformanceTrends.LastHour}, {"last 4 hours", rep.PerformanceTrends.Last4Hours}, {"last 24 hours", rep.PerformanceTrends.Last24Hours}} {
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.name, p.v.TaskThroughput, p.v.CompletionRate, p.v.ErrorRate,
					p.v.StepThroughput, secs(p.v.AvgTaskDuration), secs(p.v.TaskDuration.P50), secs(p.v.TaskDuration.P95), secs(p.v.TaskDuration.P99),
					secs(p.v.AvgStepDuration), secs(p.v.StepDuration.P95))
			}
		})
		fmt.Fprintln(a.out, cacheLine(rep.CacheInfo))
		return nil
	})
	return cmd
}

func (a *app) analyticsBottlenecksCmd() *cobra.Command {
	var q tasker.BottleneckQuery
	cmd := &cobra.Command{
		Use:   "bottlenecks",
		Short: "Where the time and the failures of a period's tasks go",
		Long: `Duration percentiles per template and per step, the slowest tasks and steps,
error kinds, retry outcome, the time steps wait for their dependencies and
for a worker, and recommendations, over the tasks created in the last
--period hours (of --namespace, --name and --version when given).`,
		Example: `  tasker analytics bottlenecks --namespace ecommerce --name order --period 4
  tasker analytics bottlenecks --server http://127.0.0.1:8080 --token $TOKEN -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&q.Namespace, "namespace", "", "only tasks of this namespace")
	cmd.Flags().StringVar(&q.Name, "name", "", "only tasks of this template name")
	cmd.Flags().StringVar(&q.Version, "version", "", "only tasks of this template version")
	cmd.Flags().IntVar(&q.PeriodHours, "period", tasker.AnalyticsDefaultPeriodHours, "the window in hours, 1 to 720")
	runWithOutput(cmd, func(cmd *cobra.Command, _ []string, js bool) error {
		if q.PeriodHours < 1 || q.PeriodHours > tasker.AnalyticsMaxPeriodHours {
			return fmt.Errorf("--period %d is out of range: give a whole number of hours from 1 to %d", q.PeriodHours, tasker.AnalyticsMaxPeriodHours)
		}
		ctx := cmd.Context()
		rep, err := a.bottlenecks(ctx, q)
		if err != nil {
			return err
		}
		if js {
			return a.printJSON(rep)
		}
		a.printBottlenecks(rep)
		return nil
	})
	return cmd
}

func (a *app) bottlenecks(ctx context.Context, q tasker.BottleneckQuery) (*tasker.BottleneckReport, error) {
	return remoteOrLocal(ctx, a, func(r *apiClient) (*tasker.BottleneckReport, error) {
		v := url.Values{"period": {strconv.Itoa(q.PeriodHours)}}
		for k, s := range map[string]string{"namespace": q.Namespace, "name": q.Name, "version": q.Version} {
			if s != "" {
				v.Set(k, s)
			}
		}
		var out tasker.BottleneckReport
		_, err := r.do(ctx, http.MethodGet, "/tasker/analytics/bottlenecks", v, nil, &out)
		return &out, err
	}, func(c *tasker.Client) (*tasker.BottleneckReport, error) {
		q.NoCache = true
		return c.AnalyticsBottlenecks(ctx, &q)
	})
}

func (a *app) printBottlenecks(rep *tasker.BottleneckReport) {
	scope := "all templates"
	if s := rep.Scope; s.Namespace != "" || s.Name != "" || s.Version != "" {
		var parts []string
		for _, p := range [][2]string{{"namespace", s.Namespace}, {"name", s.Name}, {"version", s.Version}} {
			if p[1] != "" {
				parts = append(parts, p[0]+" "+p[1])
			}
		}
		scope = strings.Join(parts, ", ")
	}
	ss := rep.ScopeSummary
	fmt.Fprintf(a.out, "%s, last %d hours: %d tasks (%d analyzed), %d task types\n\n", scope, rep.AnalysisPeriodHours, ss.TotalTasks, ss.AnalyzedTasks, ss.UniqueTaskTypes)
	pd := rep.PerformanceDistribution
	a.printTable("TEMPLATE\tTASKS\tCOMPLETE\tERROR\tP50\tP95\tP99\tMAX", func(tw io.Writer) {
		for _, t := range pd.Templates {
			fmt.Fprintf(tw, "%s.%s@%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", t.NamespaceName, t.TaskName, t.Version, t.Tasks, t.Complete, t.Error,
				secs(t.Duration.P50), secs(t.Duration.P95), secs(t.Duration.P99), secs(t.Duration.Max))
		}
	})
	fmt.Fprintln(a.out)
	a.printTable("STEP\tRUNS\tFAILED\tP50\tP95\tP99\tWAIT AVG\tWAIT P95", func(tw io.Writer) {
		for _, s := range pd.Steps {
			fmt.Fprintf(tw, "%s.%s@%s %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.NamespaceName, s.TaskName, s.Version, s.StepName, s.Duration.Count,
				s.FailedAttempts, secs(s.Duration.P50), secs(s.Duration.P95), secs(s.Duration.P99), secs(s.WaitTime.Avg), secs(s.WaitTime.P95))
		}
	})
	fmt.Fprintln(a.out)
	ba := rep.BottleneckAnalysis
	a.printTable("SLOWEST TASK\tTEMPLATE\tSTATUS\tDURATION\tSTEPS", func(tw io.Writer) {
		for _, t := range ba.SlowestTasks {
			fmt.Fprintf(tw, "%d\t%s.%s@%s\t%s\t%s\t%d\n", t.TaskID, t.NamespaceName, t.TaskName, t.Version, t.Status, secs(t.DurationSeconds), t.StepCount)
		}
	})
	fmt.Fprintln(a.out)
	e := ba.ErrorPatterns
	kinds := make([]string, len(e.CommonErrorTypes))
	for i, k := range e.CommonErrorTypes {
		kinds[i] = fmt.Sprintf("%s %d", k, e.ErrorTypeCounts[k])
	}
	fmt.Fprintf(a.out, "errors: %d failed attempts (%s); %.2f%% of tasks in error; retries succeeded for %.2f%% of %d steps\n",
		e.TotalErrors, strings.Join(kinds, ", "), e.RecentErrorRate, e.RetrySuccessRate, e.RetriedSteps)
	d := ba.DependencyBottlenecks
	fmt.Fprintf(a.out, "dependencies: %d steps waiting for a parent; wait for parents avg %s p95 %s; wait for a worker p50 %s p95 %s\n",
		d.BlockingDependencies, secs(d.WaitTime.Avg), secs(d.WaitTime.P95), secs(d.QueueTime.P50), secs(d.QueueTime.P95))
	if len(rep.Recommendations) > 0 {
		fmt.Fprintln(a.out, "recommendations:")
		for _, r := range rep.Recommendations {
			fmt.Fprintln(a.out, "  - "+r)
		}
	}
	fmt.Fprintln(a.out, cacheLine(rep.CacheInfo))
}

// secs prints seconds with millisecond precision.
func secs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) + "s" }

func cacheLine(c tasker.CacheInfo) string {
	if c.Cached {
		return fmt.Sprintf("(from the server's cache, valid until %s)", c.ExpiresAt.Format("15:04:05Z07:00"))
	}
	return "(computed now)"
}
