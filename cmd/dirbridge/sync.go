package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// syncResult is the --json shape of `dirbridge sync`.
type syncResult struct {
	RunID     string           `json:"run_id"`
	Directory string           `json:"directory"`
	Full      bool             `json:"full"`
	DryRun    bool             `json:"dry_run"`
	Status    string           `json:"status"`
	Counts    store.SyncCounts `json:"counts"`
	Error     string           `json:"error,omitempty"`
	Plan      json.RawMessage  `json:"plan"`
}

func syncCmd() *cobra.Command {
	var cfgPath, dir string
	var full, dry, allow bool
	var f apiFlags
	c := &cobra.Command{
		Use:   "sync [--config FILE | --server URL] [--directory NAME] [--full] [--dry-run]",
		Short: "Run one directory sync (in-process with --config, or ask the daemon with --server)",
		Example: "  dirbridge sync --config /etc/dirbridge/dirbridge.yaml --directory corp --full --dry-run\n" +
			"  DIRBRIDGE_API_KEY=dbk_... dirbridge sync --server https://sso.example.com --directory corp --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var res syncResult
			if cfgPath != "" {
				cfg, st, err := openFromConfig(ctx, cfgPath)
				if err != nil {
					return err
				}
				defer st.Close()
				if dir == "" && len(cfg.Directories) == 1 {
					dir = cfg.Directories[0].Name
				}
				if dir == "" {
					return errors.New("--directory is required when the config has several directories")
				}
				runner, _, err := daemon.BuildRunner(cfg, st, zap.NewNop(), nil)
				if err != nil {
					return err
				}
				defer runner.Close()
				run, err := runner.Run(ctx, engineRequest(dir, full, dry, allow))
				res = syncResult{RunID: run.ID, Directory: dir, Full: run.Full, DryRun: run.DryRun, Status: string(run.Status), Counts: run.Counts, Error: run.Error, Plan: run.Plan}
				if err != nil && run.ID == "" {
					return err
				}
			} else {
				cl, err := f.client(ctx)
				if err != nil {
					return err
				}
				var started admin.SyncStarted
				if err := cl.do(ctx, "POST", "/api/v1/sync", admin.SyncInput{Directory: dir, Full: full, DryRun: dry, AllowMassDeactivation: allow}, &started); err != nil {
					return err
				}
				var run admin.SyncRun
				for {
					if err := cl.do(ctx, "GET", "/api/v1/sync/runs/"+url.PathEscape(started.RunID), nil, &run); err != nil {
						return err
					}
					if run.Status != string(store.SyncRunning) {
						break
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(time.Second):
					}
				}
				res = syncResult{RunID: run.ID, Directory: run.Directory, Full: run.Full, DryRun: run.DryRun, Status: run.Status, Counts: run.Counts, Error: run.Error, Plan: run.Plan}
			}
			if f.json {
				if err := printJSON(cmd, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "run %s of %s: %s (full=%v dry_run=%v)\ncreated %d, updated %d, deactivated %d, reactivated %d, unchanged %d\n",
					res.RunID, res.Directory, res.Status, res.Full, res.DryRun, res.Counts.Created, res.Counts.Updated,
					res.Counts.Deactivated, res.Counts.Reactivated, res.Counts.Unchanged)
				if res.Error != "" {
					fmt.Fprintln(cmd.OutOrStdout(), "error:", res.Error)
				}
			}
			if res.Status != string(store.SyncSucceeded) {
				cmd.SilenceErrors = true
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "run in-process against this config's directory and store")
	c.Flags().StringVar(&dir, "directory", "", "directory name (default: the only one)")
	c.Flags().BoolVar(&full, "full", false, "full read (default: incremental when a cursor exists)")
	c.Flags().BoolVar(&dry, "dry-run", false, "plan only; change nothing")
	c.Flags().BoolVar(&allow, "allow-mass-deactivation", false, "approve a plan beyond max_deactivations (audited)")
	f.add(c)
	return c
}

func engineRequest(dir string, full, dry, allow bool) engine.Request {
	return engine.Request{Directory: dir, Full: full, DryRun: dry, Trigger: "manual", AllowMassDeactivation: allow, Actor: "cli:" + osUser()}
}
