package config

import (
	"net/netip"
	"testing"
)

func TestParseIPPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		in, out []string
	}{
		{"10.0.0.5", []string{"10.0.0.5", "::ffff:10.0.0.5"}, []string{"10.0.0.6", "::1"}},
		{" 10.0.0.5 ", []string{"10.0.0.5"}, nil},
		{"10.0.0.5-10.0.0.99", []string{"10.0.0.5", "10.0.0.50", "10.0.0.99"}, []string{"10.0.0.4", "10.0.0.100"}},
		{"10.0.0.5 - 10.0.0.5", []string{"10.0.0.5"}, []string{"10.0.0.6"}},
		{"10.0.0.0/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"11.0.0.0", "9.255.255.255"}},
		{"10.1.2.3/8", []string{"10.9.9.9"}, []string{"11.0.0.0"}},
		{"0.0.0.0/0", []string{"1.2.3.4", "255.255.255.255"}, []string{"::1"}},
		{"192.168.1.7/32", []string{"192.168.1.7"}, []string{"192.168.1.8"}},
		{"10.*.*.*", []string{"10.0.0.0", "10.200.3.4"}, []string{"11.0.0.1"}},
		{"10.20.*.*", []string{"10.20.0.1", "10.20.255.255"}, []string{"10.21.0.0"}},
		{"10.20.30.*", []string{"10.20.30.0", "10.20.30.255"}, []string{"10.20.31.0"}},
		{"*.*.*.*", []string{"0.0.0.0", "8.8.8.8"}, []string{"::"}},
		{"::1", []string{"::1"}, []string{"::2", "127.0.0.1"}},
		{"2001:db8::/32", []string{"2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"2001:db9::", "10.0.0.1"}},
		{"2001:db8::1-2001:db8::ff", []string{"2001:db8::80"}, []string{"2001:db8::100"}},
		{"2001:db8:*:*:*:*:*:*", []string{"2001:db8:1:2:3:4:5:6"}, []string{"2001:db9::"}},
		{"::ffff:10.0.0.0/104", []string{"10.1.2.3"}, []string{"11.0.0.0"}},
		{"fe80::1%eth0", nil, nil}, // refused below
	} {
		p, err := ParseIPPattern(tc.pattern)
		if tc.pattern == "fe80::1%eth0" {
			if err == nil {
				t.Errorf("%q: zone accepted", tc.pattern)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.pattern, err)
			continue
		}
		for _, a := range tc.in {
			if !p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q should contain %s", tc.pattern, a)
			}
		}
		for _, a := range tc.out {
			if p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q should not contain %s", tc.pattern, a)
			}
		}
	}
}

func TestParseIPPatternInvalid(t *testing.T) {
	for _, s := range []string{
		"", " ", "10.0.0", "10.0.0.256", "300.1.1.1", "10.0.0.1/33", "2001:db8::/129", "10.0.0.9-10.0.0.1",
		"10.0.0.1-::1", "10.0.0.1-", "-10.0.0.1", "10.*.5.*", "10.**.*.*", "*", "10.*.*", "10.*.*.*.*",
		"1x.*.*.*", "2001:db8:*", "2001:db8:*:*:*:*:*:g", "example.com", "10.0.0.0/8/8", "10.0.0.1 10.0.0.2",
	} {
		if p, err := ParseIPPattern(s); err == nil {
			t.Errorf("%q accepted as %v", s, p)
		}
	}
}
