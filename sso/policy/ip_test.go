package policy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddressAndContains(t *testing.T) {
	type probe struct {
		addr string
		in   bool
	}
	tests := []struct {
		src    string
		lo, hi string // empty for Any
		probes []probe
	}{
		{"10.0.0.5", "10.0.0.5", "10.0.0.5", []probe{{"10.0.0.5", true}, {"10.0.0.6", false}, {"::ffff:10.0.0.5", true}}},
		{" 10.0.0.5 ", "10.0.0.5", "10.0.0.5", nil},
		{"10.0.0.5-10.0.0.99", "10.0.0.5", "10.0.0.99", []probe{{"10.0.0.4", false}, {"10.0.0.5", true}, {"10.0.0.50", true}, {"10.0.0.99", true}, {"10.0.0.100", false}}},
		{"10.0.0.5 - 10.0.0.5", "10.0.0.5", "10.0.0.5", nil},
		{"10.0.0.0/8", "10.0.0.0", "10.255.255.255", []probe{{"10.1.2.3", true}, {"11.0.0.0", false}, {"::ffff:10.9.9.9", true}}},
		{"10.1.2.3/8", "10.0.0.0", "10.255.255.255", nil},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255", []probe{{"1.2.3.4", true}, {"::1", false}}},
		{"::ffff:10.0.0.0/104", "10.0.0.0", "10.255.255.255", []probe{{"10.0.0.1", true}}},
		{"::ffff:10.0.0.7", "10.0.0.7", "10.0.0.7", []probe{{"10.0.0.7", true}}},
		{"10.*.*.*", "10.0.0.0", "10.255.255.255", []probe{{"10.200.1.1", true}, {"11.0.0.1", false}}},
		{"10.20.*.*", "10.20.0.0", "10.20.255.255", nil},
		{"10.20.30.*", "10.20.30.0", "10.20.30.255", nil},
		{"*.*.*.*", "0.0.0.0", "255.255.255.255", []probe{{"8.8.8.8", true}, {"2001:db8::1", false}}},
		{"*", "", "", []probe{{"8.8.8.8", true}, {"2001:db8::1", true}, {"fe80::1%eth0", true}}},
		{"2001:db8::1", "2001:db8::1", "2001:db8::1", []probe{{"2001:db8::1", true}, {"2001:DB8:0::1", true}, {"fe80::1%eth0", false}, {"2001:db8::2", false}}},
		{"2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff", []probe{{"2001:db8::80", true}, {"2001:db8::100", false}, {"10.0.0.1", false}}},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", []probe{{"2001:db8:1::1", true}, {"2001:db9::1", false}}},
		{"2001:db8:*:*:*:*:*:*", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []probe{{"fe80::1%eth0", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			p, err := ParseAddress(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.src {
				t.Errorf("String %q", p.String())
			}
			if tc.lo == "" {
				if !p.Any {
					t.Errorf("want Any, got %+v", p)
				}
			} else if p.Lo != netip.MustParseAddr(tc.lo) || p.Hi != netip.MustParseAddr(tc.hi) {
				t.Errorf("range %s-%s, want %s-%s", p.Lo, p.Hi, tc.lo, tc.hi)
			}
			for _, pr := range tc.probes {
				if got := p.Contains(netip.MustParseAddr(pr.addr)); got != pr.in {
					t.Errorf("Contains(%s) = %v", pr.addr, got)
				}
			}
			if p.Contains(netip.Addr{}) {
				t.Error("invalid address contained")
			}
		})
	}
}

func TestParseAddressErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"10.0.0", "invalid address"},
		{"10.0.0.256", "invalid address"},
		{"010.0.0.1", "invalid address"},
		{"host.example.com", "invalid address"},
		{"fe80::1%eth0", "invalid address"},
		{"10.0.0.99-10.0.0.5", "first address is after the last"},
		{"2001:db8::ff-2001:db8::1", "first address is after the last"},
		{"10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6"},
		{"10.0.0.1-", "invalid range"},
		{"10.0.0.1-10.0.0.2-10.0.0.3", "invalid range"},
		{"10.0.0.0/33", "invalid CIDR"},
		{"10.0.0.0/", "invalid CIDR"},
		{"fe80::%eth0/64", "invalid CIDR"},
		{"10.*.5.*", "* only in trailing parts"},
		{"*.0.0.1", "* only in trailing parts"},
		{"10.*.*", "want 4 parts"},
		{"10.1*.0.0", "bad part"},
		{"10..*.*", "bad part"},
		{"300.*.*.*", "bad part"},
		{"010.*.*.*", "invalid wildcard"},
		{"2001:db8::*", "want 8 parts"},
		{"2001:*:db8:*:*:*:*:*", "* only in trailing parts"},
		{"2001:db8g:*:*:*:*:*:*", "bad part"},
		{"**", "want 4 parts"},
		{"*/8", "want 4 parts"},
	}
	for _, tc := range tests {
		_, err := ParseAddress(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseAddress(%q) = %v, want error containing %q", tc.src, err, tc.want)
		}
	}
}

