package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// OIDCClient is a relying party registered at a test issuer.
type OIDCClient struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

// OIDCIssuer is one issuer served by the test OpenID Provider under a
// path prefix: "/<tenant-id>/v2.0" for an Entra-like issuer,
// "/oauth2/default" for an Okta-like one.
type OIDCIssuer struct {
	Prefix  string       `json:"prefix"`
	Clients []OIDCClient `json:"clients"`
	// Scopes maps a scope to the claims it releases ("openid" adds to
	// sub). Claims not listed in any scope are never released.
	Scopes map[string][]string `json:"scopes"`
	// Users maps a login (the login_hint that signs them in) to their
	// claims; "sub" is required. "_claim_names"/"_claim_sources" make a
	// distributed claim (Entra's groups overage).
	Users map[string]map[string]any `json:"users"`
}

// OIDCProviderOptions configures the test OpenID Provider.
type OIDCProviderOptions struct {
	Issuers []OIDCIssuer
}

// OIDCProvider is a running oidc-provider (npm, OpenID Certified) on
// loopback.
type OIDCProvider struct {
	BaseURL string
	Dir     string
	proc    *Process
}

// Issuer is the issuer URL for a prefix.
func (p *OIDCProvider) Issuer(prefix string) string { return p.BaseURL + prefix }

// OIDCProviderDir is the directory holding server.js and its node_modules.
func OIDCProviderDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "oidcprovider")
}

// StartOIDCProvider runs internal/harness/oidcprovider/server.js with a
// generated config on a free loopback port until cleanup. The node
// modules come from `npm ci` in that directory.
func StartOIDCProvider(t TB, opts OIDCProviderOptions) *OIDCProvider {
	t.Helper()
	// Node.js >= 20 is not a Debian 12 package (bookworm's nodejs is 18):
	// scripts/install-deps.sh checks for it but does not install it.
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("harness: node not found on PATH: install Node.js 20 or later with npm (not in Debian 12, whose nodejs is 18; e.g. NodeSource's nodejs), then run %s", InstallHint)
	}
	src := OIDCProviderDir()
	if _, err := os.Stat(filepath.Join(src, "node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatalf("harness: oidc-provider not installed in %s/node_modules: run %s (it runs npm ci there)", src, InstallHint)
	}
	dir := TempDir(t, "oidcprovider-")
	port := FreePort(t)
	p := &OIDCProvider{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir}
	cfg, err := json.MarshalIndent(map[string]any{"port": port, "issuers": opts.Issuers}, "", "  ")
	if err != nil {
		t.Fatalf("harness: oidc-provider config: %v", err)
	}
	cfgFile := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		t.Fatalf("harness: oidc-provider config: %v", err)
	}
	cmd := exec.Command(node, filepath.Join(src, "server.js"), cfgFile)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "NODE_ENV=test", "NODE_NO_WARNINGS=1")
	proc, err := Start("oidc-provider", cmd, filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	p.proc = proc
	t.Cleanup(func() { proc.Stop(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := WaitPort(ctx, Addr(port), 15*time.Second); err != nil {
		t.Fatalf("harness: oidc-provider: %v; log: %s", err, p.Log())
	}
	for _, iss := range opts.Issuers {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer(iss.Prefix)+"/.well-known/openid-configuration", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("harness: oidc-provider discovery: %v; log: %s", err, p.Log())
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("harness: oidc-provider discovery %s: %s: %.500s; log: %s", iss.Prefix, resp.Status, body, p.Log())
		}
	}
	return p
}

// Log returns the provider's output, for failure messages.
func (p *OIDCProvider) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "node.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}
