package sso

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/dirbridge/dirbridge/store"
)

// sharedBuckets are token buckets kept in the store's ephemeral table, so
// replicas sharing a PostgreSQL database share one budget per source:
// with per-replica buckets, N replicas behind a load balancer would allow
// N times the configured rate. Each spend is one short transaction
// (store.UpdateEphemeral) on the bucket's row.
type sharedBuckets struct {
	st    store.Store
	ns    string
	limit rate.Limit // tokens per second
	burst int
	now   func() time.Time
	log   *zap.Logger
}

// sharedTimeout bounds one bucket update: a throttle must not hold a
// sign-in for long when the database is slow.
const sharedTimeout = 2 * time.Second

// bucketState is a bucket as stored: 8 bytes of tokens (float64 bits),
// 8 bytes of the time they were counted (unix nanoseconds).
func decodeBucket(b []byte) (tokens float64, at time.Time, ok bool) {
	if len(b) != 16 {
		return 0, time.Time{}, false
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b[:8])), time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))), true
}

func encodeBucket(tokens float64, at time.Time) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], math.Float64bits(tokens))
	binary.BigEndian.PutUint64(b[8:], uint64(at.UnixNano()))
	return b
}

// take spends n tokens (1 to spend, -1 to give one back) from key's
// bucket if it has them and reports whether it did. A store failure
// allows the request and is logged: the per-user lock-out, also in the
// store, stays the exact limit, and a database hiccup must not lock
// everyone out of sign-in.
func (b *sharedBuckets) take(key string, n float64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	now := b.now()
	allowed := false
	err := b.st.UpdateEphemeral(ctx, b.ns, key, func(old []byte, found bool) ([]byte, time.Time, error) {
		tokens := float64(b.burst)
		if t, at, ok := decodeBucket(old); found && ok {
			tokens = t
			if elapsed := now.Sub(at); elapsed > 0 {
				tokens += elapsed.Seconds() * float64(b.limit)
			}
			tokens = math.Min(tokens, float64(b.burst))
		}
		if tokens >= n {
			tokens -= n
			allowed = true
		}
		tokens = math.Min(tokens, float64(b.burst))
		// The row may go once the bucket would be full again; the expiry
		// is on the real clock, which the store's sweep compares with.
		full := time.Duration((float64(b.burst) - tokens) / float64(b.limit) * float64(time.Second))
		return encodeBucket(tokens, now), time.Now().Add(full + time.Minute), nil
	})
	if err != nil {
		b.log.Warn("shared sign-in limit unavailable; request allowed", zap.String("limit", b.ns), zap.Error(err))
		return true
	}
	return allowed
}

// Namespaces of the shared buckets in the ephemeral table.
const (
	throttleNamespace   = "sso.throttle"
	resetLimitNamespace = "sso.reset_limit"
)

// shareLimits moves the throttle's and the reset limiter's buckets into
// the store (Throttle.Shared).
func (s *Service) shareLimits() {
	if t := s.throttle; t != nil {
		t.shared = &sharedBuckets{st: s.store, ns: throttleNamespace, limit: t.limit, burst: t.burst, now: s.now, log: s.log}
	}
	if l := s.resets; l != nil {
		l.shared = &sharedBuckets{st: s.store, ns: resetLimitNamespace, limit: rate.Limit(float64(l.perHour) / 3600),
			burst: l.perHour, now: s.now, log: s.log}
	}
}
