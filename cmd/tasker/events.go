package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) eventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect the events the engine and the templates' steps publish",
	}
	cmd.AddCommand(a.eventsCatalogCmd(), a.eventsDeadLettersCmd(), a.eventsReplayCmd())
	return cmd
}

func (a *app) eventsCatalogCmd() *cobra.Command {
	var (
		search, namespace string
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List the system events and the custom events declared by the templates",
		Long: `Lists the events a subscriber (Client.Subscribe) may receive: the system
events the engine publishes and the custom events declared under
custom_events by the templates loaded with --templates (no database is
needed). --search keeps the events whose name or description contains TEXT
(case-insensitive); --namespace keeps only the custom events declared by the
templates of that namespace.`,
		Example: `  tasker events catalog --templates examples
  tasker events catalog --templates examples --search step.
  tasker events catalog --templates examples --namespace ecommerce --json`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			reg, err := a.localRegistry()
			if err != nil {
				return err
			}
			all := append(tasker.SystemEvents(), reg.CustomEvents()...)
			sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name }) // as Client.EventCatalog
			events := filterEvents(all, search, namespace)
			return a.printList(asJSON, events, "NAME\tCATEGORY\tFIRED BY\tDESCRIPTION", func(tw io.Writer) {
				for _, e := range events {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Category, e.FiredBy, e.Description)
				}
			}, fmt.Sprintf("%d events", len(events)))
		},
	}
	f := cmd.Flags()
	f.StringVar(&search, "search", "", "keep events whose name or description contains TEXT (case-insensitive)")
	f.StringVar(&namespace, "namespace", "", "keep only the custom events declared by templates of this namespace")
	f.BoolVar(&asJSON, "json", false, "print a JSON array of event specs (with payload schemas and examples)")
	return cmd
}

// filterEvents keeps the events matching search (name or description,
// case-insensitive) and, with a namespace, only that namespace's custom
// events. It never returns nil, so that JSON output is an array.
func filterEvents(all []tasker.EventSpec, search, namespace string) []tasker.EventSpec {
	search = strings.ToLower(search)
	out := []tasker.EventSpec{}
	for _, e := range all {
		if namespace != "" && (!e.Custom || e.Namespace != namespace) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(e.Name), search) && !strings.Contains(strings.ToLower(e.Description), search) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (a *app) eventsDeadLettersCmd() *cobra.Command {
	var (
		subscription string
		limit        int
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "dead-letters",
		Short: "List the events durable subscriptions gave up delivering",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			dead, err := c.DeadLetters(cmd.Context(), subscription, limit)
			if err != nil {
				return err
			}
			if dead == nil {
				dead = []*tasker.OutboxMessage{} // JSON []
			}
			return a.printList(asJSON, dead, "ID\tSUBSCRIPTION\tEVENT\tATTEMPTS\tCREATED\tLAST ERROR", func(tw io.Writer) {
				for _, m := range dead {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Subscription, m.EventName, m.Attempts,
						m.CreatedAt.Format(time.RFC3339), firstLine(m.LastError))
				}
			}, fmt.Sprintf("%d dead letters; replay them with: tasker events replay [ID...]", len(dead)))
		},
	}
	cmd.Flags().StringVar(&subscription, "subscription", "", "only this subscription")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many, newest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) eventsReplayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "replay [ID...]",
		Short: "Deliver dead letters again (the given ids, or all), with fresh attempts",
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, arg := range args {
				id, err := strconv.ParseInt(arg, 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("dead letter id %q is not a positive integer", arg)
				}
				ids[i] = id
			}
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			n, err := c.ReplayDeadLetters(cmd.Context(), ids...)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%d dead letters queued for delivery again; a running worker or server with the subscriptions delivers them\n", n)
			return nil
		},
	}
}
