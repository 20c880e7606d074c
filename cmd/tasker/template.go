package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) templateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "template", Short: "Validate task templates and show their graphs"}
	cmd.AddCommand(a.templateValidateCmd(), a.templateGraphCmd())
	return cmd
}

func (a *app) templateValidateCmd() *cobra.Command {
	var handlers []string
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate DIR|FILE...",
		Short: "Check templates: keys, versions, dependencies, cycles, schemas and handlers",
		Long: `Loads every template and reports every problem with its file, step and fix.
Handlers other than the built-ins are unknown to this command; list the Go
handlers your program registers with --handler, or pass --strict=false to skip
the handler check.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := tasker.NewRegistry()
			for _, h := range handlers {
				reg.MustRegisterHandler(h, tasker.StepHandlerFunc(nil))
			}
			opts := tasker.LoadOptions{Env: a.s.env, RegisterOptions: tasker.RegisterOptions{AllowUnknownHandlers: !strict},
				Warn: func(e *tasker.TemplateError) { fmt.Fprintln(a.out, "warning: "+e.Error()) }}
			var errs []error
			for _, arg := range args {
				info, err := os.Stat(arg)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if info.IsDir() {
					errs = append(errs, reg.LoadDir(arg, opts))
				} else {
					_, err := reg.LoadFile(arg, opts)
					errs = append(errs, err)
				}
			}
			for _, t := range reg.Templates("") {
				fmt.Fprintf(a.out, "ok  %s (%d steps) %s\n", t.FullName(), len(t.Steps), t.File)
			}
			if err := errors.Join(errs...); err != nil {
				n := len(strings.Split(strings.TrimSpace(err.Error()), "\n"))
				fmt.Fprintln(a.out, err.Error())
				return &exitError{code: 2, err: fmt.Errorf("%d problem(s) found", n)}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&handlers, "handler", nil, "a Go handler name your program registers (repeatable)")
	cmd.Flags().BoolVar(&strict, "strict", true, "fail on handlers that are not registered")
	return cmd
}

func (a *app) templateGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Show a template's DAG: levels, roots, leaves, topological order and Mermaid text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			t, err := tasker.ParseTemplate(args[0], data, a.loadOptions())
			if err != nil {
				return err
			}
			an := t.Analyze()
			switch format {
			case "json":
				return a.printJSON(an)
			case "mermaid":
				fmt.Fprint(a.out, t.Mermaid())
				return nil
			case "text":
			default:
				return fmt.Errorf("--format %q is unknown: use text, json or mermaid", format)
			}
			fmt.Fprintf(a.out, "%s: %d steps, %d dependencies, depth %d, widest level %d\n",
				t.FullName(), an.Summary.TotalSteps, an.Summary.TotalDependencies, an.Summary.MaxDepth, an.Summary.ParallelBranches)
			fmt.Fprintf(a.out, "roots:  %s\nleaves: %s\norder:  %s\n", strings.Join(an.Roots, ", "), strings.Join(an.Leaves, ", "), strings.Join(an.Topology, " → "))
			byLevel := map[int][]string{}
			maxLevel := 0
			for _, name := range an.Topology {
				l := an.Levels[name]
				byLevel[l] = append(byLevel[l], name)
				maxLevel = max(maxLevel, l)
			}
			fmt.Fprintln(a.out, "levels:")
			for l := 0; l <= maxLevel; l++ {
				fmt.Fprintf(a.out, "  %d: %s\n", l, strings.Join(byLevel[l], ", "))
			}
			fmt.Fprintf(a.out, "\nmermaid:\n%s", t.Mermaid())
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output: text, json or mermaid")
	return cmd
}
