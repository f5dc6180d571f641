package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// onlineCheck is one thing `config check --online` tried.
type onlineCheck struct {
	What    string  `json:"what"`
	Target  string  `json:"target"`
	OK      bool    `json:"ok"`
	Problem string  `json:"problem,omitempty"`
	Seconds float64 `json:"seconds"`
}

// checkOnline reaches everything the config names: every directory
// server (dial, TLS, service bind, base DN), the SAML IdP's metadata, the
// OIDC issuer's discovery document and the SMTP relay's greeting.
func checkOnline(ctx context.Context, cfg *config.Config) []onlineCheck {
	var out []onlineCheck
	add := func(what, target string, start time.Time, err error) {
		c := onlineCheck{What: what, Target: target, OK: err == nil, Seconds: time.Since(start).Seconds()}
		if err != nil {
			c.Problem = err.Error()
		}
		out = append(out, c)
	}
	for _, d := range cfg.Directories {
		src, err := ldap.New(wire.LDAPConfig(d, nil))
		if err != nil {
			add("directory "+d.Name, strings.Join(d.URLs, " "), time.Now(), err)
			continue
		}
		for _, r := range src.Check(ctx) {
			add("directory "+d.Name, r.URL, time.Now().Add(-r.Elapsed), r.Err)
		}
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	if s := cfg.SSO.SAML; s != nil && s.IDPMetadataURL != "" {
		start := time.Now()
		add("saml metadata", s.IDPMetadataURL, start, fetchContains(ctx, hc, s.IDPMetadataURL, "EntityDescriptor"))
	}
	if o := cfg.SSO.OIDC; o != nil && o.Issuer != "" {
		start := time.Now()
		add("oidc discovery", o.Issuer, start, checkDiscovery(ctx, hc, o.Issuer))
	}
	if cfg.SMTP.Host != "" {
		start := time.Now()
		target := net.JoinHostPort(cfg.SMTP.Host, strconv.Itoa(cfg.SMTP.Port))
		add("smtp", target, start, smtpGreeting(ctx, target, cfg.SMTP.TLS == config.SMTPTLS, cfg.SMTP.Host))
	}
	return out
}

func fetch(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", res.Status)
	}
	return body, nil
}

func fetchContains(ctx context.Context, hc *http.Client, url, want string) error {
	body, err := fetch(ctx, hc, url)
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("the answer is not SAML metadata (no %s)", want)
	}
	return nil
}

// checkDiscovery fetches the issuer's discovery document and checks that
// it names the same issuer, as go-oidc will at start.
func checkDiscovery(ctx context.Context, hc *http.Client, issuer string) error {
	body, err := fetch(ctx, hc, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("discovery document: %w", err)
	}
	if doc.Issuer != issuer {
		return fmt.Errorf("the discovery document names issuer %q, the config %q", doc.Issuer, issuer)
	}
	return nil
}

// smtpGreeting connects and reads the relay's 220 greeting (over TLS for
// implicit TLS); it sends nothing, so no mail and no login is tried.
func smtpGreeting(ctx context.Context, target string, implicitTLS bool, host string) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	var c net.Conn
	var err error
	if implicitTLS {
		c, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}).DialContext(ctx, "tcp", target)
	} else {
		c, err = d.DialContext(ctx, "tcp", target)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no greeting: %w", err)
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("greeting %q is not 220", strings.TrimSpace(line))
	}
	return nil
}

// reportOnline prints the checks and fails when any did.
func reportOnline(cmd *cobra.Command, path string, checks []onlineCheck, asJSON bool) error {
	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
		}
	}
	if asJSON {
		if err := printJSON(cmd, map[string]any{"config": path, "checks": checks, "failed": failed}); err != nil {
			return err
		}
	} else {
		var rows [][]string
		for _, c := range checks {
			state := "ok"
			if !c.OK {
				state = "FAILED: " + c.Problem
			}
			rows = append(rows, []string{c.What, c.Target, fmt.Sprintf("%.2fs", c.Seconds), state})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", path)
		table(cmd, "CHECK\tTARGET\tTIME\tRESULT", rows)
	}
	if failed > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d online check(s) failed\n", failed, len(checks))
		cmd.SilenceErrors = true
		return exitError{1}
	}
	return nil
}
