package signine2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
)

// TestKerberosSyncedUsers: AD users synced by the real sync sign in with
// a Kerberos ticket (gokrb5's client, SSO enforced, sso.kerberos built by
// internal/wire from the config) and land as their synced users with the
// profiles their groups map to, as /auth/verify tells a proxy. A ticket
// issued before the account was disabled in AD and synced is refused.
func TestKerberosSyncedUsers(t *testing.T) {
	const spn = "HTTP/kb.example.test"
	ktFile := filepath.Join(t.TempDir(), "http.keytab")
	e := newEnv(t, "signin-kerberos", []adUser{{name: "kb-agent"}, {name: "kb-sup", supervisor: true}}, fmt.Sprintf(`server: {public_url: "http://kb.example.test"}
sso:
  enforce: true
  kerberos:
    keytab_file: %q
    service_principal: %s@EXAMPLE.TEST
    realms: [{realm: EXAMPLE.TEST}]
    on_login: true
`, ktFile, spn))
	s := e.samba
	svcDN := s.AddUser(t, s.AddOU(t, "signin-kerberos"), harness.SambaUser{Name: "kb-svc-http", Password: adPassword})
	s.Replace(t, svcDN, "msDS-SupportedEncryptionTypes", "24")
	s.Tool(t, "spn", "add", spn, "kb-svc-http")
	s.ExportKeytab(t, ktFile, spn)

	svc, err := wire.SSO(e.cfg, wire.SSODeps{Store: e.st, Logger: testLogger(t), Hasher: hasher(t)})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(svc)
	t.Cleanup(web.Close)
	krb5, err := krbconfig.NewFromString(s.KRB5Conf())
	if err != nil {
		t.Fatal(err)
	}
	tickets := map[string]*krbclient.Client{}
	negotiate := func(name string) http.Header {
		t.Helper()
		cl := tickets[name]
		if cl == nil {
			cl = krbclient.NewWithPassword(name, s.Realm, adPassword, krb5, krbclient.DisablePAFXFAST(true))
			if err := cl.Login(); err != nil {
				t.Fatalf("kerberos login as %s: %v", name, err)
			}
			t.Cleanup(cl.Destroy)
			tickets[name] = cl
		}
		r, _ := http.NewRequest(http.MethodGet, web.URL, nil)
		if err := spnego.SetSPNEGOHeader(cl, r, spn); err != nil {
			t.Fatalf("SPNEGO for %s: %v", name, err)
		}
		return r.Header
	}

	for name, profile := range map[string]string{"kb-agent": profAgent, "kb-sup": profSupervisor} {
		b := newBrowser(t, web.URL)
		if r := b.get("/login"); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != "Negotiate" {
			t.Fatalf("/login without a ticket: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if r := b.do(http.MethodGet, "/login?return_to=/app", nil, negotiate(name)); r.status != http.StatusSeeOther {
			t.Fatalf("%s: Kerberos sign-in answered %d: %s", name, r.status, r.body)
		}
		v := b.get("/auth/verify")
		if v.status != http.StatusOK || v.header.Get("X-Dirbridge-User") != name || v.header.Get("X-Dirbridge-Profile") != profile {
			t.Fatalf("%s: verify %d user %q profile %q", name, v.status, v.header.Get("X-Dirbridge-User"), v.header.Get("X-Dirbridge-Profile"))
		}
		ev := e.lastAudit("sso.signin", name)
		if ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != "kerberos" || ev.Details["bypass"] != false {
			t.Fatalf("%s: audit %+v", name, ev)
		}
	}

	// Disabled in AD, then synced: the ticket kb-agent still holds (issued
	// before) no longer signs them in.
	s.Replace(t, e.dns["kb-agent"], "userAccountControl", "514")
	e.sync()
	if u := e.user("kb-agent"); u.State != store.StateInactive {
		t.Fatalf("sync left kb-agent %s", u.State)
	}
	b := newBrowser(t, web.URL)
	if r := b.do(http.MethodGet, "/kerberos/login", nil, negotiate("kb-agent")); r.status != http.StatusForbidden {
		t.Fatalf("disabled: %d, want 403", r.status)
	}
	ev := e.lastAudit("sso.signin", "")
	if ev.Outcome == store.OutcomeSuccess || !strings.Contains(ev.Reason, "account_disabled") {
		t.Fatalf("disabled: audit %+v", ev)
	}
}
