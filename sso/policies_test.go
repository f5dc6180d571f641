package sso

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// TestSetPoliciesAppliesAtOnce: a reload's lock-out and password policy
// bite on the next request, without a restart.
func TestSetPoliciesAppliesAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.user(store.User{Username: "alice"}, alicePW)
	p := e.svc.Policies()
	p.Lockout = policy.LockoutPolicy{MaxAttempts: 2, Within: time.Hour, LockFor: time.Hour}
	p.Password.MinLength = 30
	e.svc.SetPolicies(p)
	for range 2 {
		if r := e.login(e.client(), "alice", "wrong-password-1", false, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusUnauthorized {
		t.Errorf("after two failures under the reloaded lock-out the account should be locked: %d", r.status)
	}
	if got := policy.Describe(e.svc.policies().Password); !strings.Contains(strings.Join(got, " "), "30") {
		t.Errorf("reloaded password rules %q", got)
	}
}
