package ssoe2e

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkVerifyThroughDaemon is forward auth as a reverse proxy sees it:
// GET /auth/verify with a valid session cookie over loopback keep-alive
// connections, through the daemon's whole handler chain (request metrics,
// mux, session cache). It reports requests per second; the target is
// 20,000/s on a 2-core machine.
//
//	go test -run '^$' -bench VerifyThroughDaemon ./internal/e2e/sso/
func BenchmarkVerifyThroughDaemon(b *testing.B) {
	c := browser(b)
	wantSignedIn(b, oidcSignIn(b, okta, c, "olivia", "/"), "/")
	req, _ := http.NewRequest(http.MethodGet, okta.base+"/auth/verify", nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	cookie := req.Header.Get("Cookie")
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _ := http.NewRequest(http.MethodGet, okta.base+"/auth/verify", nil)
			r.Header.Set("Cookie", cookie)
			resp, err := client.Do(r)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("verify: %s", resp.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
