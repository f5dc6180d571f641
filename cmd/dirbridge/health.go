package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/config"
)

// healthCmd asks a running daemon whether it is ready, for container
// health checks: the image has no shell or curl, so its HEALTHCHECK runs
// `dirbridge health`. Exit status 0 when /readyz answers 200, 1 with the
// reason otherwise.
func healthCmd() *cobra.Command {
	var url, cfgPath string
	var timeout time.Duration
	var insecure bool
	c := &cobra.Command{
		Use:   "health [--config FILE | --url URL]",
		Short: "Check that a running daemon is ready (exit 0) or say why not (exit 1)",
		Long: "Ask the daemon's readiness probe (GET /readyz) whether it serves: the store answers and is migrated, " +
			"and the sign-in methods have started. Exit status 0 when ready; 1, with the reason, otherwise. " +
			"Meant for container health checks (the image's HEALTHCHECK) and scripts.\n\n" +
			"With --config the probe is found from the daemon's own settings: server.internal_listen when set " +
			"(where /readyz moves), else server.listen, on loopback; over TLS when server.tls is set, trusting " +
			"exactly the certificate in server.tls.cert_file.",
		Example: "  dirbridge health --config /etc/dirbridge/dirbridge.yaml\n  dirbridge health\n" +
			"  dirbridge health --url https://127.0.0.1:8443/readyz --insecure",
		Args: noWords,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var pin []byte
			if cfgPath != "" {
				if cmd.Flags().Changed("url") {
					return errors.New("give --config or --url, not both")
				}
				cfg, err := loadConfig(cfgPath)
				if err != nil {
					return err
				}
				if url, pin, err = healthTarget(cfg); err != nil {
					return err
				}
			}
			if err := checkHealth(ctx, url, insecure, pin); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "not ready: %v\n", err)
				cmd.SilenceErrors = true
				return exitError{1}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "find the readiness URL (and the TLS certificate to trust) in the daemon's configuration")
	c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/readyz", "the daemon's readiness URL")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	c.Flags().BoolVar(&insecure, "insecure", false, "do not verify the server certificate (server.tls with a private CA, on loopback)")
	return c
}

// healthTarget is the readiness URL of the daemon cfg configures, on
// loopback: the internal listener when there is one (/readyz is served
// there only), else the public one. With server.tls it is https, and pin
// is the DER of the configured certificate, the one the daemon presents.
func healthTarget(cfg *config.Config) (url string, pin []byte, err error) {
	addr := cfg.Server.Listen
	if cfg.Server.InternalListen != "" {
		addr = cfg.Server.InternalListen
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
	if !cfg.Server.TLS.Enabled() {
		return url, nil, nil
	}
	data, err := os.ReadFile(cfg.Server.TLS.CertFile)
	if err != nil {
		return "", nil, fmt.Errorf("server.tls.cert_file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", nil, fmt.Errorf("server.tls.cert_file %s: no PEM certificate", cfg.Server.TLS.CertFile)
	}
	return "https" + strings.TrimPrefix(url, "http"), block.Bytes, nil
}

// checkHealth is nil when url answers 200; otherwise the reason: the
// transport error, or the status with the first line of the body (the
// daemon's /readyz says what is not ready). With pin, the server must
// present exactly that certificate (DER), whatever its names and issuer.
func checkHealth(ctx context.Context, url string, insecure bool, pin []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a health check never goes through a proxy
	switch {
	case pin != nil:
		// The certificate names the public host, not 127.0.0.1, and may
		// come from a private CA: the chain check is replaced by
		// comparing the leaf with the configured one.
		// VerifyConnection runs on resumed sessions too.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, //nolint:gosec // verified by VerifyConnection against the pinned certificate
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, pin) {
					return errors.New("the server's certificate is not server.tls.cert_file's")
				}
				return nil
			}}
	case insecure:
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
