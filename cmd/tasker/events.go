package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
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
	var search, namespace string
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
  tasker events catalog --templates examples --namespace ecommerce -o json`,
		Args: cobra.NoArgs,
	}
	runWithOutput(cmd, func(_ *cobra.Command, _ []string, js bool) error {
		reg, err := a.localRegistry()
		if err != nil {
			return err
		}
		all := append(tasker.SystemEvents(), reg.CustomEvents()...)
		sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name }) // as Client.EventCatalog
		events := filterEvents(all, search, namespace)
		return a.printList(js, events, "NAME\tCATEGORY\tFIRED BY\tDESCRIPTION", func(tw io.Writer) {
			for _, e := range events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Category, e.FiredBy, e.Description)
			}
		}, fmt.Sprintf("%d events", len(events)))
	})
	f := cmd.Flags()
	f.StringVar(&search, "search", "", "keep events whose name or description contains TEXT (case-insensitive)")
	f.StringVar(&namespace, "namespace", "", "keep only the custom events declared by templates of this namespace")
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
	)
	cmd := &cobra.Command{
		Use:   "dead-letters",
		Short: "List the events durable subscriptions gave up delivering (on --database, or through --server)",
		Args:  cobra.NoArgs,
	}
	runWithOutput(cmd, func(cmd *cobra.Command, _ []string, js bool) error {
		dead, err := a.deadLetters(cmd, subscription, limit)
		if err != nil {
			return err
		}
		if dead == nil {
			dead = []*tasker.OutboxMessage{} // JSON []
		}
		return a.printList(js, dead, "ID\tSUBSCRIPTION\tEVENT\tATTEMPTS\tCREATED\tLAST ERROR", func(tw io.Writer) {
			for _, m := range dead {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Subscription, m.EventName, m.Attempts,
					m.CreatedAt.Format(time.RFC3339), firstLine(m.LastError))
			}
		}, fmt.Sprintf("%d dead letters; replay them with: tasker events replay [ID...]", len(dead)))
	})
	cmd.Flags().StringVar(&subscription, "subscription", "", "only this subscription")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many, newest first (at most 1000 through --server)")
	a.serverFlags(cmd, "tasker.dead_letter:index")
	return cmd
}

// serverFlags adds --server and --token to cmd (for the commands whose
// parent has none); perm names the permission the token needs.
func (a *app) serverFlags(cmd *cobra.Command, perm string) {
	a.addServerFlags(cmd.Flags(), "an API token or a JWT holding "+perm)
}

// deadLetters lists dead letters from the database or through --server.
func (a *app) deadLetters(cmd *cobra.Command, subscription string, limit int) ([]*tasker.OutboxMessage, error) {
	ctx := cmd.Context()
	return remoteOrLocal(ctx, a, func(r *apiClient) ([]*tasker.OutboxMessage, error) { return r.deadLetters(ctx, subscription, limit) },
		func(c *tasker.Client) ([]*tasker.OutboxMessage, error) {
			return c.DeadLetters(ctx, subscription, limit)
		})
}

// replayCheckLimit is how many dead letters replay reads to check that the
// ids given are dead letters (the REST API's page limit).
const replayCheckLimit = 1000

func (a *app) eventsReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay [ID...]",
		Short: "Deliver dead letters again (the given ids, or all), with fresh attempts (on --database, or through --server)",
		Long: `Marks dead letters for delivery again with fresh attempts: the given ids, or
all of them without ids. An id that is not a dead letter (unknown, or
already delivered or replayed) is an error naming it, and nothing is
replayed. A running worker or server with the subscriptions delivers them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, arg := range args {
				id, err := strconv.ParseInt(arg, 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("dead letter id %q is not a positive integer", arg)
				}
				ids[i] = id
			}
			if len(ids) > 0 {
				dead, err := a.deadLetters(cmd, "", replayCheckLimit)
				var ae *apiError
				switch {
				case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
					dead = make([]*tasker.OutboxMessage, replayCheckLimit) // a token without :index: no check before
				case err != nil:
					return err
				}
				if len(dead) < replayCheckLimit { // the whole list: check every id
					if err := unknownDeadLetters(ids, dead); err != nil {
						return err
					}
				}
			}
			ctx := cmd.Context()
			n, err := remoteOrLocal(ctx, a, func(r *apiClient) (int, error) { return r.replayDeadLetters(ctx, ids) },
				func(c *tasker.Client) (int, error) { return c.ReplayDeadLetters(ctx, ids...) })
			if err != nil {
				return err
			}
			if len(ids) > 0 && n < len(ids) {
				return fmt.Errorf("%d of the %d ids given were dead letters and are queued again; the others are not dead letters (tasker events dead-letters lists them)", n, len(ids))
			}
			fmt.Fprintf(a.out, "%d dead letters queued for delivery again; a running worker or server with the subscriptions delivers them\n", n)
			return nil
		},
	}
	a.serverFlags(cmd, "tasker.dead_letter:replay")
	return cmd
}

// unknownDeadLetters is an error naming the ids that are not in dead.
func unknownDeadLetters(ids []int64, dead []*tasker.OutboxMessage) error {
	known := make(map[int64]bool, len(dead))
	for _, m := range dead {
		known[m.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !known[id] {
			missing = append(missing, strconv.FormatInt(id, 10))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	what := "id " + missing[0] + " is not a dead letter"
	if len(missing) > 1 {
		what = "ids " + strings.Join(missing, ", ") + " are not dead letters"
	}
	return fmt.Errorf("%s (unknown, or delivered or replayed already); nothing replayed: tasker events dead-letters lists them", what)
}
