package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (on --database)",
		Long: `API tokens are credentials of the REST API ("Authorization: Bearer <token>"),
stored as hashes in the database, so that every tasker serve on it accepts
them at once and refuses them at once after a revocation. The first token
turns authentication on (docs/security.md).`,
	}
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
  tasker token create admin --permission '*' --expires 720h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			secret, tok, err := c.CreateToken(cmd.Context(), tasker.TokenParams{Name: args[0], Permissions: perms, ExpiresIn: expires, CreatedBy: "tasker token create"})
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
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			toks, err := c.Tokens(cmd.Context())
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Status(), strings.Join(t.Permissions, ","), t.CreatedAt.UTC().Format(time.RFC3339), exp)
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
			c, closeFn, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "revoked token %s\n", args[0])
			return nil
		},
	}
}
