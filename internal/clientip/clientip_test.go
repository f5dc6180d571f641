package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestFromRequest(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.9.0.0/16"), netip.MustParsePrefix("::ffff:172.16.0.0/108")}
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no header", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"untrusted peer: header ignored", "192.0.2.1:5000", []string{"10.1.1.1"}, "192.0.2.1"},
		{"one proxy", "127.0.0.1:5000", []string{"198.51.100.4"}, "198.51.100.4"},
		{"client-sent hop ignored", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.4"}, "198.51.100.4"},
		{"two proxies", "127.0.0.1:5000", []string{"198.51.100.4, 10.9.1.1"}, "198.51.100.4"},
		// A client's own header line comes first; the proxy adds its own
		// line after it. Taking the first line would believe the client.
		{"forged first line", "127.0.0.1:5000", []string{"6.6.6.6", "198.51.100.4"}, "198.51.100.4"},
		{"all hops trusted", "127.0.0.1:5000", []string{"10.9.3.3, 10.9.1.1"}, "10.9.3.3"},
		{"garbage stops the walk", "127.0.0.1:5000", []string{"garbage"}, "127.0.0.1"},
		{"garbage left of the client", "127.0.0.1:5000", []string{"garbage, 198.51.100.4"}, "198.51.100.4"},
		{"untrusted v6 peer", "[::1]:5000", []string{"198.51.100.4"}, "::1"},
		{"v6 client", "127.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"bracketed v6 hop with port", "127.0.0.1:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"mapped peer unmapped", "[::ffff:192.0.2.7]:80", nil, "192.0.2.7"},
		{"mapped trusted prefix", "172.16.0.9:80", []string{"198.51.100.4"}, "198.51.100.4"},
		{"zone dropped", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"bare peer", "192.0.2.1", nil, "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := FromRequest(r, trusted).String(); got != tc.want {
				t.Errorf("remote %s xff %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

func TestInvalidPeer(t *testing.T) {
	if a := Parse("pipe", "198.51.100.4", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}); a.IsValid() {
		t.Fatalf("invalid peer gave %s", a)
	}
}