func TestParseAddresses(t *testing.T) {
	ps, err := ParseAddresses([]string{"10.0.0.1", "10.0.0.0/8"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("%v %v", ps, err)
	}
	_, err = ParseAddresses([]string{"10.0.0.1", "bad", "10.*.1.*"})
	if err == nil || !strings.Contains(err.Error(), "addresses[1]") || !strings.Contains(err.Error(), "addresses[2]") {
		t.Fatalf("error %v", err)
	}
}

func TestParseEffect(t *testing.T) {
	for in, want := range map[string]Effect{"allow": Allow, " DENY ": Deny} {
		if got, err := ParseEffect(in); err != nil || got != want {
			t.Errorf("ParseEffect(%q) = %q %v", in, got, err)
		}
	}
	if _, err := ParseEffect("permit"); err == nil {
		t.Error("want error")
	}
}

func mustRule(t *testing.T, name string, active bool, e Effect, addrs []string, profiles, units []string) IPRule {
	t.Helper()
	ps, err := ParseAddresses(addrs)
	if err != nil {
		t.Fatal(err)
	}
	return IPRule{Name: name, Active: active, Effect: e, Addresses: ps, Profiles: profiles, Units: units}
}

func TestEvaluateIP(t *testing.T) {
	rules := []IPRule{
		mustRule(t, "office", true, Allow, []string{"10.0.0.0/8", "2001:db8::/32"}, nil, nil),
		mustRule(t, "guest wifi", true, Deny, []string{"10.99.*.*"}, nil, nil),
		mustRule(t, "agents at home", true, Allow, []string{"192.0.2.0/24"}, []string{"Agent"}, nil),
		mustRule(t, "night shift vpn", true, Allow, []string{"198.51.100.7"}, nil, []string{"Night"}),
		mustRule(t, "old", false, Deny, []string{"*"}, nil, nil),
		mustRule(t, "contractors blocked", true, Deny, []string{"10.5.0.0/16"}, []string{"Contractor"}, nil),
	}
	tests := []struct {
		name       string
		rules      []IPRule
		addr       string
		profile    string
		units      []string
		privileged bool
		allowed    bool
		rule       string
	}{
		{"allowed by office", rules, "10.1.2.3", "Supervisor", nil, false, true, "office"},
		{"mapped IPv4 allowed by office", rules, "::ffff:10.1.2.3", "Supervisor", nil, false, true, "office"},
		{"IPv6 office", rules, "2001:db8::42", "Supervisor", nil, false, true, "office"},
		{"IPv6 with zone is still the host", rules, "2001:db8::42%eth0", "Supervisor", nil, false, true, "office"},
		{"deny beats allow", rules, "10.99.1.1", "Supervisor", nil, false, false, "guest wifi"},
		{"outside every allow", rules, "203.0.113.9", "Supervisor", nil, false, false, ""},
		{"profile-limited allow", rules, "192.0.2.10", "agent", nil, false, true, "agents at home"},
		{"profile-limited allow does not apply to others", rules, "192.0.2.10", "Supervisor", nil, false, false, ""},
		{"unit-limited allow", rules, "198.51.100.7", "", []string{"Day", "night"}, false, true, "night shift vpn"},
		{"profile-limited deny", rules, "10.5.1.1", "Contractor", nil, false, false, "contractors blocked"},
		{"profile-limited deny spares others", rules, "10.5.1.1", "Agent", nil, false, true, "office"},
		{"privileged_ip_access bypasses deny", rules, "10.99.1.1", "Admin", nil, true, true, ""},
		{"privileged_ip_access bypasses allow list", rules, "203.0.113.9", "Admin", nil, true, true, ""},
		{"unknown address refused when rules apply", rules, "", "Agent", nil, false, false, ""},
		{"no rules: allowed", nil, "203.0.113.9", "Agent", nil, false, true, ""},
		{"no rules, unknown address: allowed", nil, "", "Agent", nil, false, true, ""},
		{"inactive rules ignored", []IPRule{rules[4]}, "1.2.3.4", "", nil, false, true, ""},
		{"only deny rules, not matching: allowed", []IPRule{rules[1]}, "10.1.1.1", "", nil, false, true, ""},
		{"rules apply to other users only: allowed", []IPRule{rules[2]}, "203.0.113.9", "Supervisor", nil, false, true, ""},
		{"active allow with no addresses allows nobody it applies to", []IPRule{{Name: "empty", Active: true, Effect: Allow}}, "10.0.0.1", "", nil, false, false, ""},
		{"wildcard * allow", []IPRule{mustRule(t, "all", true, Allow, []string{"*"}, nil, nil)}, "2001:db8::1", "", nil, false, true, "all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			d := EvaluateIP(tc.rules, addr, tc.profile, tc.units, tc.privileged)
			if d.Allowed != tc.allowed || d.Rule != tc.rule || d.Reason == "" {
				t.Errorf("got %+v, want allowed=%v rule=%q", d, tc.allowed, tc.rule)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("::ffff:192.168.0.0/112")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct, no header", "203.0.113.5:4321", "", "203.0.113.5"},
		{"untrusted peer: header ignored", "203.0.113.5:4321", "1.2.3.4", "203.0.113.5"},
		{"trusted peer: last untrusted hop", "10.0.0.2:80", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"walk past trusted hops", "10.0.0.2:80", "6.6.6.6, 203.0.113.9, 10.0.0.3, 10.0.0.4", "203.0.113.9"},
		{"forged left part ignored", "10.0.0.2:80", "1.1.1.1,203.0.113.9", "203.0.113.9"},
		{"all hops trusted: left-most", "10.0.0.2:80", "10.0.0.7, 10.0.0.3", "10.0.0.7"},
		{"malformed hop stops at last good", "10.0.0.2:80", "203.0.113.9, garbage, 10.0.0.3", "10.0.0.3"},
		{"empty entries skipped", "10.0.0.2:80", "203.0.113.9, ,", "203.0.113.9"},
		{"hop with port", "10.0.0.2:80", "203.0.113.9:5555", "203.0.113.9"},
		{"IPv6 peer", "[fd00::1]:443", "2001:db8::5", "2001:db8::5"},
		{"IPv6 hop in brackets with port", "[fd00::1]:443", "[2001:db8::5]:1234", "2001:db8::5"},
		{"mapped peer unmapped", "[::ffff:203.0.113.5]:80", "", "203.0.113.5"},
		{"mapped trusted prefix", "192.168.1.1:80", "203.0.113.9", "203.0.113.9"},
		{"zone stripped", "[fe80::1%eth0]:80", "", "fe80::1"},
		{"bare peer address", "203.0.113.5", "", "203.0.113.5"},
		{"bad peer", "nonsense", "1.2.3.4", ""},
		{"empty peer", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ClientIP(tc.remote, tc.xff, trusted)
			if tc.want == "" {
				if got.IsValid() {
					t.Errorf("got %s, want invalid", got)
				}
				return
			}
			if got != netip.MustParseAddr(tc.want) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if got := ClientIP("10.0.0.2:80", "203.0.113.9", nil); got != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("no trusted proxies: %s", got)
	}
}

func TestParseIPRule(t *testing.T) {
	r, err := ParseIPRule("office", true, "allow", []string{"10.0.0.0/8", "10.1.1.1-10.1.1.9"}, []string{"Agent"}, nil)
	if err != nil || r.Effect != Allow || len(r.Addresses) != 2 || !r.Active || r.Name != "office" || r.Profiles[0] != "Agent" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := ParseIPRule("parked", false, "deny", nil, nil, nil); err != nil {
		t.Errorf("inactive rule without addresses: %v", err)
	}
	_, err = ParseIPRule("bad", true, "permit", []string{"10.*.1.*"}, nil, nil)
	for _, want := range []string{`IP rule "bad"`, "effect", "addresses[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = ParseIPRule("empty", true, "allow", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "at least one address") {
		t.Errorf("error %v", err)
	}
}
