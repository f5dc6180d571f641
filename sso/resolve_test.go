package sso

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// TestResolveRefusesClaimTakeover pins the guards against nOAuth-style
// takeovers: an IdP account whose mutable claims name someone else's
// account must not sign in as that account.
func TestResolveRefusesClaimTakeover(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) { o.Methods = []RedirectMethod{m} })
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	e.profile("Admins", "grant_all")
	e.profile("Bypass", "bypass_sso")
	e.user(store.User{Username: "olivia", UPN: "olivia@corp.example", Email: "olivia@example.com", Profile: "Agent"}, "")
	e.user(store.User{Username: "root", UPN: "root@corp.example", Email: "root@example.com", Superuser: true}, "")
	e.user(store.User{Username: "granter", UPN: "granter@corp.example", Email: "granter@example.com", Profile: "Admins"}, "")
	e.user(store.User{Username: "bypasser", Email: "bypasser@example.com", Profile: "Bypass"}, "")
	e.user(store.User{Username: "break-glass", UPN: "break-glass@corp.example", Emergency: true}, "")

	refused := []struct {
		name, query, passedOver string
	}{
		{"unverified e-mail", "email=olivia@example.com&email_verified=false&link=evil-1", "not verified"},
		{"superuser by verified e-mail", "email=root@example.com&link=evil-2", "root is privileged"},
		{"grant_all by e-mail", "email=granter@example.com&link=evil-3", "granter is privileged"},
		{"bypass_sso by username", "username=bypasser&link=evil-4", "bypasser is privileged"},
		{"bypass_sso by NameID", "nameid=bypasser&link=evil-5", "bypasser is privileged"},
		{"emergency by UPN", "upn=break-glass@corp.example&link=evil-6", "break-glass is the emergency account"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(e.client(), http.MethodGet, "/fake/callback?"+tc.query, nil, nil)
			ev := e.lastAudit(ActionSignIn)
			if r.status != http.StatusForbidden || ev.Outcome != store.OutcomeDenied || ev.Target != "" {
				t.Fatalf("%d %+v", r.status, ev)
			}
			po, _ := ev.Details["passed_over"].([]any)
			if !strings.Contains(strings.Join(anyStrings(po), "; "), tc.passedOver) {
				t.Errorf("passed_over %v, want it to mention %q", ev.Details["passed_over"], tc.passedOver)
			}
		})
	}

	// A protected account is still matched by the keys nobody but the
	// directory sets.
	if r := e.do(e.client(), http.MethodGet, "/fake/callback?upn=root@corp.example&link=root-sub", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("superuser by UPN: %d\n%s", r.status, r.body)
	}
}

func TestResolveLinksSubject(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) { o.Methods = []RedirectMethod{m} })
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	adele := e.user(store.User{Username: "adele", UPN: "adele@corp.example", Profile: "Agent"}, "")
	alex := e.user(store.User{Username: "alex", UPN: "alex@corp.example", Profile: "Agent"}, "")
	ctx := context.Background()

	signIn := func(query string) (result, store.AuditEvent) {
		r := e.do(e.client(), http.MethodGet, "/fake/callback?"+query, nil, nil)
		return r, e.lastAudit(ActionSignIn)
	}

	// First sign-in matches by UPN and binds the subject.
	r, ev := signIn("upn=adele@corp.example&link=sub-adele")
	if r.status != http.StatusSeeOther || ev.Details["idp_linked"] != true || ev.Details["key_matched"] != KeyUPN {
		t.Fatalf("first sign-in: %d %+v", r.status, ev.Details)
	}
	links, err := e.st.ListIdPLinks(ctx, adele.ID)
	if err != nil || len(links) != 1 || links[0].Subject != "sub-adele" || links[0].Issuer != "https://idp.test" {
		t.Fatalf("links %+v %v", links, err)
	}

	// Later sign-ins follow the link, whatever the claims now say: a
	// renamed UPN still reaches adele, and a UPN claim naming alex does
	// not turn adele's IdP account into alex.
	for _, q := range []string{"upn=adele.new@corp.example&link=sub-adele", "upn=alex@corp.example&link=sub-adele"} {
		r, ev = signIn(q)
		if r.status != http.StatusSeeOther || ev.Target != adele.ID || ev.Details["key_matched"] != keyIdPLink {
			t.Fatalf("%s: %d user %q %+v", q, r.status, ev.Target, ev.Details)
		}
	}

	// Another subject carrying adele's UPN is another person.
	r, ev = signIn("upn=adele@corp.example&link=sub-mallory")
	if r.status != http.StatusForbidden || !strings.Contains(ev.Reason, "subject for this user changed") {
		t.Fatalf("subject change: %d %q", r.status, ev.Reason)
	}

	// A linked subject whose user is inactive is refused, never passed on
	// to whoever else its claims name.
	adele.State = store.StateInactive
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &adele) }); err != nil {
		t.Fatal(err)
	}
	r, ev = signIn("upn=alex@corp.example&link=sub-adele")
	if r.status != http.StatusForbidden || ev.Details["key_matched"] != nil || ev.Target == alex.ID {
		t.Fatalf("inactive linked user: %d %q %+v", r.status, ev.Target, ev.Details)
	}
}

func anyStrings(v []any) []string {
	out := make([]string, 0, len(v))
	for _, x := range v {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
