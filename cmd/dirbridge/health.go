package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// healthCmd asks a running daemon whether it is ready, for container
// health checks: the image has no shell or curl, so its HEALTHCHECK runs
// `dirbridge health`. Exit status 0 when /readyz answers 200, 1 with the
// reason otherwise.
func healthCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	var insecure bool
	c := &cobra.Command{
		Use:   "health [--url URL]",
		Short: "Check that a running daemon is ready (exit 0) or say why not (exit 1)",
		Long: "Ask the daemon's readiness probe (GET /readyz) whether it serves: the store answers and is migrated, " +
			"and the sign-in methods have started. Exit status 0 when ready; 1, with the reason, otherwise. " +
			"Meant for container health checks (the image's HEALTHCHECK) and scripts.",
		Example: "  dirbridge health\n  dirbridge health --url https://127.0.0.1:8443/readyz --insecure",
		Args:    noWords,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := checkHealth(ctx, url, insecure); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "not ready: %v\n", err)
				cmd.SilenceErrors = true
				return exitError{1}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/readyz", "the daemon's readiness URL")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	c.Flags().BoolVar(&insecure, "insecure", false, "do not verify the server certificate (server.tls with a private CA, on loopback)")
	return c
}

// checkHealth is nil when url answers 200; otherwise the reason: the
// transport error, or the status with the first line of the body (the
// daemon's /readyz says what is not ready).
func checkHealth(ctx context.Context, url string, insecure bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a health check never goes through a proxy
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opted in, for loopback checks
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	reason, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if reason == "" {
		return fmt.Errorf("%s answered %s", url, res.Status)
	}
	return fmt.Errorf("%s answered %s: %s", url, res.Status, reason)
}
