package sso

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// resetLimiter bounds forgotten-password mails per source (an IPv4 address
// or an IPv6 prefix, as the sign-in throttle keys it) and per account name
// (policy.password_reset.per_hour), so the form cannot be used to flood a
// mailbox or probe at speed. In memory or in the store, like the sign-in
// throttle.
type resetLimiter struct {
	perHour int
	v6      int
	now     func() time.Time
	// shared, when set, keeps the buckets in the store instead.
	shared *sharedBuckets

	mu   sync.Mutex
	lims map[string]*bucket
}

func newResetLimiter(perHour, v6bits int, now func() time.Time) *resetLimiter {
	if perHour <= 0 {
		return nil
	}
	return &resetLimiter{perHour: perHour, v6: v6bits, now: now, lims: map[string]*bucket{}}
}

// allow spends one request for ip and for name; both must have one left.
func (l *resetLimiter) allow(ip netip.Addr, name string) bool {
	if l == nil {
		return true
	}
	keys := []string{"ip " + sourceKey(ip, l.v6).String(), "name " + strings.ToLower(name)}
	if l.shared != nil {
		// Two rows cannot be checked together: spend the address's token,
		// then the name's, and give the first back if the second is gone,
		// so a refused request still costs nothing.
		if !l.shared.take(keys[0], 1) {
			return false
		}
		if !l.shared.take(keys[1], 1) {
			l.shared.take(keys[0], -1)
			return false
		}
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	bs := make([]*bucket, len(keys))
	for i, k := range keys {
		b := l.lims[k]
		if b == nil {
			b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.perHour)/3600), l.perHour)}
			l.lims[k] = b
		}
		b.used = now
		bs[i] = b
	}
	// Check both before spending either: a refused request costs nothing.
	for _, b := range bs {
		if b.lim.TokensAt(now) < 1 {
			return false
		}
	}
	for _, b := range bs {
		b.lim.AllowN(now, 1)
	}
	return true
}

// prune forgets keys unused for an hour (their buckets are full again);
// shared buckets expire in the store.
func (l *resetLimiter) prune() {
	if l == nil || l.shared != nil {
		return
	}
	cut := l.now().Add(-time.Hour)
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.lims {
		if b.used.Before(cut) {
			delete(l.lims, k)
		}
	}
}
