package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/scim"
)

// scimCmd groups the SCIM provisioning tools. A source's bearer token is
// made here, printed once and stored only as a hash; the IdP (Entra's
// "Secret Token", Okta's "API Token") is given the printed value.
func scimCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "scim", Short: "SCIM provisioning sources: bearer tokens"})
	token := group(&cobra.Command{Use: "token", Short: "Create or rotate a provisioning source's bearer token"})
	token.AddCommand(scimTokenCmd(false), scimTokenCmd(true))
	c.AddCommand(token)
	return c
}

func scimTokenCmd(rotate bool) *cobra.Command {
	var cfgPath, source string
	use, short := "create", "Create the first bearer token of a provisioning source (refused if it has one)"
	if rotate {
		use, short = "rotate", "Replace a provisioning source's bearer token; the old one stops working at once"
	}
	c := &cobra.Command{
		Use:   use + " --config FILE --source NAME",
		Short: short,
		Long: short + ". The token is printed once on standard output and stored only as its SHA-256; " +
			"give it to the IdP as the SCIM secret token. The change is audited.",
		Example: "  dirbridge scim token " + use + " --config /etc/dirbridge/dirbridge.yaml --source entra",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openFromConfig(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, ok := cfg.ProvisioningSource(source); !ok {
				return fmt.Errorf("unknown provisioning source %q (config has %s)", source, provisioningNames(cfg))
			}
			tok, err := scim.IssueToken(ctx, st, source, "cli:"+osUser(), rotate, time.Now())
			switch {
			case errors.Is(err, scim.ErrTokenExists):
				return fmt.Errorf("provisioning source %s has a token already; use `dirbridge scim token rotate`", source)
			case errors.Is(err, scim.ErrNoToken):
				return fmt.Errorf("provisioning source %s has no token yet; use `dirbridge scim token create`", source)
			case err != nil:
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "SCIM endpoint: <public_url>/scim/v2/%s — give the IdP the token above; it is not shown again.\n", source)
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().StringVar(&source, "source", "", "provisioning source name (provisioning[].name)")
	_ = c.MarkFlagRequired("source")
	return c
}

func provisioningNames(cfg *config.Config) string {
	if len(cfg.Provisioning) == 0 {
		return "no provisioning sources"
	}
	names := make([]string, len(cfg.Provisioning))
	for i, p := range cfg.Provisioning {
		names[i] = p.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
