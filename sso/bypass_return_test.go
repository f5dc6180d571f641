package sso

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// The seed's bypass link is the application's own URL with ?bypass-sso=1.
// Behind forward auth it reaches /login only as the return URL; the login
// page must still offer the bypass form, and the sign-in through it passes
// the same privilege gate and audit as /login?bypass-sso=1.
func TestBypassFromReturnURL(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) {
		o.Enforce, o.Methods = true, []RedirectMethod{m}
		o.AllowedReturnHosts = []string{"app.test"}
	})
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	e.profile("System Administrator", PrivBypassSSO)
	e.user(store.User{Username: "alice", Profile: "Agent"}, alicePW)
	e.user(store.User{Username: "admin", Profile: "System Administrator"}, adminPW)
	const appURL = "http://app.test/admin/?bypass-sso=1"

	// The proxy asks; the answer's login URL carries the app URL.
	r := e.do(e.client(), http.MethodGet, "/auth/verify", nil, map[string]string{"X-Original-URL": appURL})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("verify: %d", r.status)
	}
	login, err := url.Parse(r.header.Get(hdrLoginURL))
	if err != nil || login.Query().Get("return_to") != appURL {
		t.Fatalf("login URL %q", r.header.Get(hdrLoginURL))
	}
	page := e.do(e.client(), http.MethodGet, login.RequestURI(), nil, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, `name="password"`) || !strings.Contains(page.body, `name="bypass-sso" value="1"`) {
		t.Fatalf("login page for a bypass return URL: %d (Location %q), no bypass form:\n%s", page.status, page.header.Get("Location"), page.body)
	}

	// What the form posts: the privileged user gets in, audited as a bypass.
	post := func(user, pw string) result {
		return e.do(e.client(), http.MethodPost, "/login",
			url.Values{"username": {user}, "password": {pw}, "return_to": {appURL}, "bypass-sso": {"1"}}, nil)
	}
	if r := post("admin", adminPW); r.status != http.StatusSeeOther || r.header.Get("Location") != appURL {
		t.Fatalf("bypass sign-in: %d %q", r.status, r.header.Get("Location"))
	}
	if ev := e.lastAudit(ActionSignIn); ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != MethodBypass || ev.Details["bypass"] != true {
		t.Fatalf("audit %+v", ev)
	}
	// Without the privilege: the same gate as /login?bypass-sso=1.
	if r := post("alice", alicePW); r.status != http.StatusUnauthorized {
		t.Fatalf("bypass without the privilege: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "lacks bypass_sso") {
		t.Fatalf("audit %+v", ev)
	}

	// A return URL without the flag, or one not allowed, goes to the IdP.
	for _, rt := range []string{"http://app.test/admin/", "http://evil.test/?bypass-sso=1"} {
		r := e.do(e.client(), http.MethodGet, "/login?"+url.Values{"return_to": {rt}}.Encode(), nil, nil)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/fake/start") {
			t.Errorf("return_to %s: %d %q, want the IdP", rt, r.status, r.header.Get("Location"))
		}
	}
}
