// Package daemontest runs the daemon in the test process for the
// end-to-end tests, as `dirbridge serve` would run it: started, waited
// for until ready, and shut down when the test ends.
package daemontest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/daemon"
)

// Start runs daemon.Run with opts until t ends, failing t when the daemon
// does not shut down cleanly then, and returns once base's /readyz answers
// 200 through hc (http.DefaultClient when nil). A daemon that ends before
// it is ready fails t with its error.
func Start(t testing.TB, opts daemon.Options, base string, hc *http.Client) {
	t.Helper()
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not shut down")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("daemon ended before it was ready: %v", err)
		default:
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := hc.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
