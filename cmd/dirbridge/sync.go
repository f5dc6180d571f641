package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// syncResult is the --json shape of `dirbridge sync` (issue 3): the run,
// its counts and the plan's items. Error carries the reason of a failed or
// refused run.
type syncResult struct {
	RunID     string           `json:"run_id"`
	Directory string           `json:"directory"`
	Full      bool             `json:"full"`
	DryRun    bool             `json:"dry_run"`
	Status    string           `json:"status"`
	Counts    store.SyncCounts `json:"counts"`
	Error     string           `json:"error,omitempty"`
	Plan      json.RawMessage  `json:"plan"`
	// Read holds the reader's statistics (entries, pages, elapsed).
	Read json.RawMessage `json:"read,omitempty"`

	rawPlan json.RawMessage // the whole plan, for the readable summary
}

func syncCmd() *cobra.Command {
	var cfgPath, dir, logLevel, cpuProfile, memProfile string
	var full, dry, allow bool
	var f apiFlags
	c := &cobra.Command{
		Use:   "sync [--config FILE | --server URL] [--directory NAME] [--full] [--dry-run] [--allow-mass-deactivation] [--json]",
		Short: "Run one directory sync (in-process with --config, or ask the daemon with --server) and wait for it",
		Long: "Run one sync of a directory and print its result. With --config it runs in this process against the " +
			"config's directory and store (first set-up, scripts; do not run it beside a daemon on the same SQLite file). " +
			"Otherwise it asks the daemon at --server (POST /api/v1/sync, token from DIRBRIDGE_TOKEN or DIRBRIDGE_API_KEY) " +
			"and polls the run until it ends. The exit status is 1 when the run failed or was refused; the reason is printed.",
		Example: "  dirbridge sync --config /etc/dirbridge/dirbridge.yaml --directory corp --full --dry-run\n" +
			"  DIRBRIDGE_API_KEY=dbk_... dirbridge sync --server https://sso.example.com --directory corp --json\n" +
			"  dirbridge sync runs --directory corp   # past runs: dirbridge sync show RUN",
		// sync runs by itself; a word is a subcommand (runs, show) or an
		// error: an ignored word once made `sync runs` run a sync.
		Args:                       noWords,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			req := engine.Request{Directory: dir, Full: full, DryRun: dry, Trigger: "manual",
				AllowMassDeactivation: allow, Actor: "cli:" + osUser()}
			var res syncResult
			var err error
			if cfgPath != "" {
				stop, perr := startProfiles(cpuProfile, memProfile)
				if perr != nil {
					return perr
				}
				res, err = syncInProcess(ctx, cfgPath, logLevel, req)
				if perr := stop(); perr != nil && err == nil {
					err = perr
				}
			} else {
				res, err = syncViaServer(ctx, f, req)
			}
			if err != nil {
				return err
			}
			if f.json {
				if res.Plan == nil {
					res.Plan = json.RawMessage("[]")
				}
				if err := printJSON(cmd, res); err != nil {
					return err
				}
			} else {
				printSyncSummary(cmd, res)
			}
			if res.Status != string(store.SyncSucceeded) {
				if f.json {
					// The reason is in the JSON; say it on stderr too so a
					// script's log shows why without parsing.
					fmt.Fprintf(cmd.ErrOrStderr(), "sync %s: %s: %s\n", res.Directory, res.Status, res.Error)
				}
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
	c.Flags().StringVar(&logLevel, "log-level", "warn", "with --config: log level on stderr (info shows read progress)")
	// Profiles of an in-process run, for the benchmark (bench/syncbench).
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "with --config: write a CPU profile here")
	c.Flags().StringVar(&memProfile, "memprofile", "", "with --config: write a heap profile (allocations) here at the end")
	_ = c.Flags().MarkHidden("cpuprofile")
	_ = c.Flags().MarkHidden("memprofile")
	f.add(c)
	c.AddCommand(syncRunsCmd(), syncShowCmd()) // sync_runs.go
	return c
}

// startProfiles starts the CPU profile; the returned stop ends it and
// writes the heap profile.
func startProfiles(cpu, mem string) (stop func() error, err error) {
	var cf *os.File
	if cpu != "" {
		if cf, err = os.Create(cpu); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cf); err != nil {
			_ = cf.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	return func() error {
		if cf != nil {
			pprof.StopCPUProfile()
			if err := cf.Close(); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
		}
		if mem != "" {
			mf, err := os.Create(mem)
			if err != nil {
				return fmt.Errorf("heap profile: %w", err)
			}
			if err := pprof.Lookup("allocs").WriteTo(mf, 0); err != nil {
				_ = mf.Close()
				return fmt.Errorf("heap profile: %w", err)
			}
			if err := mf.Close(); err != nil {
				return fmt.Errorf("heap profile: %w", err)
			}
		}
		return nil
	}, nil
}

// syncInProcess runs one sync with the config's own directory and store.
func syncInProcess(ctx context.Context, cfgPath, logLevel string, req engine.Request) (syncResult, error) {
	cfg, st, err := openFromConfig(ctx, cfgPath)
	if err != nil {
		return syncResult{}, err
	}
	defer st.Close()
	if req.Directory, err = pickDirectory(cfg, req.Directory); err != nil {
		return syncResult{}, err
	}
	log, err := cliLogger(logLevel)
	if err != nil {
		return syncResult{}, err
	}
	defer func() { _ = log.Sync() }()
	applyMemoryPolicy(cfg.Runtime, os.Getenv, log)
	s, err := wire.Runner(cfg, st, log, nil)
	if err != nil {
		return syncResult{}, err
	}
	defer s.Runner.Close()
	run, err := s.Runner.Run(ctx, req)
	if err != nil && run.ID == "" {
		// Nothing was recorded: the request itself was wrong (unknown
		// directory, store down before the run began).
		return syncResult{}, fmt.Errorf("sync %s: %w", req.Directory, err)
	}
	res := syncResult{RunID: run.ID, Directory: run.Directory, Full: run.Full, DryRun: run.DryRun,
		Status: string(run.Status), Counts: run.Counts, Error: run.Error, Read: run.Stats}
	res.setPlan(run.Plan)
	if res.Status == "" && err != nil {
		res.Status, res.Error = string(store.SyncFailed), err.Error()
	}
	return res, nil
}

// syncViaServer asks the daemon for a run and polls it until it ends.
func syncViaServer(ctx context.Context, f apiFlags, req engine.Request) (syncResult, error) {
	cl, err := f.client(ctx)
	if err != nil {
		return syncResult{}, err
	}
	var started admin.SyncStarted
	if err := cl.do(ctx, "POST", "/api/v1/sync", admin.SyncInput{Directory: req.Directory, Full: req.Full,
		DryRun: req.DryRun, AllowMassDeactivation: req.AllowMassDeactivation}, &started); err != nil {
		return syncResult{}, fmt.Errorf("start sync: %w", err)
	}
	var run admin.SyncRun
	// Poll quickly at first (small directories finish in well under a
	// second), then back off to once a second.
	wait := 100 * time.Millisecond
	for {
		if err := cl.do(ctx, "GET", "/api/v1/sync/runs/"+url.PathEscape(started.RunID), nil, &run); err != nil {
			return syncResult{}, fmt.Errorf("sync run %s: %w", started.RunID, err)
		}
		if run.Status != string(store.SyncRunning) {
			break
		}
		select {
		case <-ctx.Done():
			return syncResult{}, fmt.Errorf("waiting for sync run %s (it goes on in the daemon): %w", started.RunID, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
	res := syncResult{RunID: run.ID, Directory: run.Directory, Full: run.Full, DryRun: run.DryRun,
		Status: run.Status, Counts: run.Counts, Error: run.Error, Read: run.Stats}
	res.setPlan(run.Plan)
	return res, nil
}

// setPlan keeps the plan's items as the JSON "plan" array and the plan
// itself for the readable summary. The items are cut out as raw JSON: a
// first import's plan holds thousands of items and need not be decoded to
// be printed. A run refused or failed before planning has no plan.
func (r *syncResult) setPlan(raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	var p struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		// Keep whatever the record holds rather than hide it.
		r.Plan = raw
		return
	}
	r.Plan, r.rawPlan = p.Items, raw
	if len(p.Items) == 0 || string(p.Items) == "null" {
		r.Plan = json.RawMessage("[]")
	}
}

func printSyncSummary(cmd *cobra.Command, res syncResult) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "sync run %s of %s (%s): %s\n", res.RunID, res.Directory, runMode(res.Full, res.DryRun), res.Status)
	var p engine.Plan
	if len(res.rawPlan) > 0 && json.Unmarshal(res.rawPlan, &p) == nil {
		fmt.Fprint(out, p.Summary())
		if p.Truncated > 0 {
			fmt.Fprintf(out, "(the run record keeps the first %d items; %d more not shown)\n", len(p.Items), p.Truncated)
		}
	} else {
		c := res.Counts
		fmt.Fprintf(out, "created %d, updated %d, deactivated %d, reactivated %d, unchanged %d\n",
			c.Created, c.Updated, c.Deactivated, c.Reactivated, c.Unchanged)
	}
	if res.Error != "" {
		fmt.Fprintf(out, "%s: %s\n", res.Status, res.Error)
	}
}

// cliLogger logs to stderr in console format, without the stack traces the
// development preset adds to warnings: a CLI user wants the message.
func cliLogger(level string) (*zap.Logger, error) {
	zc := zap.NewDevelopmentConfig()
	zc.DisableStacktrace = true
	lv, err := zap.ParseAtomicLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	zc.Level = lv
	l, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("logger: %w", err)
	}
	return l, nil
}

// pickDirectory defaults to the config's only directory.
func pickDirectory(cfg *config.Config, dir string) (string, error) {
	if dir != "" {
		if _, ok := cfg.Directory(dir); !ok {
			return "", fmt.Errorf("unknown directory %q", dir)
		}
		return dir, nil
	}
	switch len(cfg.Directories) {
	case 0:
		return "", errors.New("the config has no directories")
	case 1:
		return cfg.Directories[0].Name, nil
	}
	return "", errors.New("--directory is required when the config has several directories")
}
