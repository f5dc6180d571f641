package sso

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// BenchmarkVerify measures /auth/verify for a valid session over loopback
// HTTP with keep-alive, client and server in one process on the same
// cores, with the real clock (so the 2 s cache does expire and reload).
// It reports requests per second; the target is 20,000/s on 2 cores.
func BenchmarkVerify(b *testing.B) { benchVerify(b, nil, "") }

// BenchmarkVerifyIPRules is BenchmarkVerify with IP rules in force (a
// deny rule and an allow rule that apply to the user, three that do not)
// and the client address taken from X-Forwarded-For through a trusted
// proxy, as behind nginx. The target stays 20,000/s on 2 cores.
func BenchmarkVerifyIPRules(b *testing.B) {
	var rules []policy.IPRule
	for _, r := range []struct {
		name, effect    string
		addrs, profiles []string
	}{
		{"quarantine", "deny", []string{"10.66.0.0/16", "10.67.0.0-10.67.255.255"}, nil},
		{"offices", "allow", []string{"192.0.2.0/24", "198.51.100.*", "2001:db8::/32"}, []string{"Agent"}},
		{"admins-vpn", "allow", []string{"10.10.0.0/16"}, []string{"Admin"}},
		{"partners", "deny", []string{"203.0.113.0/24"}, []string{"Partner"}},
		{"lab", "allow", []string{"172.16.0.0/12"}, []string{"Lab"}},
	} {
		rule, err := policy.ParseIPRule(r.name, true, r.effect, r.addrs, r.profiles, nil)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, rule)
	}
	benchVerify(b, rules, "192.0.2.77")
}

func benchVerify(b *testing.B, rules []policy.IPRule, xff string) {
	e := newEnv(b, func(o *Options) { o.Now = time.Now; o.IPRules = rules })
	e.profile("Agent", "take_calls", "view_reports")
	e.user(store.User{Username: "bench", Email: "bench@example.com", Profile: "Agent", Units: []string{"HQ"}}, alicePW)
	c := e.client()
	var hdr map[string]string
	if xff != "" {
		hdr = map[string]string{"X-Forwarded-For": xff}
	}
	if r := e.login(c, "bench", alicePW, false, hdr); r.status != http.StatusSeeOther {
		b.Fatalf("login: %d", r.status)
	}
	cookies := c.Jar.Cookies(mustURL(b, e.srv.URL))
	if len(cookies) != 1 {
		b.Fatalf("cookies: %v", cookies)
	}
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := e.srv.URL + "/auth/verify"

	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.AddCookie(cookies[0])
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	rps := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.Logf("/auth/verify: %d requests in %s = %.0f requests/second", b.N, elapsed.Round(time.Millisecond), rps)
}

// BenchmarkVerifyIPCheck is the IP-rule step of /auth/verify alone (client
// address from X-Forwarded-For, cached decision), free of the loopback
// HTTP noise BenchmarkVerifyIPRules carries on a shared machine.
func BenchmarkVerifyIPCheck(b *testing.B) {
	rule, err := policy.ParseIPRule("offices", true, "allow", []string{"192.0.2.0/24"}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, func(o *Options) { o.IPRules = []policy.IPRule{rule} })
	v := newSessionView(store.Session{}, store.User{Username: "bench"}, nil, time.Now())
	req, _ := http.NewRequest(http.MethodGet, "/auth/verify", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-Forwarded-For", "192.0.2.77")
	b.ReportAllocs()
	for b.Loop() {
		if !e.svc.sess.ipAllowed(req.Context(), req, v) {
			b.Fatal("refused")
		}
	}
}
