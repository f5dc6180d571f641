package sso

import (
	"net/http"
	"testing"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// A session cookie carried to a network the IP rules deny is refused by
// forward auth (and /api/v1/me) as the sign-in would have been; the
// refusal is audited once per address while the decision is cached, a
// user holding privileged_ip_access passes, and a reload of the rules
// takes effect at once.
func TestVerifyAppliesIPRules(t *testing.T) {
	rule, err := policy.ParseIPRule("quarantine", true, "deny", []string{"10.66.0.0/16"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.IPRules = []policy.IPRule{rule} })
	e.profile("Agent", "take_calls")
	e.profile("Roamer", "take_calls", PrivPrivilegedIP)
	e.user(store.User{Username: "alice", Profile: "Agent"}, alicePW)
	e.user(store.User{Username: "rita", Profile: "Roamer"}, adminPW)
	home := map[string]string{"X-Forwarded-For": "192.0.2.10"}
	denied := map[string]string{"X-Forwarded-For": "10.66.1.2"}

	alice := e.client()
	if r := e.login(alice, "alice", alicePW, false, home); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	if r := e.do(alice, http.MethodGet, "/auth/verify", nil, home); r.status != http.StatusOK {
		t.Fatalf("verify from the allowed network: %d", r.status)
	}
	for i := range 3 {
		r := e.do(alice, http.MethodGet, "/auth/verify", nil, denied)
		if r.status != http.StatusForbidden {
			t.Fatalf("verify %d from the denied network: %d", i, r.status)
		}
		if r.header.Get(hdrUser) != "" {
			t.Fatalf("identity headers on a refusal: %v", r.header)
		}
	}
	if r := e.do(alice, http.MethodGet, "/api/v1/me", nil, denied); r.status != http.StatusForbidden {
		t.Fatalf("/api/v1/me from the denied network: %d", r.status)
	}
	evs := e.audits(ActionVerifyIP)
	if len(evs) != 1 {
		t.Fatalf("%d refusals audited, want 1 (cached per address)", len(evs))
	}
	if ev := evs[0]; ev.Outcome != store.OutcomeDenied || ev.Actor != "alice" || ev.SourceIP != "10.66.1.2" {
		t.Fatalf("audit: %+v", ev)
	}
	if r := e.do(alice, http.MethodGet, "/auth/verify", nil, home); r.status != http.StatusOK {
		t.Fatalf("verify from the allowed network again: %d", r.status)
	}

	rita := e.client()
	if r := e.login(rita, "rita", adminPW, false, home); r.status != http.StatusSeeOther {
		t.Fatalf("rita sign-in: %d", r.status)
	}
	if r := e.do(rita, http.MethodGet, "/auth/verify", nil, denied); r.status != http.StatusOK {
		t.Fatalf("privileged_ip_access from the denied network: %d", r.status)
	}

	e.svc.SetIPRules(nil)
	if r := e.do(alice, http.MethodGet, "/auth/verify", nil, denied); r.status != http.StatusOK {
		t.Fatalf("after the rule is removed: %d", r.status)
	}
}
