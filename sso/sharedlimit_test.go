package sso

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// sharedThrottleCheck fires password attempts from one address at two
// replicas in turn: with the counters in the store they share one budget
// (3 a minute, burst 3), so the 4th attempt is throttled whichever
// replica gets it, and a minute later the address may try again.
func sharedThrottleCheck(t *testing.T, e1, e2 *env) {
	t.Helper()
	replicas := []*env{e1, e2, e1}
	for i, e := range replicas {
		if r := e.login(e.client(), fmt.Sprintf("user%d", i), "x", false, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if r := e2.login(e2.client(), "user9", "x", false, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th attempt from one address, other replica: %d, want 429", r.status)
	}
	if r := e1.login(e1.client(), "user9", "x", false, map[string]string{"X-Forwarded-For": "192.0.2.50"}); r.status != http.StatusUnauthorized {
		t.Fatalf("another address: %d", r.status)
	}
	e1.clock.Advance(time.Minute)
	e2.clock.Advance(time.Minute)
	if r := e2.login(e2.client(), "user9", "x", false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("after a minute: %d", r.status)
	}
}

func TestSharedThrottleTwoInstances(t *testing.T) {
	shared := func(o *Options) { o.Throttle = Throttle{PerMinute: 3, Burst: 3, Shared: true} }
	e1 := newEnv(t, shared)
	e2 := newEnvAt(t, e1.dbPath, shared)
	sharedThrottleCheck(t, e1, e2)
}

func TestSharedThrottleTwoInstancesPostgres(t *testing.T) {
	pg := harness.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	shared := func(o *Options) { o.Throttle = Throttle{PerMinute: 3, Burst: 3, Shared: true} }
	e1, _ := newPostgresEnv(t, dsn, shared)
	e2, _ := newPostgresEnv(t, dsn, shared)
	sharedThrottleCheck(t, e1, e2)
}

// The reset limiter's counters are shared the same way; a refused request
// gives back the address's token it took.
func TestSharedResetLimiter(t *testing.T) {
	e1 := newEnv(t, func(o *Options) { o.ResetPerHour = 2; o.Throttle.Shared = true })
	e2 := newEnvAt(t, e1.dbPath, func(o *Options) { o.ResetPerHour = 2; o.Throttle.Shared = true })
	ip := mustAddr("192.0.2.7")
	if !e1.svc.resets.allow(ip, "alice") || !e2.svc.resets.allow(ip, "alice") {
		t.Fatal("first two requests refused")
	}
	if e1.svc.resets.allow(ip, "alice") || e2.svc.resets.allow(ip, "bob") {
		t.Fatal("third request from the address (or for the name) allowed across replicas")
	}
	other := mustAddr("198.51.100.9")
	if e2.svc.resets.allow(other, "alice") {
		t.Fatal("a third request for the name from another address allowed")
	}
	// That refusal gave the other address its token back: two left.
	if !e1.svc.resets.allow(other, "carol") || !e2.svc.resets.allow(other, "dave") {
		t.Fatal("a refused request cost the address a token")
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
