// Package clientip is the one home of "which address did this request come
// from": the sign-in side, the admin API and the forward-auth check all ask
// it, so a proxy chain is read the same way everywhere and only the proxies
// named in server.trusted_proxies are believed.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// FromRequest is Parse over a request: its peer and every X-Forwarded-For
// header line (a proxy may add a second line instead of appending to the
// first, so all lines count, in order).
func FromRequest(r *http.Request, trusted []netip.Prefix) netip.Addr {
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 1 {
		// The common case, on the forward-auth hot path: no join to allocate.
		return Parse(r.RemoteAddr, xff[0], trusted)
	}
	return Parse(r.RemoteAddr, strings.Join(xff, ","), trusted)
}

// Parse is the address a request came from: the connection's peer
// (remoteAddr, "host:port" or a bare address), or — only when that peer is
// a trusted proxy — the right-most address in X-Forwarded-For (xff, every
// header value joined with commas) that is not itself a trusted proxy.
//
// Reading from the right matters: proxies append to X-Forwarded-For, so
// everything left of the last trusted hop was written by the client and
// can be forged. A malformed hop stops the walk at the last address known
// good. The result is unmapped (::ffff:10.0.0.1 becomes 10.0.0.1) and has
// no zone; it is invalid when remoteAddr is.
func Parse(remoteAddr, xff string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(remoteAddr)
	if !peer.IsValid() || !Trusted(peer, trusted) || strings.TrimSpace(xff) == "" {
		return peer
	}
	// Walk the hops from the right without splitting (no allocation on
	// the forward-auth hot path).
	for rest := xff; rest != ""; {
		h := rest
		if i := strings.LastIndexByte(rest, ','); i >= 0 {
			h, rest = rest[i+1:], rest[:i]
		} else {
			rest = ""
		}
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		a := parseAddr(h)
		if !a.IsValid() {
			return peer
		}
		if !Trusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// parseAddr accepts "1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443",
// "2001:db8::1" and "[2001:db8::1]". It picks the form before parsing, so
// the usual inputs cost no failed parse (whose error would allocate).
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "]:") || strings.Count(s, ":") == 1 {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().Unmap().WithZone("")
		}
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// Trusted reports whether a lies in one of the trusted prefixes.
func Trusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
		// A prefix written as ::ffff:10.0.0.0/104 still trusts 10.0.0.1.
		if p.Addr().Is4In6() && p.Bits() >= 96 && netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Contains(a) {
			return true
		}
	}
	return false
}
