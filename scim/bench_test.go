package scim

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store/sqlite"
)

// benchTarget is issue 17's throughput target for 10,000 users on SQLite.
const benchTarget = 1000

// BenchmarkProvisionUsers creates SCIM_BENCH_USERS users (default 10,000)
// through POST /Users on SQLite, each after Entra's userName probe, and
// reports users per second and their ratio to benchTarget. The handler is
// called in-process so the figure is the server's, not the loopback's.
func BenchmarkProvisionUsers(b *testing.B) {
	n := 10000
	if s := os.Getenv("SCIM_BENCH_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(Options{Store: st, Sources: []Source{{Name: "entra", MaxDeactivationsPerHour: 50, LinkDirectoryUsers: true}}, Rules: testRules})
		if err != nil {
			b.Fatal(err)
		}
		token, err := IssueToken(ctx, st, "entra", "bench", false, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for i := range n {
			name := fmt.Sprintf("user%06d@example.com", i)
			probe := httptest.NewRequest("GET", Prefix+"entra/Users?filter=userName+eq+%22"+name+"%22", nil)
			probe.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, probe)
			if w.Code != http.StatusOK {
				b.Fatalf("probe %d: %d %s", i, w.Code, w.Body)
			}
			body := fmt.Sprintf(`{"schemas":["%s"],"userName":"%s","externalId":"ext-%d","active":true,`+
				`"name":{"givenName":"U","familyName":"%d"},"emails":[{"value":"%s","type":"work","primary":true}]}`, SchemaUser, name, i, i, name)
			req := httptest.NewRequest("POST", Prefix+"entra/Users", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+token)
			w = httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Fatalf("create %d: %d %s", i, w.Code, w.Body)
			}
		}
		el := time.Since(start)
		rate := float64(n) / el.Seconds()
		b.ReportMetric(rate, "users/s")
		b.ReportMetric(rate/benchTarget, "x-target")
		b.Logf("%d users in %.2f s: %.0f users/s, %.2f x the target of %d users/s (a run competes for the CPU; note the load average)",
			n, el.Seconds(), rate, rate/benchTarget, benchTarget)
		b.StopTimer()
		_ = st.Close()
	}
}
