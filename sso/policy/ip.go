package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AddressPattern is one address form of an IP rule reduced to an inclusive
// range of one family, so that every form — single address, range, CIDR,
// wildcard — matches by one pair of comparisons.
type AddressPattern struct {
	Lo, Hi netip.Addr
	// Any is the pattern "*": every address of either family.
	Any bool
	// Source is the text the pattern was parsed from, for messages.
	Source string
}

// String returns the source text.
func (p AddressPattern) String() string { return p.Source }

// Contains reports whether a is within the pattern. IPv4-mapped IPv6
// addresses (::ffff:10.0.0.1) are treated as the IPv4 address they carry,
// since dual-stack listeners report IPv4 clients that way, and zones are
// ignored (a zone names an interface, not a host).
func (p AddressPattern) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	if p.Any {
		return true
	}
	a = a.Unmap().WithZone("")
	if !p.Lo.IsValid() || a.Is4() != p.Lo.Is4() {
		return false
	}
	return p.Lo.Compare(a) <= 0 && a.Compare(p.Hi) <= 0
}

// ParseAddress parses one address form:
//
//	10.0.0.5                  a single address (IPv4 or IPv6)
//	10.0.0.5-10.0.0.99        an inclusive range, first <= last, one family
//	10.0.0.0/8, 2001:db8::/32 CIDR (host bits are ignored)
//	10.*.*.*, 10.20.*.*       wildcards in trailing octets only
//	2001:db8:*:*:*:*:*:*      IPv6 wildcards over all 8 groups, trailing only
//	*                         every address
//
// A wildcard in the middle (10.*.5.*) is refused: it is not one range and
// is almost always a typo. Zones are refused: a rule names hosts, not
// interfaces. IPv4-mapped IPv6 input is stored as IPv4.
func ParseAddress(s string) (AddressPattern, error) {
	src := s
	s = strings.TrimSpace(s)
	p, err := parseAddress(s)
	if err != nil {
		return AddressPattern{}, err
	}
	p.Source = src
	return p, nil
}

func parseAddress(s string) (AddressPattern, error) {
	switch {
	case s == "":
		return AddressPattern{}, errors.New("empty address")
	case s == "*":
		return AddressPattern{Any: true}, nil
	case strings.Contains(s, "*"):
		return parseWildcard(s)
	case strings.Contains(s, "/"):
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return AddressPattern{}, fmt.Errorf("invalid CIDR %q", s)
		}
		pfx = pfx.Masked()
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return AddressPattern{Lo: pfx.Addr(), Hi: lastAddr(pfx)}, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err1 := parseHost(strings.TrimSpace(a))
		hi, err2 := parseHost(strings.TrimSpace(b))
		if err1 != nil || err2 != nil {
			return AddressPattern{}, fmt.Errorf("invalid range %q: want FIRST-LAST addresses", s)
		}
		if lo.Is4() != hi.Is4() {
			return AddressPattern{}, fmt.Errorf("invalid range %q: mixes IPv4 and IPv6", s)
		}
		if hi.Less(lo) {
			return AddressPattern{}, fmt.Errorf("invalid range %q: first address is after the last", s)
		}
		return AddressPattern{Lo: lo, Hi: hi}, nil
	}
	a, err := parseHost(s)
	if err != nil {
		return AddressPattern{}, fmt.Errorf("invalid address %q", s)
	}
	return AddressPattern{Lo: a, Hi: a}, nil
}

func parseHost(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("zones are not allowed")
	}
	return a.Unmap(), nil
}

