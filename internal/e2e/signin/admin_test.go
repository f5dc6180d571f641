package signine2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

// adminClient is an administrator of the admin API: a local user holding
// manage_users, with an API key exchanged for a bearer token.
type adminClient struct {
	t        *testing.T
	base     string
	username string
	key      string
	token    string
	hc       *http.Client
	// caFile, when set, is the CA the command trusts (SSL_CERT_FILE).
	caFile string
}

// newAdmin creates the local administrator in e's store and its API key.
func (e *env) newAdmin(base, username string) *adminClient {
	e.t.Helper()
	return e.newAdminTLS(base, username, http.DefaultClient, "")
}

// newAdminTLS is newAdmin for a daemon serving HTTPS: hc trusts its
// certificate, as does the command through caFile.
func (e *env) newAdminTLS(base, username string, hc *http.Client, caFile string) *adminClient {
	e.t.Helper()
	ctx := context.Background()
	u := &store.User{Username: username, DisplayName: "Test Administrator", Source: store.SourceLocal,
		State: store.StateActive, Profile: profAdmin}
	var key string
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		var err error
		key, _, err = admin.NewAPIKey(ctx, tx, u.ID, "e2e", time.Now())
		return err
	})
	if err != nil {
		e.t.Fatalf("create administrator: %v", err)
	}
	a := &adminClient{t: e.t, base: base, username: username, key: key, hc: hc, caFile: caFile}
	var tr admin.TokenResponse
	if status := a.call(http.MethodPost, "/api/v1/tokens", admin.TokenRequest{APIKey: key}, &tr); status != http.StatusCreated {
		e.t.Fatalf("exchange API key: %d", status)
	}
	a.token = tr.Token
	return a
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil); it returns the status.
func (a *adminClient) call(method, path string, in, out any) int {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		a.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
	cliDir  string
)

// cli runs the dirbridge command against the admin API at a.base with a's
// API key, as an operator would, and returns its combined output.
func (a *adminClient) cli(args ...string) (string, error) {
	a.t.Helper()
	cliOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			cliErr = err
			return
		}
		if cliDir, err = os.MkdirTemp("", "dirbridge-signin-cli-"); err != nil {
			cliErr = err
			return
		}
		mainTB.Cleanup(func() { _ = os.RemoveAll(cliDir) })
		cliPath = filepath.Join(cliDir, "dirbridge")
		out, err := exec.Command(goBin, "build", "-o", cliPath, "github.com/dirbridge/dirbridge/cmd/dirbridge").CombinedOutput()
		if err != nil {
			cliErr = &buildError{out: string(out), err: err}
		}
	})
	if cliErr != nil {
		a.t.Fatalf("build the dirbridge command: %v", cliErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliPath, append(args, "--server", a.base)...)
	cmd.Env = append(os.Environ(), "DIRBRIDGE_API_KEY="+a.key, "DIRBRIDGE_TOKEN=", "XDG_CACHE_HOME="+cliDir)
	if a.caFile != "" {
		// Go reads the trusted roots from SSL_CERT_FILE on Linux.
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+a.caFile)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
