package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) workersCmd() *cobra.Command {
	var (
		output string
		since  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the workers (in-process and remote) seen recently",
		Long: `Lists the workers that reported themselves within --since (default 5m), the
most recently seen first: in-process workers (tasker serve, tasker worker, a Go
program's Client.Start) report when they start and once per heartbeat
interval; remote workers when they claim or heartbeat. With --server it asks a
running tasker serve (GET /tasker/workers); otherwise it reads the database.`,
		Example: `  tasker workers
  tasker workers --since 1h --output json
  tasker workers --server http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q is unknown: use text or json", output)
			}
			if since < time.Minute || since > tasker.WorkerRetention {
				return fmt.Errorf("--since %s is out of range: give 1m to %s (workers not seen for a day are forgotten)", since, tasker.WorkerRetention)
			}
			ws, err := a.workers(cmd.Context(), since)
			if err != nil {
				return err
			}
			if ws == nil {
				ws = []*tasker.WorkerInfo{}
			}
			return a.printList(output == "json", map[string]any{"workers": ws}, "WORKER\tKIND\tHOST\tPID\tLAST SEEN\tSERVES", func(tw io.Writer) {
				for _, w := range ws {
					serves := strings.Join(w.Handlers, ",")
					if w.Kind == tasker.WorkerRemote {
						serves = "queues: " + strings.Join(w.Queues, ",")
					}
					pid := ""
					if w.PID > 0 {
						pid = strconv.Itoa(w.PID)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.Kind, w.Host, pid, w.LastSeenAt.UTC().Format(time.RFC3339), serves)
				}
			}, fmt.Sprintf("%d workers seen in the last %s", len(ws), since))
		},
	}
	cmd.Flags().DurationVar(&since, "since", tasker.DefaultHealthWorkerWindow, "list the workers seen within this long (1m to 24h)")
	cmd.Flags().StringVar(&a.s.server, "server", "", "`URL` of a running tasker serve (http://HOST:PORT) to ask instead of the database [$TASKER_SERVER]")
	cmd.Flags().StringVar(&a.s.token, "token", "", "the credential sent to --server: an API token (tasker token create) or a JWT [$TASKER_TOKEN]")
	addOutputFlag(cmd.Flags(), &output)
	return cmd
}

func (a *app) workers(ctx context.Context, since time.Duration) ([]*tasker.WorkerInfo, error) {
	return remoteOrLocal(ctx, a, func(r *apiClient) ([]*tasker.WorkerInfo, error) {
		q := url.Values{"since_minutes": {strconv.Itoa(int(since / time.Minute))}}
		return member[[]*tasker.WorkerInfo](ctx, r, http.MethodGet, "/tasker/workers", q, nil, "workers")
	}, func(c *tasker.Client) ([]*tasker.WorkerInfo, error) { return c.Workers(ctx, time.Now().Add(-since)) })
}
