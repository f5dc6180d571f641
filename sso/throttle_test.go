package sso

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// One IPv6 host holds a whole /64: walking through its addresses must not
// give it a fresh bucket per attempt. Another /64 is not slowed.
func TestThrottleKeysIPv6ByPrefix(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Throttle = Throttle{PerMinute: 3, Burst: 3} })
	e.user(store.User{Username: "alice"}, alicePW)
	from := func(a string) map[string]string { return map[string]string{"X-Forwarded-For": a} }
	for i := range 3 {
		if r := e.login(e.client(), fmt.Sprintf("user%d", i), "x", false, from(fmt.Sprintf("2001:db8:1:2::%x", i+1))); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if r := e.login(e.client(), "alice", alicePW, false, from("2001:db8:1:2:ffff::9")); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th attempt from the same /64: %d, want 429", r.status)
	}
	if r := e.login(e.client(), "alice", alicePW, false, from("2001:db8:1:3::1")); r.status != http.StatusSeeOther {
		t.Fatalf("another /64: %d", r.status)
	}
}

func TestSourceKey(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7/32"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 0, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
	} {
		if got := sourceKey(netip.MustParseAddr(tc.ip), tc.bits).String(); got != tc.want {
			t.Errorf("sourceKey(%s, %d) = %s, want %s", tc.ip, tc.bits, got, tc.want)
		}
	}
}

// The reset limiter keys sources as the throttle does, with the configured
// prefix length.
func TestResetLimiterKeysIPv6ByPrefix(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := newResetLimiter(2, 56, func() time.Time { return now })
	ask := func(ip, name string) bool { return l.allow(netip.MustParseAddr(ip), name) }
	if !ask("2001:db8:1:2::1", "a") || !ask("2001:db8:1:3::1", "b") {
		t.Fatal("first two requests refused")
	}
	if ask("2001:db8:1:ff::1", "c") {
		t.Fatal("third request from the same /56 allowed")
	}
	if !ask("2001:db8:2::1", "d") {
		t.Fatal("another /56 refused")
	}
}
