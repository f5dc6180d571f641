package signine2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// TestBypass: with SSO enforced, AD pass-through is open only on the
// bypass path and only to users whose profile holds bypass_sso; every
// bypass is audited.
func TestBypass(t *testing.T) {
	e := newEnv(t, "signin-bypass", []adUser{{name: "by-agent"}, {name: "by-sup", supervisor: true}}, lockoutYAML)
	// sso.enforce as the config sets it (its validation wants an IdP
	// configured; none is needed for the bypass path).
	cfg := *e.cfg
	cfg.SSO.Enforce = true
	web, _ := e.serve(e.ssoOptionsFrom(&cfg, hasher(t)))
	bypassLogin := func(c *browser, name, pw string) result {
		return c.post("/login", url.Values{"username": {name}, "password": {pw}, "return_to": {"/app"}, "bypass-sso": {"1"}})
	}

	t.Run("the login page offers no password outside the bypass path", func(t *testing.T) {
		c := newBrowser(t, web.URL)
		if page := c.get("/login"); strings.Contains(page.body, `name="password"`) {
			t.Errorf("enforced login page has a password field:\n%s", page.body)
		}
		if page := c.get("/login?bypass-sso=1"); !strings.Contains(page.body, `name="password"`) || !strings.Contains(page.body, `name="bypass-sso" value="1"`) {
			t.Errorf("bypass page: %d\n%s", page.status, page.body)
		}
		res := c.login("by-sup", adPassword)
		if res.status != http.StatusForbidden || c.signedIn() {
			t.Fatalf("password sign-in outside the bypass path: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "by-sup"); ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "outside the bypass path") {
			t.Errorf("audit: outcome %q reason %q", ev.Outcome, ev.Reason)
		}
	})
	t.Run("without bypass_sso", func(t *testing.T) {
		c := newBrowser(t, web.URL)
		res := bypassLogin(c, "by-agent", adPassword)
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) || c.signedIn() {
			t.Fatalf("bypass by an agent: %d\n%s", res.status, res.body)
		}
		ev := e.lastAudit(sso.ActionSignIn, "by-agent")
		if ev.Outcome != store.OutcomeDenied || ev.Reason != "bypass refused: user lacks bypass_sso" || ev.Details["method"] != sso.MethodBypass {
			t.Errorf("audit: %+v", ev)
		}
	})
	t.Run("with bypass_sso", func(t *testing.T) {
		if res := bypassLogin(newBrowser(t, web.URL), "by-sup", "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized {
			t.Fatalf("bypass with a wrong password: %d", res.status)
		}
		if l := e.lockout("by-sup"); l.FailedAttempts != 1 {
			t.Errorf("a wrong password on the bypass path did not count: %+v", l)
		}
		c := newBrowser(t, web.URL)
		if res := bypassLogin(c, "by-sup", adPassword); !wentThrough(res) {
			t.Fatalf("bypass by a supervisor: %d\n%s", res.status, res.body)
		}
		var me sso.Me
		if res := c.get("/api/v1/me"); res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &me) != nil || !me.Bypass || me.Method != sso.MethodBypass {
			t.Errorf("session: %d %s", res.status, res.body)
		}
		ev := e.lastAudit(sso.ActionSignIn, "by-sup")
		if ev.Outcome != store.OutcomeSuccess || ev.Details["bypass"] != true {
			t.Errorf("audit: %+v", ev)
		}
	})
}

// TestThrottle: the per-address throttle answers 429 once an address has
// spent its burst, whatever the usernames; other addresses are not
// affected, throttled attempts reach neither AD nor the lock-out count,
// and behind a trusted proxy each client has its own bucket.
func TestThrottle(t *testing.T) {
	// One attempt a minute after a burst of 3: nothing refills in a test.
	e := newEnv(t, "signin-throttle", []adUser{{name: "th-user"}, {name: "th-other"}}, `server: {trusted_proxies: ["`+ipProxy+`"]}
policy:
  lockout: {max_attempts: 10, within: 15m, lock_for: 30m}
  throttle: {per_minute: 1, burst: 3}
`)
	web, _ := e.serve(e.ssoOptions(hasher(t)))

	spray := newBrowserFrom(t, web.URL, "127.0.0.31")
	for _, name := range []string{"th-user", "th-other", "th-user"} {
		if res := spray.login(name, "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt within the burst: %d", res.status)
		}
	}
	res := spray.login("th-other", adPassword)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || spray.signedIn() {
		t.Fatalf("attempt past the burst: %d %v\n%s", res.status, res.header, res.body)
	}
	if ev := e.lastAudit(sso.ActionSignIn, "th-other"); ev.Outcome != store.OutcomeDenied || !strings.HasPrefix(ev.Reason, "throttled") || ev.SourceIP != "127.0.0.31" {
		t.Errorf("throttle audit: %+v", ev)
	}
	if l := e.lockout("th-other"); l.FailedAttempts != 1 {
		t.Errorf("lock-out of th-other: %+v, want only the one checked attempt", l)
	}
	if res := newBrowserFrom(t, web.URL, "127.0.0.32").login("th-other", adPassword); !wentThrough(res) {
		t.Errorf("sign-in from another address: %d\n%s", res.status, res.body)
	}

	// Behind the trusted proxy the client's own address is the key: one
	// client spending its burst does not throttle the next.
	proxy := proxyFrom(t, web.URL, ipProxy)
	a := newBrowserFrom(t, proxy.URL, "127.0.0.33")
	for range 3 {
		a.login("th-user", "Not-The-Passw0rd!")
	}
	if res := a.login("th-user", adPassword); res.status != http.StatusTooManyRequests {
		t.Errorf("client past its burst behind the proxy: %d", res.status)
	}
	if res := newBrowserFrom(t, proxy.URL, "127.0.0.34").login("th-user", adPassword); !wentThrough(res) {
		t.Errorf("another client behind the same proxy: %d\n%s", res.status, res.body)
	}
}
