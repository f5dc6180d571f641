package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// syncRunsCmd lists past sync runs through the daemon's API, newest first.
func syncRunsCmd() *cobra.Command {
	var dir string
	var limit int
	c := apiCmd("runs [--directory NAME] [--limit N]", "List sync runs, newest first, with their counts (via the API)",
		"  dirbridge sync runs --directory corp --limit 10\n  dirbridge sync show RUN   # one run with its plan", cobra.NoArgs,
		func(c *cobra.Command) {
			c.Flags().StringVar(&dir, "directory", "", "only this directory's runs")
			c.Flags().IntVar(&limit, "limit", 20, "at most this many (1-1000)")
		},
		func(cmd *cobra.Command, cl *client, _ []string, asJSON bool) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit must be between 1 and 1000, got %d", limit)
			}
			v := url.Values{}
			if dir != "" {
				v.Set("directory", dir)
			}
			v.Set("limit", fmt.Sprint(limit))
			var out admin.SyncRunList
			if err := cl.do(cmd.Context(), "GET", "/api/v1/sync/runs?"+v.Encode(), nil, &out); err != nil {
				return err
			}
			if asJSON {
				if out.Items == nil {
					out.Items = []admin.SyncRun{}
				}
				return printJSON(cmd, out)
			}
			rows := make([][]string, 0, len(out.Items))
			for _, r := range out.Items {
				c := r.Counts
				rows = append(rows, []string{r.ID, r.Directory, r.StartedAt.Format(time.RFC3339), runDuration(r),
					r.Trigger, runMode(r.Full, r.DryRun), r.Status,
					fmt.Sprint(c.Created), fmt.Sprint(c.Updated), fmt.Sprint(c.Deactivated), fmt.Sprint(c.Reactivated), fmt.Sprint(c.Unchanged),
					clip(r.Error, 60)})
			}
			table(cmd, "RUN\tDIRECTORY\tSTARTED\tTOOK\tTRIGGER\tMODE\tSTATUS\tCREATED\tUPDATED\tDEACTIVATED\tREACTIVATED\tUNCHANGED\tERROR", rows)
			fmt.Fprintf(cmd.ErrOrStderr(), "%d run(s)\n", len(out.Items))
			return nil
		})
	// The words that once ran a real sync instead (`sync list`, `sync
	// history`) now point here.
	c.SuggestFor = []string{"list", "history", "ls"}
	return c
}

// syncShowCmd prints one run: its counts, its plan and why it failed.
func syncShowCmd() *cobra.Command {
	c := apiCmd("show RUN", "Show one sync run with its plan (via the API)",
		"  dirbridge sync show 01JD3W...\n  dirbridge sync show 01JD3W... --json   # the run as the API returns it, plan included",
		cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
			var run admin.SyncRun
			if err := cl.do(cmd.Context(), "GET", "/api/v1/sync/runs/"+url.PathEscape(a[0]), nil, &run); err != nil {
				return fmt.Errorf("sync run %s: %w", a[0], err)
			}
			if asJSON {
				return printJSON(cmd, run)
			}
			res := syncResult{RunID: run.ID, Directory: run.Directory, Full: run.Full, DryRun: run.DryRun,
				Status: run.Status, Counts: run.Counts, Error: run.Error}
			res.setPlan(run.Plan)
			printSyncSummary(cmd, res)
			fmt.Fprintf(cmd.OutOrStdout(), "trigger %s, started %s, took %s\n", run.Trigger, run.StartedAt.Format(time.RFC3339), runDuration(run))
			return nil
		})
	c.SuggestFor = []string{"get", "describe"}
	return c
}

// runMode is "full" or "incremental", and ", dry run" when it was one.
func runMode(full, dry bool) string {
	m := "incremental"
	if full {
		m = "full"
	}
	if dry {
		m += ", dry run"
	}
	return m
}

// runDuration is how long a run took, or "running".
func runDuration(r admin.SyncRun) string {
	if r.FinishedAt == nil {
		return "running"
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
}

// clip shortens s to n runes for a table cell; the whole text is in
// `sync show` and --json.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		if s == "" {
			return "-"
		}
		return s
	}
	return string(r[:n-1]) + "…"
}
