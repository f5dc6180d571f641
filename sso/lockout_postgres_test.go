package sso

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
)

// newPostgresEnv is newEnv on a store/postgres connection pool of its
// own: one replica of the daemon. Its st field stays nil; the test reads
// the store it passed in.
func newPostgresEnv(t *testing.T, dsn string, tweaks ...func(*Options)) (*env, *postgres.Store) {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, err := password.NewHasher(cheapParams, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: newClock(), reg: prometheus.NewRegistry(), h: h}
	opts := Options{
		Store: st, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: e.clock.Now,
		PublicURL: "http://sso.test", Hasher: h, Registerer: e.reg,
		Lockout:        policy.LockoutPolicy{MaxAttempts: 5, Within: 15 * time.Minute, LockFor: 30 * time.Minute},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	e.svc, err = New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = httptest.NewServer(e.svc)
	t.Cleanup(e.srv.Close)
	return e, st
}

// TestLockoutTwoInstancesPostgres runs two Services, each on its own
// connection pool to one PostgreSQL database, as two replicas behind a
// load balancer would, and fires concurrent wrong passwords at both: the
// lock-out row lock lets exactly max_attempts be checked, every other
// attempt meets the lock, and the lock holds on both instances.
func TestLockoutTwoInstancesPostgres(t *testing.T) {
	pg := harness.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	e1, st1 := newPostgresEnv(t, dsn)
	e2, st2 := newPostgresEnv(t, dsn)

	ctx := context.Background()
	hash, err := e1.h.Hash(ctx, alicePW)
	if err != nil {
		t.Fatal(err)
	}
	alice := store.User{Username: "alice", Email: "alice@example.com", Source: store.SourceLocal,
		State: store.StateActive, PasswordHash: hash}
	if err := st1.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &alice) }); err != nil {
		t.Fatal(err)
	}

	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		e := e1
		if i%2 == 1 {
			e = e2
		}
		wg.Go(func() {
			if r := e.login(e.client(), "alice", "wrong", false, nil); r.status != http.StatusUnauthorized {
				t.Errorf("wrong password: status %d, want 401", r.status)
			}
		})
	}
	wg.Wait()

	for i, e := range []*env{e1, e2} {
		if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("right password after the lock, instance %d: %d, want 401", i+1, r.status)
		}
	}
	for i, st := range []*postgres.Store{st1, st2} {
		l, err := st.GetLockout(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.FailedAttempts != 5 || l.LockedUntil.IsZero() {
			t.Fatalf("instance %d sees %+v, want exactly 5 counted and locked", i+1, l)
		}
	}
	evs, err := st2.ListAudit(ctx, store.AuditFilter{Action: ActionSignIn})
	if err != nil {
		t.Fatal(err)
	}
	var wrong, locked int
	for _, ev := range evs {
		switch {
		case strings.HasPrefix(ev.Reason, "wrong password"):
			wrong++
		case strings.HasPrefix(ev.Reason, "account locked"):
			locked++
		}
	}
	// n wrong passwords plus the two right ones after the lock.
	if wrong != 5 || locked != n-5+2 {
		t.Errorf("audit across two instances: %d wrong passwords checked, %d met the lock; want 5 and %d", wrong, locked, n-5+2)
	}
}
