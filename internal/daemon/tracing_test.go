package daemon

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestTracingExportsSignIns: with tracing.otlp_endpoint set, a password
// sign-in is exported over OTLP/HTTP as an sso.signin span carrying the
// method and outcome, and /auth/verify is not traced.
func TestTracingExportsSignIns(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	e := startServe(t, "server: {public_url: PUBLIC_URL}\npolicy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n"+
		"profiles:\n  - {name: Agent, privileges: []}\ntracing: {otlp_endpoint: "+collector.URL+"/v1/traces}\n", nil)
	if res, _ := e.do(t, "POST", "/login", url.Values{"username": {"lena"}, "password": {lenaPW}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if res, _ := e.do(t, "POST", "/login", url.Values{"username": {"lena"}, "password": {"wrong-one"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	e.do(t, "GET", "/auth/verify", nil)
	// Shutting down flushes the batch.
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	e.done <- nil // for the cleanup's wait
	mu.Lock()
	all := bytes.Join(got, nil)
	mu.Unlock()
	for _, want := range []string{"sso.signin", "dirbridge.signin.method", "password", "dirbridge.signin.outcome", "success", "failure", "service.name", "dirbridge"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("exported spans lack %q (%d bytes from %d exports)", want, len(all), len(got))
		}
	}
	if bytes.Contains(all, []byte("/auth/verify")) {
		t.Error("/auth/verify was traced")
	}
}
