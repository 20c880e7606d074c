package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (on --database, or through --server)",
		Long: `API tokens are credentials of the REST API ("Authorization: Bearer <token>"),
stored as hashes in the database, so that every tasker serve on it accepts
them at once and refuses them at once after a revocation. The first token
turns authentication on (docs/security.md).

The commands work on the database (--database, like tasker migrate), or
with --server URL through a running tasker serve, with --token an admin
credential holding tasker.token:create, :index or :destroy; a token made
through a server grants no more than that credential holds.`,
	}
	a.addServerFlags(cmd.PersistentFlags(), "an API token or a JWT with the tasker.token permissions")
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var (
		perms   []string
		expires time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create NAME --permission P [--permission P ...] [--expires DUR]",
		Short: "Create an API token; the token alone goes to standard output",
		Example: `  TOKEN=$(tasker token create ci --permission 'tasker.task:*')
  tasker token create admin --permission '*' --expires 720h
  tasker token create ci --permission 'tasker.task:*' --server https://tasker:8443 --token "$ADMIN_TOKEN"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expires < 0 {
				return fmt.Errorf("--expires %s is negative: give a lifetime such as 720h, or 0 for a token that never expires", expires)
			}
			var (
				secret string
				tok    *tasker.APIToken
				err    error
			)
			if a.s.server != "" {
				secret, tok, err = a.remoteCreateToken(cmd.Context(), args[0], perms, expires)
			} else {
				err = a.withClient(cmd.Context(), func(c *tasker.Client) error {
					secret, tok, err = c.CreateToken(cmd.Context(), tasker.TokenParams{Name: args[0], Permissions: perms, ExpiresIn: expires, CreatedBy: "tasker token create"})
					return err
				})
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, secret)
			exp := "never expires"
			if tok.ExpiresAt != nil {
				exp = "expires " + tok.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(a.errOut, "created token %s (%s; %s); it is shown only this once\n", tok.Name, strings.Join(tok.Permissions, ", "), exp)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&perms, "permission", nil, "a permission the token grants: resource:action (tasker.task:index), resource:* or *; repeat for more (required)")
	cmd.Flags().DurationVar(&expires, "expires", 0, "lifetime of the token (e.g. 720h); 0 never expires")
	_ = cmd.MarkFlagRequired("permission")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			toks, err := remoteOrLocal(ctx, a, func(r *apiClient) ([]apiToken, error) { return r.listTokens(ctx) },
				func(c *tasker.Client) ([]apiToken, error) {
					list, err := c.Tokens(ctx)
					toks := make([]apiToken, len(list))
					for i, t := range list {
						toks[i] = apiToken{APIToken: t, StatusField: t.Status()}
					}
					return toks, err
				})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tPERMISSIONS\tCREATED\tEXPIRES")
			for _, t := range toks {
				exp := "-"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.StatusField, strings.Join(t.Permissions, ","), t.CreatedAt.UTC().Format(time.RFC3339), exp)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "%d tokens\n", len(toks))
			return nil
		},
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token: every server refuses it from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, err := remoteOrLocal(ctx, a, func(r *apiClient) (struct{}, error) { return struct{}{}, r.revokeToken(ctx, args[0]) },
				func(c *tasker.Client) (struct{}, error) { return struct{}{}, c.RevokeToken(ctx, args[0]) })
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "revoked token %s\n", args[0])
			return nil
		},
	}
}

// apiToken is an API token as GET /tasker/tokens sends it: tasker.APIToken's
// fields and its status.
type apiToken struct {
	tasker.APIToken
	StatusField string `json:"status"`
}

// remoteCreateToken creates a token through POST /tasker/tokens.
func (a *app) remoteCreateToken(ctx context.Context, name string, perms []string, expires time.Duration) (string, *tasker.APIToken, error) {
	type created struct {
		Secret string    `json:"secret"`
		Token  *apiToken `json:"token"`
	}
	body := map[string]any{"name": name, "permissions": perms}
	if expires > 0 {
		body["expires_in_seconds"] = expires.Seconds()
	}
	out, err := callServer(a, func(r *apiClient) (*created, error) {
		var c created
		_, err := r.do(ctx, http.MethodPost, "/tasker/tokens", nil, body, &c)
		return &c, err
	})
	if err != nil {
		return "", nil, err
	}
	if out.Secret == "" || out.Token == nil {
		return "", nil, fmt.Errorf("create token: the server's answer has no token")
	}
	return out.Secret, &out.Token.APIToken, nil
}

func (r *apiClient) listTokens(ctx context.Context) ([]apiToken, error) {
	return member[[]apiToken](ctx, r, http.MethodGet, "/tasker/tokens", nil, nil, "tokens")
}

func (r *apiClient) revokeToken(ctx context.Context, name string) error {
	_, err := r.do(ctx, http.MethodDelete, "/tasker/tokens/"+url.PathEscape(name), nil, nil, nil)
	return err
}
