package sso

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	addrs, err := policy.ParseAddresses([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	officeOnly := []policy.IPRule{{Name: "office", Active: true, Effect: policy.Allow, Addresses: addrs}}
	active := store.User{Username: "ann", State: store.StateActive}
	with := func(f func(*store.User)) store.User { u := active; f(&u); return u }
	office, home := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("203.0.113.9")

	cases := []struct {
		name     string
		in       gateInput
		kind     gateKind
		reason   string
		warnDays int
	}{
		{"active user", gateInput{User: active}, gateAllow, "", 0},
		{"inactive", gateInput{User: with(func(u *store.User) { u.State = store.StateInactive })}, gateRefuse, "user inactive", 0},
		{"account expired", gateInput{User: with(func(u *store.User) { u.AccountExpiresAt = now })}, gateRefuse, "account expired at", 0},
		{"account expires later", gateInput{User: with(func(u *store.User) { u.AccountExpiresAt = now.Add(time.Second) })}, gateAllow, "", 0},
		{"emergency expired", gateInput{User: with(func(u *store.User) { u.Emergency, u.ExpiresAt = true, now.Add(-time.Second) })}, gateRefuse, "emergency account expired", 0},
		{"expiry only binds the emergency account", gateInput{User: with(func(u *store.User) { u.ExpiresAt = now.Add(-time.Second) })}, gateAllow, "", 0},
		{"from the office", gateInput{User: active, Rules: officeOnly, IP: office}, gateAllow, "", 0},
		{"from home", gateInput{User: active, Rules: officeOnly, IP: home}, gateRefuse, "IP address not allowed", 0},
		{"from home with privileged_ip_access", gateInput{User: active, Rules: officeOnly, IP: home, Privileges: []string{PrivPrivilegedIP}}, gateAllow, "", 0},
		{"inactive wins over the IP rule", gateInput{User: with(func(u *store.User) { u.State = store.StateInactive }), Rules: officeOnly, IP: home}, gateRefuse, "user inactive", 0},
		{"must change, password sign-in", gateInput{User: with(func(u *store.User) { u.MustChangePassword = true }), Password: true}, gateOfferChange, "must be changed", 0},
		{"directory says must change", gateInput{User: active, Password: true, MustChange: true}, gateOfferChange, "must be changed", 0},
		{"must change after an IdP sign-in: the IdP owns the prompt", gateInput{User: with(func(u *store.User) { u.MustChangePassword = true })}, gateAllow, "", 0},
		{"expired, password sign-in", gateInput{User: with(func(u *store.User) { u.PasswordExpiresAt = now.Add(-time.Hour) }), Password: true, WarnDays: 7}, gateOfferChange, "password expired at", 0},
		{"expired but just changed", gateInput{User: with(func(u *store.User) { u.PasswordExpiresAt = now.Add(-time.Hour) }), Password: true, Changed: true, WarnDays: 7}, gateAllow, "", 0},
		{"expires in 3 days: warning", gateInput{User: with(func(u *store.User) { u.PasswordExpiresAt = now.Add(72 * time.Hour) }), WarnDays: 7}, gateAllow, "", 3},
		{"expires in 3 days, never-expires flag", gateInput{User: with(func(u *store.User) {
			u.PasswordExpiresAt, u.PasswordNeverExpires = now.Add(72*time.Hour), true
		}), WarnDays: 7}, gateAllow, "", 0},
		{"expires in 10 days: outside the window", gateInput{User: with(func(u *store.User) { u.PasswordExpiresAt = now.Add(240 * time.Hour) }), WarnDays: 7}, gateAllow, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now = now
			g := decide(tc.in)
			if g.Kind != tc.kind || (tc.reason == "" && g.Reason != "") || !strings.Contains(g.Reason, tc.reason) {
				t.Fatalf("decide = %+v, want kind %d reason %q", g, tc.kind, tc.reason)
			}
			if g.Kind == gateRefuse && g.Public == "" {
				t.Errorf("a refusal needs a public message")
			}
			if g.Warn != (tc.warnDays > 0) || g.WarnDays != tc.warnDays {
				t.Errorf("warning %v %d, want %d days", g.Warn, g.WarnDays, tc.warnDays)
			}
		})
	}
}
