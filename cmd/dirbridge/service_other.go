//go:build !windows

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// serviceCmd exists on every OS so scripts get a clear answer; only
// Windows has a Service Control Manager.
func serviceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "service install|uninstall|run",
		Short:  "Windows service management (Windows only; use systemd elsewhere)",
		Hidden: true,
		// The words are checked so that a typo gets cobra's error, and the
		// right words get the answer below.
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"install", "uninstall", "run"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("the Windows service commands are only available on Windows; see deploy/dirbridge.service for systemd")
		},
	}
}
