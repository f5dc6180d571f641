package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPPattern is one address form of an IP rule, reduced to an inclusive
// range of one family. Every accepted form — single address, range a-b,
// CIDR, trailing wildcard — becomes a range, so matching is one comparison
// pair and the policy code needs no per-form cases.
type IPPattern struct {
	Lo, Hi netip.Addr
}

// Contains reports whether a is within the pattern. IPv4-mapped IPv6
// addresses (::ffff:10.0.0.1) match IPv4 patterns.
func (p IPPattern) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if a.Is4() != p.Lo.Is4() {
		return false
	}
	return p.Lo.Compare(a) <= 0 && a.Compare(p.Hi) <= 0
}

// ParseIPPattern parses "10.0.0.5", "10.0.0.5-10.0.0.99", "10.0.0.0/8",
// "10.*.*.*" (wildcards only as trailing octets) and their IPv6 forms
// ("2001:db8::1", "2001:db8::1-2001:db8::ff", "2001:db8::/32",
// "2001:db8:*:*:*:*:*:*").
func ParseIPPattern(s string) (IPPattern, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return IPPattern{}, fmt.Errorf("empty address")
	case strings.Contains(s, "*"):
		return parseWildcard(s)
	case strings.Contains(s, "/"):
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return IPPattern{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if pfx.Addr().Zone() != "" {
			return IPPattern{}, fmt.Errorf("invalid CIDR %q: zones are not allowed", s)
		}
		pfx = pfx.Masked()
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return IPPattern{Lo: pfx.Addr(), Hi: lastAddr(pfx)}, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err1 := parseAddr(strings.TrimSpace(a))
		hi, err2 := parseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil {
			return IPPattern{}, fmt.Errorf("invalid range %q: want FIRST-LAST addresses", s)
		}
		if lo.Is4() != hi.Is4() {
			return IPPattern{}, fmt.Errorf("invalid range %q: mixes IPv4 and IPv6", s)
		}
		if hi.Less(lo) {
			return IPPattern{}, fmt.Errorf("invalid range %q: first address is after the last", s)
		}
		return IPPattern{Lo: lo, Hi: hi}, nil
	}
	a, err := parseAddr(s)
	if err != nil {
		return IPPattern{}, fmt.Errorf("invalid address %q", s)
	}
	return IPPattern{Lo: a, Hi: a}, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("zones are not allowed")
	}
	return a.Unmap(), nil
}

// parseWildcard turns 10.20.*.* into 10.20.0.0/16 (and the IPv6 equivalent
// with 8 groups). A wildcard in the middle (10.*.5.*) is refused: it is not
// one range, and it is almost always a typo.
func parseWildcard(s string) (IPPattern, error) {
	v6 := strings.Contains(s, ":")
	sep, n, width, base := ".", 4, 8, 10
	if v6 {
		sep, n, width, base = ":", 8, 16, 16
	}
	parts := strings.Split(s, sep)
	if len(parts) != n {
		return IPPattern{}, fmt.Errorf("invalid wildcard %q: want %d parts separated by %q", s, n, sep)
	}
	var fixed []string
	for i, p := range parts {
		if p == "*" {
			continue
		}
		if i > 0 && parts[i-1] == "*" {
			return IPPattern{}, fmt.Errorf("invalid wildcard %q: * only in trailing parts", s)
		}
		if _, err := strconv.ParseUint(p, base, width); err != nil || p == "" {
			return IPPattern{}, fmt.Errorf("invalid wildcard %q: bad part %q", s, p)
		}
		fixed = append(fixed, p)
	}
	zeros := make([]string, n-len(fixed))
	for i := range zeros {
		zeros[i] = "0"
	}
	addr, err := netip.ParseAddr(strings.Join(append(fixed, zeros...), sep))
	if err != nil {
		return IPPattern{}, fmt.Errorf("invalid wildcard %q", s)
	}
	pfx := netip.PrefixFrom(addr, len(fixed)*width)
	return IPPattern{Lo: addr, Hi: lastAddr(pfx)}, nil
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			b[i] |= 0xff >> bits
			bits = 0
		default:
			b[i] = 0xff
		}
	}
}
