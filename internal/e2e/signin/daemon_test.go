package signine2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/internal/e2e/daemontest"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// TestDaemon is the same journey through the whole daemon (daemon.Run on
// the scenario's config file): an AD user signs in with the AD password,
// locks the account with wrong ones, is unlocked by `dirbridge users
// unlock` against the running daemon, and changes the password, which
// lands in AD.
func TestDaemon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	// The daemon terminates TLS itself and takes client certificates.
	dir := t.TempDir()
	serverCA := harness.NewCA(t, dir)
	leaf := serverCA.Issue(t, dir, "daemon")
	clientCA := harness.NewCA(t, t.TempDir())
	e := newEnv(t, "signin-daemon", []adUser{{name: "dm-user"}, {name: "dm-sup", supervisor: true}}, fmt.Sprintf(`server:
  public_url: %q
  tls: {cert_file: %q, key_file: %q}
policy:
  lockout: {max_attempts: 3, within: 15m, lock_for: 30m}
  client_cert: {enabled: true, ca_file: %q, map_by: upn}
`, base, leaf.CertFile, leaf.KeyFile, clientCA.CertFile))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(hc.CloseIdleConnections)

	daemontest.Start(t, daemon.Options{ConfigPath: e.cfgPath, Listener: ln, Logger: testLogger(t)}, base, hc)
	adm := e.newAdminTLS(base, "dm-admin", hc, serverCA.CertFile)
	b := func() *browser { return newTLSBrowser(t, base, serverCA.Pool, nil) }

	if res := b().login("dm-user", adPassword); !wentThrough(res) {
		t.Fatalf("AD pass-through through the daemon: %d\n%s", res.status, res.body)
	}
	for range 3 {
		if res := b().login("dm-user", "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) {
			t.Fatalf("wrong password: %d\n%s", res.status, res.body)
		}
	}
	if res := b().login("dm-user", adPassword); res.status != http.StatusUnauthorized {
		t.Fatalf("right password on the locked account: %d\n%s", res.status, res.body)
	}
	if ev := e.lastAudit(sso.ActionSignIn, "dm-user"); ev.Outcome != store.OutcomeDenied || !strings.HasPrefix(ev.Reason, "account locked until") {
		t.Errorf("audit: outcome %q reason %q", ev.Outcome, ev.Reason)
	}
	if out, err := adm.cli("users", "unlock", "dm-user"); err != nil || !strings.Contains(out, "dm-user: unlock done") {
		t.Fatalf("dirbridge users unlock: %v\n%s", err, out)
	}
	c := b()
	if res := c.login("dm-user", adPassword); !wentThrough(res) {
		t.Fatalf("sign-in after the unlock: %d\n%s", res.status, res.body)
	}

	const newPW = "Daemon-Passw0rd8!"
	res := c.post("/password/change", url.Values{"old_password": {adPassword}, "new_password": {newPW}, "confirm_password": {newPW}})
	if res.status != http.StatusOK || !strings.Contains(res.body, "Your password has been changed.") {
		t.Fatalf("change through the daemon: %d\n%s", res.status, res.body)
	}
	if err := bindAs(t, e.samba, e.dns["dm-user"], newPW); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if res := b().login("dm-user", newPW); !wentThrough(res) {
		t.Errorf("sign-in with the new password: %d\n%s", res.status, res.body)
	}

	// A client certificate whose SAN UPN names the AD user, in the
	// daemon's own TLS handshake.
	cert := clientCert(t, clientCA, "dm-sup", "dm-sup@example.test", "", time.Now().Add(time.Hour))
	cc := newTLSBrowser(t, base, serverCA.Pool, cert)
	if res := cc.get("/login/certificate?return_to=%2Fapp"); !wentThrough(res) || !cc.signedIn() {
		t.Fatalf("certificate sign-in through the daemon: %d\n%s", res.status, res.body)
	}
	if ev := e.lastAudit(sso.ActionSignIn, "dm-sup"); ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != sso.MethodCert {
		t.Errorf("certificate audit: %+v", ev)
	}
}
