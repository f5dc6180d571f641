package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// backupCmd is `backup`: a consistent online copy of the SQLite store.
func backupCmd() *cobra.Command {
	var cfgPath, out string
	var asJSON bool
	c := &cobra.Command{
		Use:   "backup --config FILE --out PATH [--json]",
		Short: "Copy the SQLite store consistently while the daemon runs (PostgreSQL: use pg_dump)",
		Long: "Write a consistent copy of the SQLite store to a new file, while the daemon keeps running: the copy " +
			"is the store as of one moment, compacted, readable by the owner only. To restore, stop the daemon, " +
			"put the copy in place of the store file (store.dsn) and start it; a copy made by an older dirbridge " +
			"is migrated at start. A PostgreSQL store is backed up with pg_dump (docs/operations.md).",
		Example: "  dirbridge backup --config /etc/dirbridge/dirbridge.yaml --out /var/backups/dirbridge-$(date +%F).db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required: the file to write (it must not exist)")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return fmt.Errorf("load config %s: %w", cfgPath, err)
			}
			if cfg.Store.Driver != config.DriverSQLite {
				return fmt.Errorf("store.driver is %s: back it up with pg_dump, e.g. pg_dump --format=custom --file dirbridge.dump \"$DSN\" (see docs/operations.md)", cfg.Store.Driver)
			}
			start := time.Now()
			if err := sqlite.Backup(cmd.Context(), cfg.Store.DSN.Value(), out); err != nil {
				return err
			}
			fi, err := os.Stat(out)
			if err != nil {
				return err
			}
			res := map[string]any{"out": out, "bytes": fi.Size(), "schema_version": sqlite.LatestMigration(),
				"seconds": time.Since(start).Seconds()}
			if asJSON {
				return printJSON(cmd, res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "store copied to %s (%d bytes, %.1fs)\n", out, fi.Size(), time.Since(start).Seconds())
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return c
}
