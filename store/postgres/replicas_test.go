package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
)

// replicas opens n stores on one database, each with a pool of its own,
// as n dirbridge instances would.
func replicas(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	dsn := harness.NewDatabase(t)
	var out []*postgres.Store
	for range n {
		out = append(out, open(t, dsn))
	}
	return out
}

// TestLeaseTwoReplicas: one holder at a time across replicas; a holder
// that stops renewing loses the lease when it expires, and the other
// replica takes over.
func TestLeaseTwoReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	acquire := func(s *postgres.Store, holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "sync/corp", holder, ttl)
		if err != nil {
			t.Fatalf("AcquireLease %s: %v", holder, err)
		}
		return ok
	}
	if !acquire(a, "node-a", 400*time.Millisecond) {
		t.Fatal("node-a: free lease not acquired")
	}
	if acquire(b, "node-b", time.Hour) {
		t.Fatal("node-b took the lease node-a holds")
	}
	if !acquire(a, "node-a", 400*time.Millisecond) {
		t.Fatal("node-a could not renew its lease")
	}
	// node-a dies: no renewal, no release.
	deadline := time.Now().Add(5 * time.Second)
	for !acquire(b, "node-b", time.Hour) {
		if time.Now().After(deadline) {
			t.Fatal("node-b never took over the expired lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if acquire(a, "node-a", time.Hour) {
		t.Fatal("node-a took the lease back from node-b")
	}

	// Many contenders on both replicas at once: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 16 {
		s := rs[i%2]
		holder := fmt.Sprintf("node-%d", i)
		wg.Go(func() {
			ok, err := s.AcquireLease(ctx, "race", holder, time.Hour)
			if err != nil {
				t.Errorf("AcquireLease race: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("lease race across two replicas: winners %v, want exactly one", winners)
	}
	// The winner releases; a contender on the other replica gets it.
	var winnerStore, other *postgres.Store
	var n int
	if _, err := fmt.Sscanf(winners[0], "node-%d", &n); err != nil {
		t.Fatalf("winner %q: %v", winners[0], err)
	}
	winnerStore, other = rs[n%2], rs[(n+1)%2]
	if err := winnerStore.ReleaseLease(ctx, "race", winners[0]); err != nil {
		t.Fatal(err)
	}
	if ok, err := other.AcquireLease(ctx, "race", "late", time.Hour); err != nil || !ok {
		t.Fatalf("released lease not acquired on the other replica: %v %v", ok, err)
	}
}

var errLocked = errors.New("locked")

// TestLockoutTwoReplicas: concurrent failed sign-ins split over two
// replicas, each checked against max attempts inside UpdateLockout: no
// update is lost and no attempt beyond the limit is admitted.
func TestLockoutTwoReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2)
	u := store.User{Username: "alice", Source: store.SourceLocal, State: store.StateActive}
	if err := rs[0].Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
		t.Fatal(err)
	}
	const maxAttempts, tries = 5, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, refused := 0, 0
	for i := range tries {
		s := rs[i%2]
		wg.Go(func() {
			_, err := s.UpdateLockout(ctx, u.ID, func(l store.Lockout) (store.Lockout, error) {
				if l.FailedAttempts >= maxAttempts {
					return l, errLocked
				}
				l.FailedAttempts++
				if l.FailedAttempts == maxAttempts {
					l.LockedUntil = time.Now().Add(time.Hour)
				}
				return l, nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case errors.Is(err, errLocked):
				refused++
			default:
				t.Errorf("UpdateLockout: %v", err)
			}
		})
	}
	wg.Wait()
	if admitted != maxAttempts || refused != tries-maxAttempts {
		t.Fatalf("%d admitted, %d refused over two replicas; want %d and %d", admitted, refused, maxAttempts, tries-maxAttempts)
	}
	for i, s := range rs {
		l, err := s.GetLockout(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.FailedAttempts != maxAttempts || l.LockedUntil.IsZero() {
			t.Fatalf("replica %d sees %+v", i, l)
		}
	}

	// Plain increments: 2 replicas x 8 workers x 10, none lost.
	v := store.User{Username: "bob", Source: store.SourceLocal, State: store.StateActive}
	if err := rs[1].Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &v) }); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		s := rs[i%2]
		wg.Go(func() {
			for range 10 {
				if _, err := s.UpdateLockout(ctx, v.ID, func(l store.Lockout) (store.Lockout, error) {
					l.FailedAttempts++
					return l, nil
				}); err != nil {
					t.Errorf("UpdateLockout: %v", err)
				}
			}
		})
	}
	wg.Wait()
	l, err := rs[0].GetLockout(ctx, v.ID)
	if err != nil || l.FailedAttempts != 160 {
		t.Fatalf("after 160 increments over two replicas: %+v %v", l, err)
	}
}

// TestOnceAcrossReplicas: a one-time key and a one-time value are used
// once across replicas.
func TestOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2)
	if err := rs[0].PutEphemeral(ctx, "oidc", "state", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded, taken := 0, 0
	for i := range 16 {
		s := rs[i%2]
		wg.Go(func() {
			rerr := s.RecordOnce(ctx, "saml", "assertion-1", time.Now().Add(time.Hour))
			_, terr := s.TakeEphemeral(ctx, "oidc", "state")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case rerr == nil:
				recorded++
			case !errors.Is(rerr, store.ErrConflict):
				t.Errorf("RecordOnce: %v", rerr)
			}
			switch {
			case terr == nil:
				taken++
			case !errors.Is(terr, store.ErrNotFound):
				t.Errorf("TakeEphemeral: %v", terr)
			}
		})
	}
	wg.Wait()
	if recorded != 1 || taken != 1 {
		t.Fatalf("across two replicas: RecordOnce won %d times, TakeEphemeral %d times; want 1 and 1", recorded, taken)
	}
}

// TestOpenTogether: replicas starting at once on an empty database
// migrate it once (goose's advisory lock) and both come up.
func TestOpenTogether(t *testing.T) {
	dsn := harness.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	s := open(t, dsn)
	applied, latest, err := s.MigrationVersion(context.Background())
	if err != nil || applied != latest {
		t.Fatalf("MigrationVersion = %d, %d, %v", applied, latest, err)
	}
}

// TestOpenErrors: a malformed DSN is refused without echoing it (it may
// hold a password); an unreachable server is an error, not a hang.
func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://dirbridge:s3cret@127.0.0.1:5432/db?connect_timeout=zz")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("malformed DSN: %v", err)
	}
	port := harness.FreePort(t)
	_, err = postgres.Open(ctx, fmt.Sprintf("postgres://dirbridge:s3cret@127.0.0.1:%d/db?sslmode=disable&connect_timeout=5", port))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unreachable server: %v", err)
	}
	if _, err := postgres.Open(ctx, ""); err == nil {
		t.Fatal("empty DSN accepted")
	}
}
