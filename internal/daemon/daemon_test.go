package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestServeProbesProfilesAndShutdown(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store:\n  driver: sqlite\n  dsn: " + db + "\n" +
		"policy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n" +
		"profiles:\n  - {name: Admin, privileges: [manage_users, grant_all]}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{ConfigPath: cfg, Listener: ln}) }()
	base := "http://" + ln.Addr().String()
	get := func(p string) (int, string) {
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		for i := 0; ; i++ {
			res, err := http.Get(base + p)
			if err != nil {
				if i > 50 {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode, string(b)
		}
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Fatalf("healthz %d", c)
	}
	if c, b := get("/readyz"); c != 200 {
		t.Fatalf("readyz %d %s", c, b)
	}
	c, b := get("/metrics")
	if c != 200 || !strings.Contains(b, "dirbridge_http_requests_total") {
		t.Fatalf("metrics %d", c)
	}
	// The build, and refusal counters at zero before any refusal.
	for _, want := range []string{`dirbridge_build_info{goversion="go`, `dirbridge_sso_signins_total{method="password",outcome="denied"} 0`,
		`dirbridge_sso_bypass_signins_total{outcome="failure"} 0`, `dirbridge_sso_verify_requests_total{code="401"} 0`} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if c, b := get("/api/v1/openapi.json"); c != 200 || !strings.Contains(b, "openapi") {
		t.Fatalf("openapi %d", c)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.GetProfile(context.Background(), "Admin")
	if err != nil || !p.FromConfig || len(p.Privileges) != 2 {
		t.Fatalf("seeded profile: %+v %v", p, err)
	}
}
