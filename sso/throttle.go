package sso

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipThrottle is a token bucket per source address. It lives in memory, so
// each replica throttles on its own: it slows password spraying, while the
// per-user lock-out (in the store) is the shared, exact limit.
type ipThrottle struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newIPThrottle(t Throttle, now func() time.Time) *ipThrottle {
	if t.PerMinute <= 0 {
		return nil
	}
	burst := t.Burst
	if burst <= 0 {
		burst = max(1, int(t.PerMinute))
	}
	return &ipThrottle{limit: rate.Limit(t.PerMinute / 60), burst: burst, now: now, buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token for ip; false means the caller should wait.
func (t *ipThrottle) allow(ip netip.Addr) bool {
	if t == nil {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(t.limit, t.burst)}
		t.buckets[ip] = b
	}
	b.used = now
	return b.lim.AllowN(now, 1)
}

// prune forgets addresses idle long enough for their bucket to be full again.
func (t *ipThrottle) prune() {
	if t == nil {
		return
	}
	refill := time.Duration(float64(t.burst) / float64(t.limit) * float64(time.Second))
	cut := t.now().Add(-refill)
	t.mu.Lock()
	defer t.mu.Unlock()
	for ip, b := range t.buckets {
		if b.used.Before(cut) {
			delete(t.buckets, ip)
		}
	}
}
