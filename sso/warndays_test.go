package sso

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// The warning window is the user's directory's, else the global one.
func TestDirectoryWarnDays(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) {
		o.Methods = []RedirectMethod{m}
		o.ExpiryWarnDays = 5
		o.DirectoryWarnDays = map[string]int{"corp": 14, "quiet": -1, "plain": 0}
	})
	m.fin = e.svc
	in := e.clock.Now().Add(10 * 24 * time.Hour)
	for _, c := range []struct {
		source string
		warn   bool
	}{
		{"corp", true},   // 10 days within corp's 14
		{"quiet", false}, // never warns
		{"plain", false}, // 0: the global 5
		{store.SourceLocal, false},
	} {
		email := c.source + "@example.com"
		e.user(store.User{Username: c.source + "-user", Email: email, Source: c.source, PasswordExpiresAt: in}, "")
		r := e.do(e.client(), http.MethodGet, "/fake/callback?email="+email, nil, nil)
		warned := r.status == http.StatusOK && strings.Contains(r.body, "expires in 10 days")
		if warned != c.warn || (!warned && r.status != http.StatusSeeOther) {
			t.Errorf("%s: status %d warned %v, want warned %v", c.source, r.status, warned, c.warn)
		}
	}
}

// SetIPRules replaces the rules for the next sign-in.
func TestSetIPRules(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) { o.Methods = []RedirectMethod{m} })
	m.fin = e.svc
	e.user(store.User{Username: "ann", Email: "ann@example.com"}, "")
	signIn := func() int {
		return e.do(e.client(), http.MethodGet, "/fake/callback?email=ann@example.com", nil, nil).status
	}
	if s := signIn(); s != http.StatusSeeOther {
		t.Fatalf("before: %d", s)
	}
	deny, err := policy.ParseIPRule("deny-all", true, "deny", []string{"*"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetIPRules([]policy.IPRule{deny})
	if s := signIn(); s != http.StatusForbidden {
		t.Fatalf("after deny: %d", s)
	}
	e.svc.SetIPRules(nil)
	if s := signIn(); s != http.StatusSeeOther {
		t.Fatalf("after clearing: %d", s)
	}
}
