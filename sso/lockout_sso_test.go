package sso

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// With SSO enforced, nobody can lock an account out of SSO by posting
// wrong passwords to the bypass path: an account without bypass rights is
// refused before anything is counted.
func TestBypassPathCannotLockOthersOut(t *testing.T) {
	e := bypassEnv(t, true)
	ctx := context.Background()
	alice, _ := e.st.GetUserByUsername(ctx, "alice")
	for i := range 10 {
		r := e.login(e.client(), "alice", "guess-"+strings.Repeat("x", i), true, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, genericFailure) {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	if l, err := e.st.GetLockout(ctx, alice.ID); !errors.Is(err, store.ErrNotFound) && (err != nil || l.FailedAttempts != 0 || !l.LockedUntil.IsZero()) {
		t.Fatalf("the bypass path counted alice's attempts: %+v %v", l, err)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Reason != "bypass refused: user lacks bypass_sso" {
		t.Errorf("audit reason %q", ev.Reason)
	}
	// alice still signs in through her IdP.
	if r := e.do(e.client(), http.MethodGet, "/fake/callback?email=alice@example.com", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("IdP sign-in after the attempts: %d\n%s", r.status, r.body)
	}
	// The bypass account itself still counts toward its lock.
	admin, _ := e.st.GetUserByUsername(ctx, "admin")
	e.login(e.client(), "admin", "wrong", true, nil)
	if l, err := e.st.GetLockout(ctx, admin.ID); err != nil || l.FailedAttempts != 1 {
		t.Fatalf("admin's wrong bypass password not counted: %+v %v", l, err)
	}
}

// A lock earned by wrong passwords guards the password; it does not stop
// a person their IdP has just authenticated.
func TestPasswordLockDoesNotBlockIdPSignIn(t *testing.T) {
	e := bypassEnv(t, false)
	for range 5 {
		e.login(e.client(), "alice", "wrong", false, nil)
	}
	if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("locked password sign-in: %d", r.status)
	}
	if r := e.do(e.client(), http.MethodGet, "/fake/callback?email=alice@example.com", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("IdP sign-in of a password-locked account: %d\n%s", r.status, r.body)
	}
}
