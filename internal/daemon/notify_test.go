package daemon

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeNotifySocket listens where NOTIFY_SOCKET points, as systemd does for a
// Type=notify unit, and returns the messages the daemon sends.
func fakeNotifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed by the cleanup
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return msgs
}

// next waits for a message containing want, returning it, and fails on a
// timeout. Messages without want before it are returned in skipped.
func next(t *testing.T, msgs <-chan string, want string, within time.Duration) (msg string, skipped []string) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q from the daemon within %s (got %q)", want, within, skipped)
		}
	}
}

// Under a Type=notify unit the daemon says READY=1 once it serves (the
// store migrated, the listener accepting), sends watchdog keep-alives when
// WATCHDOG_USEC asks for them, and STOPPING=1 at shutdown.
func TestNotifiesServiceManager(t *testing.T) {
	msgs := fakeNotifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store: {driver: sqlite, dsn: " + filepath.Join(dir, "db.sqlite") + "}\n" +
		"server: {public_url: http://" + ln.Addr().String() + "}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{ConfigPath: cfg, Listener: ln}) }()

	ready, early := next(t, msgs, "READY=1", 20*time.Second)
	if len(early) > 0 {
		t.Errorf("messages before READY=1: %q", early)
	}
	if !strings.Contains(ready, "STATUS=serving on "+ln.Addr().String()) {
		t.Errorf("READY message %q does not say where it serves", ready)
	}
	// Ready means serving: no retry needed.
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz right after READY=1: %v", err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz right after READY=1: %s", res.Status)
	}
	// The store was migrated before READY=1.
	for i := 0; ; i++ {
		res, err := client.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode == http.StatusOK {
			break
		}
		if i > 100 {
			t.Fatalf("/readyz after READY=1: %s", res.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	next(t, msgs, "WATCHDOG=1", 2*time.Second)
	next(t, msgs, "WATCHDOG=1", 2*time.Second)

	cancel()
	next(t, msgs, "STOPPING=1", 10*time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

// A daemon that cannot start never claims to be ready.
func TestNoReadyWhenStartFails(t *testing.T) {
	msgs := fakeNotifySocket(t)
	err := Run(context.Background(), Options{ConfigPath: filepath.Join(t.TempDir(), "missing.yaml")})
	if err == nil {
		t.Fatal("Run without a config succeeded")
	}
	select {
	case m := <-msgs:
		t.Fatalf("a failed start sent %q", m)
	case <-time.After(200 * time.Millisecond):
	}
}
