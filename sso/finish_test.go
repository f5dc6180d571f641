package sso

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

func TestFinishMatchesIdentity(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) { o.Methods = []RedirectMethod{m}; o.Enforce = true })
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	e.user(store.User{Username: "erin", UPN: "erin@corp.example", Email: "erin@example.com", Profile: "Agent",
		Source: "corp", Anchor: "33221100-5544-7766-8899-aabbccddeeff"}, "")
	e.user(store.User{Username: "frank", Email: "frank@example.com", Profile: "Agent"}, "")
	e.user(store.User{Username: "gone", Email: "gone@example.com", State: store.StateInactive}, "")

	for _, tc := range []struct {
		name, query, user, key string
	}{
		{"upn", "upn=ERIN@corp.example", "erin", KeyUPN},
		{"email", "email=frank@example.com", "frank", KeyEmail},
		// base64 of objectGUID bytes 00 11 22 ... ff (first fields little-endian).
		{"immutable_id", "immutable_id=ABEiM0RVZneImaq7zN3u/w==", "erin", KeyImmutableID},
		{"nameid", "nameid=frank", "frank", KeyNameID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			r := e.do(c, http.MethodGet, "/fake/callback?"+tc.query+"&return_to="+url.QueryEscape("/desk"), nil, nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/desk" {
				t.Fatalf("%d %q\n%s", r.status, r.header.Get("Location"), r.body)
			}
			if r := e.verify(c, ""); r.header.Get("X-Dirbridge-User") != tc.user {
				t.Fatalf("signed in as %q, want %s", r.header.Get("X-Dirbridge-User"), tc.user)
			}
			ev := e.lastAudit(ActionSignIn)
			if ev.Details["key_matched"] != tc.key || ev.Details["idp"] != "https://idp.test" || ev.Details["method"] != "fake" {
				t.Errorf("audit details %+v", ev.Details)
			}
		})
	}

	// Unknown and inactive users: a clear page, an audit record with the
	// claims received.
	for _, q := range []string{"upn=stranger@corp.example&email=stranger@example.com", "email=gone@example.com"} {
		r := e.do(e.client(), http.MethodGet, "/fake/callback?"+q, nil, nil)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "there is no active account for you here") {
			t.Fatalf("%s: %d\n%s", q, r.status, r.body)
		}
		if r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: cookie set", q)
		}
		ev := e.lastAudit(ActionSignIn)
		if ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "no active local user") || ev.Details["claims"] == nil {
			t.Errorf("audit: %+v", ev)
		}
	}

	// Open redirect attempts fall back to "/".
	r := e.do(e.client(), http.MethodGet, "/fake/callback?upn=erin@corp.example&return_to="+url.QueryEscape("https://evil.example/x"), nil, nil)
	if r.header.Get("Location") != "/" {
		t.Errorf("foreign return URL: Location %q", r.header.Get("Location"))
	}

	// A method failing before any identity.
	r = e.do(e.client(), http.MethodGet, "/fake/callback?fail=signature+invalid", nil, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("Fail: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Reason != "signature invalid" || ev.Outcome != store.OutcomeFailure {
		t.Errorf("Fail audit: %+v", ev)
	}

	// The enforced login page with one IdP goes straight there.
	r = e.do(e.client(), http.MethodGet, "/login?return_to=/desk", nil, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/fake/start?return_to=%2Fdesk" {
		t.Errorf("enforced login: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestFinishAmbiguousAndEmergency(t *testing.T) {
	e := newEnv(t, nil)
	e.svc.AddMethod(&fakeMethod{fin: e.svc}) // as the daemon adds sso/saml and sso/oidc
	e.user(store.User{Username: "h1", Email: "shared@example.com"}, "")
	e.user(store.User{Username: "h2", Email: "shared@example.com"}, "")
	r := e.do(e.client(), http.MethodGet, "/fake/callback?email=shared@example.com", nil, nil)
	if r.status != http.StatusForbidden || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "more than one") {
		t.Fatalf("ambiguous: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}

	e.user(store.User{Username: "emergency", Emergency: true, ExpiresAt: e.clock.Now().Add(time.Hour), MustChangePassword: true}, "first-emergency-pw")
	c := e.client()
	r = e.login(c, "emergency", "first-emergency-pw", false, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "must choose a new password") {
		t.Fatalf("emergency first sign-in should force a change: %d\n%s", r.status, r.body)
	}
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {ticketFrom(t, r.body)},
		"old_password": {"first-emergency-pw"}, "new_password": {"second-emergency-pw"}, "confirm_password": {"second-emergency-pw"}}, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("forced change: %d\n%s", r.status, r.body)
	}
	u, _ := e.st.GetUserByUsername(context.Background(), "emergency")
	if u.MustChangePassword || e.h.Verify(context.Background(), u.PasswordHash, "second-emergency-pw") != nil {
		t.Errorf("change not stored: %+v", u.MustChangePassword)
	}
	e.clock.Advance(2 * time.Hour)
	r = e.login(e.client(), "emergency", "second-emergency-pw", false, nil)
	// The same answer as a wrong password: a refusal must not confirm
	// that the password was right; the audit log says why.
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, genericFailure) || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "emergency account expired") {
		t.Fatalf("expired emergency account: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
}

func TestPasswordExpiry(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) {
		o.Methods = []RedirectMethod{m}
		o.Password = policy.PasswordPolicy{History: 2, ValidityDays: 90}
	})
	m.fin = e.svc
	now := e.clock.Now()
	e.user(store.User{Username: "soon", Email: "soon@example.com", PasswordExpiresAt: now.Add(3 * 24 * time.Hour)}, alicePW)
	e.user(store.User{Username: "later", PasswordExpiresAt: now.Add(30 * 24 * time.Hour)}, alicePW)
	e.user(store.User{Username: "expired", PasswordExpiresAt: now.Add(-time.Hour)}, alicePW)

	// Within the window: signed in, warned, offered the change.
	c := e.client()
	r := e.login(c, "soon", alicePW, false, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your password expires in 3 days") || !strings.Contains(r.body, "/password/change") {
		t.Fatalf("warning: %d\n%s", r.status, r.body)
	}
	if r := e.verify(c, ""); r.status != http.StatusOK {
		t.Fatalf("warned user is signed in: %d", r.status)
	}
	// SSO sign-ins are warned too.
	r = e.do(e.client(), http.MethodGet, "/fake/callback?email=soon@example.com", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "expires in 3 days") {
		t.Fatalf("SSO warning: %d", r.status)
	}
	if r := e.login(e.client(), "later", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("outside the window: %d", r.status)
	}

	// Expired: blocked, no session, until the password is changed.
	c = e.client()
	r = e.login(c, "expired", alicePW, false, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your password has expired") || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("expired: %d\n%s", r.status, r.body)
	}
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("expired user got a session: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); !strings.HasPrefix(ev.Reason, "password expired") {
		t.Errorf("audit: %q", ev.Reason)
	}
	tk := ticketFrom(t, r.body)
	// Rules are shown; the new password must follow them.
	if !strings.Contains(r.body, "At least 9 characters.") {
		t.Errorf("rules not shown")
	}
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {alicePW},
		"new_password": {"short"}, "confirm_password": {"short"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "at least 9 characters") {
		t.Fatalf("weak password: %d\n%s", r.status, r.body)
	}
	tk = ticketFrom(t, r.body)
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {"wrong-old-pw"},
		"new_password": {"a-fresh-password"}, "confirm_password": {"a-fresh-password"}}, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "current password is incorrect") {
		t.Fatalf("wrong old password: %d", r.status)
	}
	tk = ticketFrom(t, r.body)
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {alicePW},
		"new_password": {"a-fresh-password"}, "confirm_password": {"a-fresh-password"}, "return_to": {"/ignored"}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app" {
		t.Fatalf("change and continue: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if r := e.verify(c, ""); r.status != http.StatusOK {
		t.Fatalf("signed in after change: %d", r.status)
	}
	u, _ := e.st.GetUserByUsername(context.Background(), "expired")
	if !u.PasswordExpiresAt.After(e.clock.Now().Add(89*24*time.Hour)) || len(u.PasswordHistory) != 1 {
		t.Errorf("after change: expires %v, history %d", u.PasswordExpiresAt, len(u.PasswordHistory))
	}

	// Self-service change: the old password may not come back.
	r = e.do(c, http.MethodGet, "/password/change", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="new_password"`) {
		t.Fatalf("change page: %d", r.status)
	}
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"old_password": {"a-fresh-password"},
		"new_password": {alicePW}, "confirm_password": {alicePW}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "must differ from your last 2 passwords") {
		t.Fatalf("reuse: %d\n%s", r.status, r.body)
	}
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"old_password": {"a-fresh-password"},
		"new_password": {"another-password"}, "confirm_password": {"another-password"}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your password has been changed") {
		t.Fatalf("self-service change: %d\n%s", r.status, r.body)
	}
	if ev := e.lastAudit(ActionPasswordChange); ev.Outcome != store.OutcomeSuccess || ev.Details["self_service"] != true {
		t.Errorf("change audit: %+v", ev)
	}
}

func TestSafeReturnTo(t *testing.T) {
	allowed := []string{"sso.example.com", "app.example.com:8443"}
	for raw, want := range map[string]string{
		"":                                    "/",
		"/":                                   "/",
		"/app?x=1#f":                          "/app?x=1#f",
		"//evil.example/":                     "/",
		"/\\evil.example":                     "/",
		"\\\\evil.example":                    "/",
		"https://evil.example/":               "/",
		"https://sso.example.com/x":           "https://sso.example.com/x",
		"https://SSO.example.com:443/x":       "https://SSO.example.com:443/x",
		"https://app.example.com:8443/a":      "https://app.example.com:8443/a",
		"https://app.example.com/a":           "/",
		"https://user@sso.example.com/":       "/",
		"javascript:alert(1)":                 "/",
		"app":                                 "/",
		"/app\r\nSet-Cookie: x":               "/",
		"https://sso.example.com.evil.test/x": "/",
		"ftp://sso.example.com/":              "/",
	} {
		if got := SafeReturnTo(raw, allowed); got != want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestAnchorFromImmutableID(t *testing.T) {
	for in, want := range map[string]string{
		"ABEiM0RVZneImaq7zN3u/w==":             "33221100-5544-7766-8899-aabbccddeeff",
		"33221100-5544-7766-8899-AABBCCDDEEFF": "33221100-5544-7766-8899-aabbccddeeff",
		"bm90IGEgZ3VpZA==":                     "",
		"%%%":                                  "",
	} {
		if got := anchorFromImmutableID(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
