package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sso/kerberos"
)

// kerberosCmd is `dirbridge kerberos`: tools for SPNEGO sign-in.
func kerberosCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "kerberos", Short: "Kerberos (SPNEGO) sign-in tools"})
	var cfgPath string
	var asJSON bool
	check := &cobra.Command{
		Use:   "check --config FILE [--json]",
		Short: "Read sso.kerberos's keytab: its principals and encryption types, and whether the SPN fits server.public_url",
		Long: "Read the keytab sso.kerberos names and print each principal it holds with its key versions and encryption types; " +
			"say whether it holds a key for sso.kerberos.service_principal and whether that SPN names server.public_url's host " +
			"(a browser asks its KDC for HTTP/<the host it sees>). The exit status is 1 if either does not hold. No KDC is contacted.",
		Example: "  dirbridge kerberos check --config /etc/dirbridge/dirbridge.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if cfg.SSO.Kerberos == nil {
				return errors.New("sso.kerberos is not configured")
			}
			kt, err := wire.Keytab(cfg)
			if err != nil {
				return err
			}
			pub, _ := wire.PublicURL(cfg)
			if cfg.Server.PublicURL == "" {
				pub = ""
			}
			r := kerberos.Check(kt, cfg.SSO.Kerberos.ServicePrincipal, pub)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return fmt.Errorf("write report: %w", err)
				}
			} else {
				printKerberosCheck(cmd, r)
			}
			if !r.OK() {
				cmd.SilenceErrors = true
				return exitError{1}
			}
			return nil
		},
	}
	check.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	check.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.AddCommand(check)
	return c
}

func printKerberosCheck(cmd *cobra.Command, r kerberos.CheckReport) {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "keytab:")
	for _, e := range r.Entries {
		kvnos := make([]string, len(e.KVNOs))
		for i, k := range e.KVNOs {
			kvnos[i] = fmt.Sprint(k)
		}
		fmt.Fprintf(out, "  %s  kvno %s  %s\n", e.Principal, strings.Join(kvnos, ","), strings.Join(e.EncTypes, ", "))
	}
	yes := map[bool]string{true: "yes", false: "NO"}
	fmt.Fprintf(out, "service principal %s in keytab: %s\n", r.ServicePrincipal, yes[r.InKeytab])
	if r.PublicHost != "" {
		fmt.Fprintf(out, "SPN host matches server.public_url (%s): %s\n", r.PublicHost, yes[r.HostMatches])
	}
	for _, n := range r.Notes {
		fmt.Fprintln(out, "note: "+n)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(cmd.ErrOrStderr(), "problem: "+p)
	}
	if r.OK() {
		fmt.Fprintln(out, "OK")
	}
}
