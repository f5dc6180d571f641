package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/internal/wire"
)

// expiryCmd offers the password/account-expiry tools that work on the
// store directly, so an operator can check and send notices while the
// daemon is down or before its schedule is enabled.
func expiryCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "expiry", Short: "Password and account expiry: who expires soon, send the notices now"})
	c.AddCommand(expiryReportCmd(), expiryRunCmd())
	return c
}

func expiryReportCmd() *cobra.Command {
	var cfgPath string
	var days int
	var api apiFlags
	c := &cobra.Command{
		Use:   "report [--config FILE | --server URL] [--days 30] [--json]",
		Short: "List active users whose password or account expires within --days (already expired included)",
		Long: "List active users whose password or account expires within --days. With --config the store is read " +
			"directly (works while the daemon is down); otherwise the daemon's API answers (GET /api/v1/expiry), " +
			"with the caller's scope.",
		Example: "  dirbridge expiry report --days 14\n  dirbridge expiry report --config /etc/dirbridge/dirbridge.yaml --days 14",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if days < 0 {
				return fmt.Errorf("--days must be 0 or more, got %d", days)
			}
			if cfgPath == "" {
				cl, err := api.client(ctx)
				if err != nil {
					return err
				}
				var out admin.ExpiryList
				if err := cl.do(ctx, "GET", fmt.Sprintf("/api/v1/expiry?days=%d", days), nil, &out); err != nil {
					return err
				}
				return printExpiry(cmd, out.Items, days, time.Local, api.json)
			}
			cfg, st, err := openFromConfig(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			ec, err := wire.ExpiryConfig(cfg)
			if err != nil {
				return err
			}
			ns, err := expiry.Upcoming(ctx, st, time.Now(), days, ec.Location)
			if err != nil {
				return fmt.Errorf("expiry report: %w", err)
			}
			return printExpiry(cmd, ns, days, ec.Location, api.json)
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "configuration file: read its store directly instead of asking the daemon")
	c.Flags().IntVar(&days, "days", 30, "look this many days ahead")
	api.add(c)
	c.Flags().Lookup("json").Usage = "print JSON for scripts"
	return c
}

func printExpiry(cmd *cobra.Command, ns []expiry.Notice, days int, loc *time.Location, asJSON bool) error {
	if asJSON {
		if ns == nil {
			ns = []expiry.Notice{}
		}
		return printJSON(cmd, ns)
	}
	rows := make([][]string, 0, len(ns))
	for _, n := range ns {
		kind := n.Kind
		if kind == "" {
			kind = expiry.KindPassword
		}
		rows = append(rows, []string{n.Username, kind, n.ExpiresAt.In(loc).Format("2006-01-02 15:04 MST"),
			fmt.Sprint(n.DaysLeft), n.Email, n.Source})
	}
	table(cmd, "USER\tWHAT\tEXPIRES\tDAYS LEFT\tEMAIL\tSOURCE", rows)
	fmt.Fprintf(cmd.ErrOrStderr(), "%d user(s) expire within %d days\n", len(ns), days)
	return nil
}

func expiryRunCmd() *cobra.Command {
	var cfgPath, logLevel string
	var dry, asJSON bool
	c := &cobra.Command{
		Use:   "run --config FILE [--dry-run] [--json]",
		Short: "Send the expiry notices due now (as the schedule would); --dry-run lists them and sends nothing",
		Long: "Run the expiry notice job once against the config's store and SMTP server. Notices already sent for a " +
			"threshold are not sent again, so running it beside the schedule is safe. The exit status is 1 when a delivery failed.",
		Example: "  dirbridge expiry run --config /etc/dirbridge/dirbridge.yaml --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openFromConfig(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			if !dry && cfg.SMTP.Host == "" {
				return fmt.Errorf("smtp.host is not configured: nothing can be sent (use --dry-run to see what is due)")
			}
			log, err := cliLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			job, err := wire.ExpiryJob(cfg, st, log, nil)
			if err != nil {
				return err
			}
			rep, err := job.Run(ctx, time.Now(), dry)
			if err != nil {
				return fmt.Errorf("expiry run: %w", err)
			}
			if asJSON {
				if err := printJSON(cmd, rep); err != nil {
					return err
				}
			} else {
				if dry {
					fmt.Fprintln(cmd.OutOrStdout(), "dry run: nothing was sent; \"sent\" lists what a real run would send")
				}
				fmt.Fprint(cmd.OutOrStdout(), expiry.SummaryText(rep))
			}
			if len(rep.Failed) > 0 {
				cmd.SilenceErrors = true
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().BoolVar(&dry, "dry-run", false, "list the notices due and send nothing")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	c.Flags().StringVar(&logLevel, "log-level", "warn", "log level on stderr")
	return c
}
