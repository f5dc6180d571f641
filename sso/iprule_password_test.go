package sso

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// TestIPRuleHidesPassword: from a denied network a right password gets
// exactly the answer of a wrong one, on the password and the bypass
// paths, so the refusal confirms nothing; the audit log records the IP
// rule. The SSO path keeps its clear message.
func TestIPRuleHidesPassword(t *testing.T) {
	for _, enforce := range []bool{false, true} {
		name := "password path"
		if enforce {
			name = "bypass path"
		}
		t.Run(name, func(t *testing.T) {
			m := &fakeMethod{}
			e := newEnv(t, func(o *Options) {
				rule, err := policy.ParseIPRule("quarantine", true, "deny", []string{"10.66.0.0/16"}, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				o.IPRules = []policy.IPRule{rule}
				o.Enforce, o.Methods = enforce, []RedirectMethod{m}
			})
			m.fin = e.svc
			e.profile("Supervisor", PrivBypassSSO)
			e.user(store.User{Username: "sup", UPN: "sup@corp.example", Profile: "Supervisor"}, adminPW)
			denied := map[string]string{"X-Forwarded-For": "10.66.1.2"}

			wrong := e.login(e.client(), "sup", "Not-the-passw0rd", enforce, denied)
			if ev := e.lastAudit(ActionSignIn); ev.Outcome != store.OutcomeFailure || ev.Reason != "wrong password" {
				t.Fatalf("wrong password: audit %q %q", ev.Outcome, ev.Reason)
			}
			right := e.login(e.client(), "sup", adminPW, enforce, denied)
			if right.status != http.StatusUnauthorized || right.status != wrong.status {
				t.Fatalf("right password from a denied network: %d, wrong one: %d", right.status, wrong.status)
			}
			if !strings.Contains(right.body, genericFailure) || right.body != wrong.body {
				t.Fatalf("the answers differ:\nright password:\n%s\nwrong password:\n%s", right.body, wrong.body)
			}
			if strings.Contains(right.body, "network address") {
				t.Fatalf("the answer names the network:\n%s", right.body)
			}
			ev := e.lastAudit(ActionSignIn)
			if ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, `denied by IP rule "quarantine"`) || ev.SourceIP != "10.66.1.2" {
				t.Errorf("audit: outcome %q reason %q ip %q", ev.Outcome, ev.Reason, ev.SourceIP)
			}
			if n := len(e.audits(ActionSignIn)); n != 2 {
				t.Errorf("%d sign-in audit events, want 2", n)
			}

			// The IdP authenticated the person: the reason is given.
			r := e.do(e.client(), http.MethodGet, "/fake/callback?upn=sup@corp.example", nil, denied)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "network address is not allowed") {
				t.Fatalf("SSO from a denied network: %d\n%s", r.status, r.body)
			}
		})
	}
}