// parseWildcard turns 10.20.*.* into 10.20.0.0/16, and the IPv6 form with
// 8 groups likewise.
func parseWildcard(s string) (AddressPattern, error) {
	v6 := strings.Contains(s, ":")
	sep, n, width, base := ".", 4, 8, 10
	if v6 {
		sep, n, width, base = ":", 8, 16, 16
	}
	parts := strings.Split(s, sep)
	if len(parts) != n {
		return AddressPattern{}, fmt.Errorf("invalid wildcard %q: want %d parts separated by %q", s, n, sep)
	}
	var fixed []string
	for i, p := range parts {
		if p == "*" {
			continue
		}
		if i > 0 && parts[i-1] == "*" {
			return AddressPattern{}, fmt.Errorf("invalid wildcard %q: * only in trailing parts", s)
		}
		if p == "" || strings.HasPrefix(p, "+") || strings.HasPrefix(p, "-") {
			return AddressPattern{}, fmt.Errorf("invalid wildcard %q: bad part %q", s, p)
		}
		if _, err := strconv.ParseUint(p, base, width); err != nil {
			return AddressPattern{}, fmt.Errorf("invalid wildcard %q: bad part %q", s, p)
		}
		fixed = append(fixed, p)
	}
	for range n - len(fixed) {
		fixed = append(fixed, "0")
	}
	addr, err := netip.ParseAddr(strings.Join(fixed, sep))
	if err != nil {
		return AddressPattern{}, fmt.Errorf("invalid wildcard %q", s)
	}
	wild := 0
	for _, p := range parts {
		if p == "*" {
			wild++
		}
	}
	pfx := netip.PrefixFrom(addr, (n-wild)*width)
	return AddressPattern{Lo: addr, Hi: lastAddr(pfx)}, nil
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	bits := p.Bits()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		setHostBits(b[:], bits)
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	setHostBits(b[:], bits)
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

// ParseAddresses parses every address of a rule; the error names each bad
// one.
func ParseAddresses(addrs []string) ([]AddressPattern, error) {
	out := make([]AddressPattern, 0, len(addrs))
	var errs []error
	for i, s := range addrs {
		p, err := ParseAddress(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("addresses[%d]: %w", i, err))
			continue
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Effect is what a matching IP rule does.
type Effect string

// Effects.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// ParseEffect parses "allow" or "deny".
func ParseEffect(s string) (Effect, error) {
	switch e := Effect(strings.ToLower(strings.TrimSpace(s))); e {
	case Allow, Deny:
		return e, nil
	}
	return "", fmt.Errorf("effect %q: want allow or deny", s)
}

// IPRule is an IP authorisation rule.
type IPRule struct {
	Name   string
	Active bool
	Effect Effect
	// Addresses the rule matches; see ParseAddress.
	Addresses []AddressPattern
	// Profiles and Units limit the rule to users holding one of the
	// profiles or belonging to one of the units (case-insensitive); both
	// empty means every user.
	Profiles []string
	Units    []string
}

// ParseIPRule builds an IPRule from its configured text (config.IPRule's
// fields). An active rule must list at least one address: an allow rule
// with none would silently lock out everyone it applies to. The error
// collects every problem.
func ParseIPRule(name string, active bool, effect string, addresses, profiles, units []string) (IPRule, error) {
	var errs []error
	e, err := ParseEffect(effect)
	if err != nil {
		errs = append(errs, err)
	}
	ps, err := ParseAddresses(addresses)
	if err != nil {
		errs = append(errs, err)
	}
	if active && len(addresses) == 0 {
		errs = append(errs, errors.New("an active rule must list at least one address"))
	}
	if err := errors.Join(errs...); err != nil {
		return IPRule{}, fmt.Errorf("IP rule %q: %w", name, err)
	}
	return IPRule{Name: name, Active: active, Effect: e, Addresses: ps, Profiles: profiles, Units: units}, nil
}

// AppliesTo reports whether the rule concerns a user with this profile and
// these units.
func (r IPRule) AppliesTo(profile string, units []string) bool {
	if len(r.Profiles) == 0 && len(r.Units) == 0 {
		return true
	}
	for _, p := range r.Profiles {
		if profile != "" && strings.EqualFold(p, profile) {
			return true
		}
	}
	for _, want := range r.Units {
		for _, u := range units {
			if strings.EqualFold(want, u) {
				return true
			}
		}
	}
	return false
}

// Matches reports whether addr is one of the rule's addresses.
func (r IPRule) Matches(addr netip.Addr) bool {
	for _, p := range r.Addresses {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Decision is the outcome of EvaluateIP.
type Decision struct {
	Allowed bool
	// Rule names the deciding rule, if one decided.
	Rule string
	// Reason is for the audit log.
	Reason string
}

// EvaluateIP decides whether a user may sign in from addr:
//
//  1. A user whose profile holds privileged_ip_access may sign in from any
//     address.
//  2. Only active rules that apply to the user (by profile or unit, or to
//     everyone) count; inactive rules never do.
//  3. If an applicable deny rule matches addr, the user is refused (the
//     first such rule is named). Deny beats allow, so an administrator can
//     carve an exception out of a broad allow.
//  4. If any applicable allow rule exists, addr must match one of them
//     (the first match is named); otherwise the user is refused.
//  5. With no applicable rule, the user is allowed.
//
// An invalid addr (the client address could not be determined) is refused
// whenever some applicable rule exists — failing open would let a broken
// proxy header bypass every rule — and allowed otherwise.
func EvaluateIP(rules []IPRule, addr netip.Addr, profile string, units []string, privilegedIPAccess bool) Decision {
	if privilegedIPAccess {
		return Decision{Allowed: true, Reason: "profile holds privileged_ip_access"}
	}
	var allows []IPRule
	applicable := false
	for _, r := range rules {
		if !r.Active || !r.AppliesTo(profile, units) {
			continue
		}
		applicable = true
		switch r.Effect {
		case Deny:
			if r.Matches(addr) {
				return Decision{Rule: r.Name, Reason: fmt.Sprintf("address %s is denied by IP rule %q", addr, r.Name)}
			}
		case Allow:
			allows = append(allows, r)
		}
	}
	if applicable && !addr.IsValid() {
		return Decision{Reason: "client address unknown and IP rules apply to this user"}
	}
	if len(allows) == 0 {
		if applicable {
			return Decision{Allowed: true, Reason: "no IP rule matched"}
		}
		return Decision{Allowed: true, Reason: "no IP rule applies to this user"}
	}
	for _, r := range allows {
		if r.Matches(addr) {
			return Decision{Allowed: true, Rule: r.Name, Reason: fmt.Sprintf("address %s is allowed by IP rule %q", addr, r.Name)}
		}
	}
	names := make([]string, len(allows))
	for i, r := range allows {
		names[i] = strconv.Quote(r.Name)
	}
	return Decision{Reason: fmt.Sprintf("address %s matches none of the IP rules allowing this user (%s)", addr, strings.Join(names, ", "))}
}
