package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fast keeps tests quick; the format and logic do not depend on cost.
var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected PHC string %q", h)
	}
	if err := Verify(h, "correct horse"); err != nil {
		t.Fatalf("Verify right password: %v", err)
	}
	if err := Verify(h, "wrong horse"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify wrong password = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, enc := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1,p=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5",
	} {
		if err := Verify(enc, "x"); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", enc, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := Hash("pw", fast)
	if NeedsRehash(h, fast) {
		t.Error("same params need no rehash")
	}
	stronger := fast
	stronger.Iterations = 2
	if !NeedsRehash(h, stronger) {
		t.Error("changed params need a rehash")
	}
	if !NeedsRehash("garbage", fast) {
		t.Error("garbage needs a rehash")
	}
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams.Validate(); err != nil {
		t.Fatalf("default params invalid: %v", err)
	}
	bad := fast
	bad.Parallelism = 0
	if _, err := Hash("x", bad); err == nil {
		t.Fatal("Hash with parallelism 0 succeeded")
	}
	if _, err := NewHasher(bad, 1); err == nil {
		t.Fatal("NewHasher with bad params succeeded")
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	h, err := NewHasher(fast, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := h.Hash(context.Background(), "pw")

	// Hold both slots, then check a third caller waits and gives up with
	// its context instead of hashing.
	h.sem <- struct{}{}
	h.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.Verify(ctx, enc, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with full semaphore = %v, want deadline exceeded", err)
	}
	<-h.sem
	<-h.sem

	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			_ = Verify(enc, "pw")
			inFlight.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("peak concurrency %d, want <= 2", peak.Load())
	}
}
