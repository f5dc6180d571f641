package sso

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipThrottle is a token bucket per source: an IPv4 address, or the IPv6
// prefix (default /64) holding the address — one host is usually given a
// whole /64 and could otherwise take a fresh bucket per attempt. It lives
// in memory, or with Throttle.Shared in the store, so replicas on one
// PostgreSQL database share the budget (sharedlimit.go). It slows password
// spraying; the per-user lock-out (in the store) is the exact limit.
type ipThrottle struct {
	limit rate.Limit
	burst int
	v6    int
	now   func() time.Time
	// shared, when set, keeps the buckets in the store instead (replicas
	// on one PostgreSQL database).
	shared *sharedBuckets

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

// defaultIPv6Prefix is the prefix length IPv6 sources are keyed by when
// none is configured.
const defaultIPv6Prefix = 64

// sourceKey is the bucket key for ip: the address itself for IPv4, its
// enclosing v6bits prefix for IPv6 (v6bits outside 1..128 means 64).
func sourceKey(ip netip.Addr, v6bits int) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	if !ip.Is6() {
		return netip.PrefixFrom(ip, ip.BitLen())
	}
	if v6bits <= 0 || v6bits > 128 {
		v6bits = defaultIPv6Prefix
	}
	p, err := ip.Prefix(v6bits)
	if err != nil {
		return netip.PrefixFrom(ip, ip.BitLen())
	}
	return p
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
	return &ipThrottle{limit: rate.Limit(t.PerMinute / 60), burst: burst, v6: t.IPv6Prefix, now: now, buckets: map[netip.Prefix]*bucket{}}
}

// allow takes a token for ip's source key; false means the caller should
// wait.
func (t *ipThrottle) allow(ip netip.Addr) bool {
	if t == nil {
		return true
	}
	key := sourceKey(ip, t.v6)
	if t.shared != nil {
		return t.shared.take(key.String(), 1)
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(t.limit, t.burst)}
		t.buckets[key] = b
	}
	b.used = now
	return b.lim.AllowN(now, 1)
}

// prune forgets addresses idle long enough for their bucket to be full
// again (shared buckets expire in the store).
func (t *ipThrottle) prune() {
	if t == nil || t.shared != nil {
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
