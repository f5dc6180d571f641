package signine2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// Loopback addresses the clients and proxies dial from (all of 127/8 is
// loopback on Linux), so the server sees real, distinct peers.
const (
	ipOffice     = "127.0.0.20" // inside the allow rule's range
	ipQuarantine = "127.0.0.66" // denied
	ipElsewhere  = "127.0.0.77" // matches no rule
	ipProxy      = "127.0.0.9"  // the trusted proxy
	ipOtherProxy = "127.0.0.78" // a proxy nobody configured
)

const ipRulesYAML = `server:
  trusted_proxies: ["` + ipProxy + `"]
policy:
  ip_rules:
    - {name: quarantine, state: active, effect: deny, addresses: ["` + ipQuarantine + `"]}
    - {name: office, state: active, effect: allow, addresses: ["127.0.0.1-127.0.0.50", "10.20.*.*"]}
    - {name: retired, state: inactive, effect: allow, addresses: ["127.0.0.0/8"]}
    - {name: v6-lab, state: active, effect: deny, addresses: ["::1"]}
    - {name: v6-office, state: active, effect: allow, addresses: ["2001:db8::/32"]}
`

// TestIPRules drives the IP authorisation rules through the finish step
// with real client addresses: a deny rule refuses, an allow rule admits,
// an address no allow rule lists is refused, a privileged_ip_access
// profile gets in from anywhere, and X-Forwarded-For counts only when a
// trusted proxy sends it. A password sign-in refused by a rule gets the
// very answer of a wrong password (a right AD password is not confirmed
// to a denied network); an IdP sign-in is told why.
func TestIPRules(t *testing.T) {
	e := newEnv(t, "signin-iprules", []adUser{{name: "ip-agent"}, {name: "ip-sup", supervisor: true}}, ipRulesYAML)
	web, _ := e.serve(e.ssoOptions(hasher(t)))

	admitted := func(t *testing.T, c *browser, name, wantIP, wantRule string) {
		t.Helper()
		res := c.login(name, adPassword)
		if !wentThrough(res) || !c.signedIn() {
			t.Fatalf("%s from %s: %d, want signed in:\n%s", name, wantIP, res.status, res.body)
		}
		ev := e.lastAudit(sso.ActionSignIn, name)
		if ev.Outcome != store.OutcomeSuccess || ev.SourceIP != wantIP || !strings.Contains(fmt.Sprint(ev.Details["ip_rule"]), wantRule) {
			t.Errorf("%s: audit outcome %q ip %q ip_rule %v, want %s and %q", name, ev.Outcome, ev.SourceIP, ev.Details["ip_rule"], wantIP, wantRule)
		}
	}
	refused := func(t *testing.T, c *browser, name, wantIP, wantReason string) {
		t.Helper()
		wrong := c.login(name, "Not-The-Passw0rd!")
		res := c.login(name, adPassword)
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) || strings.Contains(res.body, "network address") {
			t.Fatalf("%s from %s: %d, want the wrong-password answer:\n%s", name, wantIP, res.status, res.body)
		}
		if res.status != wrong.status || res.body != wrong.body {
			t.Fatalf("%s from %s: the right password is answered unlike a wrong one:\n%s\n---\n%s", name, wantIP, res.body, wrong.body)
		}
		if c.signedIn() {
			t.Errorf("%s: a session after the refusal", name)
		}
		ev := e.lastAudit(sso.ActionSignIn, name)
		if ev.Outcome != store.OutcomeDenied || ev.SourceIP != wantIP || !strings.Contains(ev.Reason, wantReason) {
			t.Errorf("%s: audit outcome %q ip %q reason %q, want %s and %q", name, ev.Outcome, ev.SourceIP, ev.Reason, wantIP, wantReason)
		}
	}

	t.Run("deny rule refuses", func(t *testing.T) {
		refused(t, newBrowserFrom(t, web.URL, ipQuarantine), "ip-agent", ipQuarantine, `denied by IP rule "quarantine"`)
	})
	t.Run("allow rule admits", func(t *testing.T) {
		admitted(t, newBrowserFrom(t, web.URL, ipOffice), "ip-agent", ipOffice, `allowed by IP rule "office"`)
	})
	t.Run("no allow rule lists the address", func(t *testing.T) {
		refused(t, newBrowserFrom(t, web.URL, ipElsewhere), "ip-agent", ipElsewhere, `matches none of the IP rules allowing this user ("office", "v6-office")`)
	})
	t.Run("redirect methods are checked too", func(t *testing.T) {
		c := newBrowserFrom(t, web.URL, ipQuarantine)
		res := c.get("/test-idp/callback?upn=ip-agent@example.test")
		if res.status != http.StatusForbidden || c.signedIn() {
			t.Fatalf("IdP sign-in from a denied address: %d\n%s", res.status, res.body)
		}
		c = newBrowserFrom(t, web.URL, ipOffice)
		if res := c.get("/test-idp/callback?upn=ip-agent@example.test"); res.status != http.StatusSeeOther || !c.signedIn() {
			t.Fatalf("IdP sign-in from an allowed address: %d\n%s", res.status, res.body)
		}
	})
	t.Run("privileged_ip_access signs in from anywhere", func(t *testing.T) {
		admitted(t, newBrowserFrom(t, web.URL, ipQuarantine), "ip-sup", ipQuarantine, "privileged_ip_access")
		admitted(t, newBrowserFrom(t, web.URL, ipElsewhere), "ip-sup", ipElsewhere, "privileged_ip_access")
	})

	// Two reverse proxies in front of the server, as nginx would be: one
	// listed in server.trusted_proxies, one not. Each dials the server
	// from its own address and appends the client's to X-Forwarded-For.
	trusted := proxyFrom(t, web.URL, ipProxy)
	other := proxyFrom(t, web.URL, ipOtherProxy)
	forged := http.Header{"X-Forwarded-For": {ipOffice}}

	t.Run("X-Forwarded-For from the trusted proxy", func(t *testing.T) {
		refused(t, newBrowserFrom(t, trusted.URL, ipQuarantine), "ip-agent", ipQuarantine, `denied by IP rule "quarantine"`)
		admitted(t, newBrowserFrom(t, trusted.URL, ipOffice), "ip-agent", ipOffice, `allowed by IP rule "office"`)
		// A client's own X-Forwarded-For is left of what the proxy
		// appends, so it is not believed even through the trusted proxy.
		c := newBrowserFrom(t, trusted.URL, ipQuarantine)
		res := c.do(http.MethodPost, "/login", loginForm("ip-agent"), forged)
		if res.status != http.StatusUnauthorized || c.signedIn() {
			t.Fatalf("forged X-Forwarded-For through the trusted proxy: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "ip-agent"); ev.SourceIP != ipQuarantine {
			t.Errorf("forged X-Forwarded-For: audit source %q, want %s", ev.SourceIP, ipQuarantine)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		// The same service listening on ::1 as well: the v6 deny rule.
		ln, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Fatalf("listen on ::1: %v", err)
		}
		h, _ := e.handler(e.ssoOptions(hasher(t)))
		v6 := httptest.NewUnstartedServer(h)
		v6.Listener = ln
		v6.Start()
		t.Cleanup(v6.Close)
		refused(t, newBrowser(t, v6.URL), "ip-agent", "::1", `denied by IP rule "v6-lab"`)
		// An IPv6 client behind the trusted proxy (the proxy's own
		// request, sent here from its address with its header).
		c := newBrowserFrom(t, web.URL, ipProxy)
		res := c.do(http.MethodPost, "/login", loginForm("ip-agent"), http.Header{"X-Forwarded-For": {"2001:db8::5"}})
		if !wentThrough(res) {
			t.Fatalf("IPv6 client through the trusted proxy: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "ip-agent"); ev.SourceIP != "2001:db8::5" || !strings.Contains(fmt.Sprint(ev.Details["ip_rule"]), `"v6-office"`) {
			t.Errorf("audit: ip %q rule %v", ev.SourceIP, ev.Details["ip_rule"])
		}
	})
	t.Run("X-Forwarded-For from anyone else is ignored", func(t *testing.T) {
		// Straight to the server with a forged header.
		c := newBrowserFrom(t, web.URL, ipQuarantine)
		if res := c.do(http.MethodPost, "/login", loginForm("ip-agent"), forged); res.status != http.StatusUnauthorized || c.signedIn() {
			t.Fatalf("forged X-Forwarded-For from a client: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "ip-agent"); ev.SourceIP != ipQuarantine {
			t.Errorf("forged X-Forwarded-For: audit source %q, want %s", ev.SourceIP, ipQuarantine)
		}
		// Through a proxy that is not trusted: the proxy is the client.
		refused(t, newBrowserFrom(t, other.URL, ipOffice), "ip-agent", ipOtherProxy, "matches none of the IP rules")
	})
}

func loginForm(name string) url.Values {
	return url.Values{"username": {name}, "password": {adPassword}, "return_to": {"/app"}}
}

// proxyFrom starts a reverse proxy to target that connects from localIP
// and, as nginx's proxy_add_x_forwarded_for, appends the client's address
// to X-Forwarded-For.
func proxyFrom(t *testing.T, target, localIP string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}).DialContext
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	srv := httptest.NewServer(rp)
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return srv
}
