package sso

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// BenchmarkVerify measures /auth/verify for a valid session over loopback
// HTTP with keep-alive, client and server in one process on the same
// cores, with the real clock (so the 2 s cache does expire and reload).
// It reports requests per second; the target is 20,000/s on 2 cores.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b, func(o *Options) { o.Now = time.Now })
	e.profile("Agent", "take_calls", "view_reports")
	e.user(store.User{Username: "bench", Email: "bench@example.com", Profile: "Agent", Units: []string{"HQ"}}, alicePW)
	c := e.client()
	if r := e.login(c, "bench", alicePW, false, nil); r.status != http.StatusSeeOther {
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
