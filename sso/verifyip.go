package sso

import (
	"context"
	"net/http"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// ActionVerifyIP is the audit action of a session refused by forward auth
// (or /api/v1/me) because the request's address is not allowed for its user.
const ActionVerifyIP = "sso.verify_ip"

// ipVerdict is an IP-rule decision for one address under one rule set.
type ipVerdict struct {
	rules   *[]policy.IPRule
	allowed bool
	reason  string
}

// ipVerdicts caches a session view's IP-rule decisions per address. It
// lives as long as the view (server.verify_cache_ttl), so a changed
// profile or unit, or a reload of the rules, is seen within that window;
// it holds at most maxVerdicts addresses, past which decisions are made
// afresh each time (still correct, only slower).
type ipVerdicts struct {
	mu sync.RWMutex
	m  map[netip.Addr]ipVerdict
}

const maxVerdicts = 16

func (c *ipVerdicts) get(a netip.Addr, rules *[]policy.IPRule) (ipVerdict, bool) {
	c.mu.RLock()
	v, ok := c.m[a]
	c.mu.RUnlock()
	return v, ok && v.rules == rules
}

func (c *ipVerdicts) put(a netip.Addr, v ipVerdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[netip.Addr]ipVerdict, 1)
	}
	if _, ok := c.m[a]; ok || len(c.m) < maxVerdicts {
		c.m[a] = v
	}
}

// ipAllowed applies the IP rules, as sign-in does, to a request presenting
// session v: a cookie carried off to a network the user may not sign in
// from is refused there too. The first refusal per view and address is
// audited and logged; repeats within the cache window are not, so a
// proxy's sub-requests cannot flood the audit log.
func (se *sessions) ipAllowed(ctx context.Context, r *http.Request, v *sessionView) bool {
	rules := se.ipRules.Load()
	if len(*rules) == 0 {
		return true
	}
	ip := clientIP(r, se.opts.TrustedProxies)
	if verdict, ok := v.ips.get(ip, rules); ok {
		return verdict.allowed
	}
	d := policy.EvaluateIP(*rules, ip, v.user.Profile, v.user.Units, v.has(PrivPrivilegedIP))
	v.ips.put(ip, ipVerdict{rules: rules, allowed: d.Allowed, reason: d.Reason})
	if d.Allowed {
		return true
	}
	src := ""
	if ip.IsValid() {
		src = ip.String()
	}
	se.audit(ctx, &store.AuditEvent{
		Time: se.now(), Actor: v.user.Username, Action: ActionVerifyIP, Target: v.user.ID,
		Outcome: store.OutcomeDenied, Reason: "IP address not allowed: " + d.Reason, SourceIP: src,
		Details: map[string]any{"method": v.sess.Method, "ip_rule": d.Rule, "path": r.URL.Path},
	})
	se.log.Warn("session refused from this address", zap.String("user", v.user.Username),
		zap.String("ip", src), zap.String("rule", d.Rule))
	return false
}
