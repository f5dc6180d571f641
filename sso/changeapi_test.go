package sso

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// TestChangeOwnPassword is the change the admin API offers a signed-in
// caller: wrong current passwords count toward lock-out as sign-ins do,
// the local policy refuses with its rule messages (history included), and
// a good change stores a new hash that signs in.
func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Lockout = policy.LockoutPolicy{MaxAttempts: 3, Within: o.Lockout.Within, LockFor: o.Lockout.LockFor}
		o.Password = policy.PasswordPolicy{MinLength: 10, MinDigits: 1, History: 2}
	})
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.10")
	u := e.user(store.User{Username: "carol"}, alicePW)

	err := e.svc.ChangeOwnPassword(ctx, u.ID, "Wrong-passw0rd", "Another-passw0rd1", ip)
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong current password: %v", err)
	}
	if l, _ := e.st.GetLockout(ctx, u.ID); l.FailedAttempts != 1 {
		t.Errorf("failed attempts %d after a wrong current password, want 1", l.FailedAttempts)
	}
	err = e.svc.ChangeOwnPassword(ctx, u.ID, alicePW, "short", ip)
	msg, refused := RefusalMessage(err)
	if !refused || !strings.Contains(msg, "at least 10 characters") {
		t.Fatalf("short password: %v (%q)", err, msg)
	}
	if _, refused := RefusalMessage(e.svc.ChangeOwnPassword(ctx, u.ID, alicePW, alicePW, ip)); !refused {
		t.Fatal("the current password accepted as the new one")
	}
	if err := e.svc.ChangeOwnPassword(ctx, u.ID, alicePW, "Brand-new-passw0rd", ip); err != nil {
		t.Fatalf("change: %v", err)
	}
	if r := e.login(e.client(), "carol", "Brand-new-passw0rd", false, nil); r.status != 303 {
		t.Fatalf("sign-in with the new password: %d\n%s", r.status, r.body)
	}
	// The password just replaced is in the history.
	if _, refused := RefusalMessage(e.svc.ChangeOwnPassword(ctx, u.ID, "Brand-new-passw0rd", alicePW, ip)); !refused {
		t.Fatal("the previous password chosen again")
	}
	// Three wrong current passwords lock the account; then even the right
	// one is refused as wrong.
	for range 3 {
		_ = e.svc.ChangeOwnPassword(ctx, u.ID, "Wrong-passw0rd", "Another-passw0rd1", ip)
	}
	err = e.svc.ChangeOwnPassword(ctx, u.ID, "Brand-new-passw0rd", "Another-passw0rd1", ip)
	if !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked account: %v", err)
	}
}
