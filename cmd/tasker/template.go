package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) templateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "template", Short: "Validate task templates, show their graphs, register them in the database"}
	cmd.AddCommand(a.templateValidateCmd(), a.templateGraphCmd(), a.templatePushCmd())
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
				n := 0
				eachProblem(err, func(e error) {
					n++
					var te *tasker.TemplateError
					if errors.As(e, &te) {
						cliHandlerHint(te)
					}
				})
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

var unknownHandlerRe = regexp.MustCompile(`^handler "(.+)" is not registered$`)

// cliHandlerHint rewrites the fix of an unknown handler, which names the Go
// API, to name this command's flags.
func cliHandlerHint(te *tasker.TemplateError) {
	m := unknownHandlerRe.FindStringSubmatch(te.Problem)
	if m == nil {
		return
	}
	_, builtins, _ := strings.Cut(te.Fix, "use one of: ")
	te.Fix = fmt.Sprintf("if your program registers a Go handler %q (Registry.RegisterHandler), declare it here with --handler %s "+
		"(repeatable), or skip the handler check with --strict=false; else use a built-in handler: %s", m[1], m[1], builtins)
}

// eachProblem calls fn with every problem in err: the leaves of its
// errors.Join trees.
func eachProblem(err error, fn func(error)) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			eachProblem(e, fn)
		}
		return
	}
	if err != nil {
		fn(err)
	}
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

func (a *app) templatePushCmd() *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "push DIR|FILE...",
		Short: "Register templates in the database, without running a worker",
		Long: `Loads every template (checked as tasker template validate --strict=false
does: the Go handlers live in the worker programs) and registers it in the
database, as a worker does when it starts, so that every process on the
database can create, list and draw its tasks without the files. A version
already registered with the same content is left as it is; with other
content it is refused, naming both sources: bump the version, or replace
the registered template with --replace. A file that does not load
registers nothing.`,
		Example: `  tasker template push examples --database postgres://tasker@db:5432/tasker
  tasker template push billing/charge.yaml --replace`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := tasker.NewRegistry()
			opts := a.loadOptions()
			opts.AllowUnknownHandlers = true
			var errs []error
			for _, arg := range args {
				info, err := os.Stat(arg)
				switch {
				case err != nil:
					errs = append(errs, err)
				case info.IsDir():
					errs = append(errs, reg.LoadDir(arg, opts))
				default:
					_, err := reg.LoadFile(arg, opts)
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("nothing registered:\n%w", err)}
			}
			templates := reg.Templates("")
			if len(templates) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("no template found in %s", strings.Join(args, ", "))}
			}
			return a.withClient(cmd.Context(), func(c *tasker.Client) error {
				regs, err := c.RegisterTemplates(cmd.Context(), &tasker.RegisterTemplatesOptions{
					Templates: templates, Replace: replace, RegisteredBy: pushedBy(),
				})
				for _, r := range regs {
					t := r.Template
					fmt.Fprintf(a.out, "%-9s %s.%s@%s %s\n", r.Outcome, t.Namespace, t.Name, t.Version, t.Source)
				}
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "replace a version registered with other content (tasks already created keep their steps)")
	return cmd
}

// pushedBy names the registrations of tasker template push.
func pushedBy() string {
	host, _ := os.Hostname()
	who := "tasker template push on " + cmp.Or(host, "an unknown host")
	if u, err := user.Current(); err == nil && u.Username != "" {
		who += " by " + u.Username
	}
	return who
}
