package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/dburl"
)

func (a *app) handlersCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "handlers [NAMESPACE]",
		Short: "List the task handlers (templates) by namespace, or the handlers of one namespace",
		Long: `Without a namespace, lists the namespaces and how many task handlers
(templates) each has; with one, lists its handlers and their versions. With
--server it asks a running tasker serve; otherwise it lists the templates
loaded with --templates and those registered in the database (by workers
as they start, or by tasker template push).`,
		Example: `  tasker handlers --templates examples
  tasker handlers ecommerce --server http://127.0.0.1:8080`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := ""
			if len(args) == 1 {
				ns = args[0]
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q is unknown: use text or json", output)
			}
			if ns == "" {
				list, err := a.namespaceList(cmd.Context())
				if err != nil {
					return err
				}
				return a.printList(output == "json", list, "NAMESPACE\tHANDLERS", func(tw io.Writer) {
					for _, n := range list.Namespaces {
						fmt.Fprintf(tw, "%s\t%d\n", n.Name, n.HandlerCount)
					}
				}, fmt.Sprintf("%d namespaces", list.Total))
			}
			hs, err := a.namespaceHandlers(cmd.Context(), ns)
			if err != nil {
				return err
			}
			return a.printList(output == "json", hs, "HANDLER\tLATEST\tVERSIONS", func(tw io.Writer) {
				for _, h := range hs.Handlers {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Name, h.LatestVersion, strings.Join(h.Versions, ", "))
				}
			}, fmt.Sprintf("%d handlers in namespace %s", len(hs.Handlers), hs.Namespace))
		},
	}
	cmd.Flags().StringVar(&a.s.server, "server", "", "`URL` of a running tasker serve (http://HOST:PORT) to ask instead of the local templates [$TASKER_SERVER]")
	cmd.Flags().StringVar(&a.s.token, "token", "", "the credential sent to --server: an API token (tasker token create) or a JWT [$TASKER_TOKEN]")
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

// catalog is what the handlers command lists without --server: the
// templates of --templates and those registered in the database. A SQLite
// database whose file does not exist has none, and is not created.
func (a *app) catalog(ctx context.Context) (*tasker.Registry, error) {
	if file, ok := dburl.SQLiteFile(a.s.database); ok {
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			return a.localRegistry()
		}
	}
	var reg *tasker.Registry
	err := a.withClient(ctx, func(c *tasker.Client) error {
		var err error
		reg, err = c.TemplateCatalog(ctx)
		return err
	})
	return reg, err
}

// loadTemplates loads every directory and file of --templates into reg,
// reporting the problems of all of them together, each under its path.
func (a *app) loadTemplates(reg *tasker.Registry) error {
	var errs []error
	for _, p := range a.s.templates {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("--templates %s: no such directory or file [$TASKER_TEMPLATES, config templates]", p))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("--templates %s: %w", p, err))
			continue
		case info.IsDir():
			err = reg.LoadDir(p, a.loadOptions())
		default:
			_, err = reg.LoadFile(p, a.loadOptions())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("load templates from %s:\n%w", p, err))
		}
	}
	return errors.Join(errs...)
}

// localRegistry loads --templates without opening the database.
func (a *app) localRegistry() (*tasker.Registry, error) {
	reg := tasker.NewRegistry()
	if err := a.loadTemplates(reg); err != nil {
		return nil, err
	}
	return reg, nil
}

func (a *app) namespaceList(ctx context.Context) (*namespaceList, error) {
	if a.s.server != "" {
		return callServer(a, func(r *apiClient) (*namespaceList, error) { return r.namespaces(ctx) })
	}
	reg, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	list := &namespaceList{Namespaces: []namespaceCount{}}
	for _, ns := range reg.Namespaces() {
		list.Namespaces = append(list.Namespaces, namespaceCount{Name: ns, HandlerCount: len(localHandlers(reg, ns))})
	}
	list.Total = len(list.Namespaces)
	return list, nil
}

func (a *app) namespaceHandlers(ctx context.Context, ns string) (*namespaceHandlers, error) {
	if a.s.server != "" {
		return callServer(a, func(r *apiClient) (*namespaceHandlers, error) { return r.handlers(ctx, ns) })
	}
	reg, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	hs := localHandlers(reg, ns)
	if len(hs) == 0 {
		hint := ""
		if len(reg.Namespaces()) == 0 {
			hint = " (no templates loaded, none registered in the database " + dburl.Redact(a.s.database) +
				": give --templates DIR, register them with tasker template push DIR, or ask a server with --server URL)"
		}
		return nil, fmt.Errorf("namespace %q not found: it has no task templates%s", ns, hint)
	}
	return &namespaceHandlers{Namespace: ns, Handlers: hs}, nil
}

// localHandlers lists the handlers (one per template name) of a namespace,
// sorted by name, with their versions lowest first.
func localHandlers(reg *tasker.Registry, ns string) []handlerInfo {
	out := []handlerInfo{}
	for _, t := range reg.Templates(ns) {
		if len(out) > 0 && out[len(out)-1].Name == t.Name {
			continue // Templates is sorted by name, then version
		}
		vs := reg.Versions(ns, t.Name)
		out = append(out, handlerInfo{Name: t.Name, Namespace: ns, Versions: vs, LatestVersion: vs[len(vs)-1]})
	}
	return out
}
