//go:build windows

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/daemon"
)

const serviceName = "dirbridge"

// serviceCmd manages dirbridge as a Windows service under the Service
// Control Manager. See deploy/windows.md for running it as a gMSA.
func serviceCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "service", Short: "Install, uninstall or run dirbridge as a Windows service"})
	var cfgPath, account string
	install := &cobra.Command{
		Use:     "install --config FILE [--account DOMAIN\\gmsa$]",
		Short:   "Register the service with the Service Control Manager",
		Example: `  dirbridge service install --config C:\ProgramData\dirbridge\dirbridge.yaml --account CORP\svc-dirbridge$`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find executable: %w", err)
			}
			abs, err := filepath.Abs(cfgPath)
			if err != nil {
				return fmt.Errorf("config path: %w", err)
			}
			m, err := mgr.Connect()
			if err != nil {
				return fmt.Errorf("connect to service manager: %w", err)
			}
			defer m.Disconnect()
			conf := mgr.Config{DisplayName: "dirbridge", Description: "Directory sync and single sign-on bridge", StartType: mgr.StartAutomatic}
			if account != "" {
				// A gMSA has no password: the empty password tells the SCM to
				// fetch the managed one from AD.
				conf.ServiceStartName = account
			}
			s, err := m.CreateService(serviceName, exe, conf, "service", "run", "--config", abs)
			if err != nil {
				return fmt.Errorf("create service: %w", err)
			}
			defer s.Close()
			_ = eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info)
			fmt.Fprintf(cmd.OutOrStdout(), "service %s installed\n", serviceName)
			return nil
		},
	}
	install.Flags().StringVar(&cfgPath, "config", `C:\ProgramData\dirbridge\dirbridge.yaml`, "configuration file")
	install.Flags().StringVar(&account, "account", "", `run as this account, e.g. a gMSA CORP\svc-dirbridge$`)
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := mgr.Connect()
			if err != nil {
				return fmt.Errorf("connect to service manager: %w", err)
			}
			defer m.Disconnect()
			s, err := m.OpenService(serviceName)
			if err != nil {
				return fmt.Errorf("open service: %w", err)
			}
			defer s.Close()
			if err := s.Delete(); err != nil {
				return fmt.Errorf("delete service: %w", err)
			}
			_ = eventlog.Remove(serviceName)
			fmt.Fprintf(cmd.OutOrStdout(), "service %s removed\n", serviceName)
			return nil
		},
	}
	var runCfg string
	run := &cobra.Command{
		Use:    "run --config FILE",
		Short:  "Run under the Service Control Manager (the SCM calls this)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return svc.Run(serviceName, &handler{cfgPath: runCfg})
		},
	}
	run.Flags().StringVar(&runCfg, "config", `C:\ProgramData\dirbridge\dirbridge.yaml`, "configuration file")
	c.AddCommand(install, uninstall, run)
	return c
}

type handler struct{ cfgPath string }

// Execute runs the daemon and turns SCM stop/shutdown requests into a
// context cancellation, which shuts the daemon down gracefully.
func (h *handler) Execute(args []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	// log.format, log.level (Run applies it, and again on reload) and
	// runtime.* as `dirbridge serve` takes them; a file that does not load
	// is reported by Run itself.
	cfg, cfgErr := config.Load(h.cfgPath)
	format := "json"
	if cfgErr == nil {
		format = cfg.Log.Format
	}
	log, level, err := daemon.NewLevelLogger(format, "")
	if err != nil {
		return true, 1
	}
	log, closeEventLog := withEventLog(log)
	defer closeEventLog()
	if cfgErr == nil {
		applyMemoryPolicy(cfg.Runtime, os.Getenv, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigPath: h.cfgPath, Logger: log, Level: &level, Version: version})
	}()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Error("daemon stopped", zap.Error(err))
				return true, 1
			}
			return false, 0
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32((35 * time.Second).Milliseconds())}
				cancel()
			}
		}
	}
}
