package daemon

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers and then trickles (here: withholds) the
// body is cut off after server.read_timeout; ReadHeaderTimeout alone never
// ends such a connection.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := startServe(t, "server: {public_url: PUBLIC_URL, read_timeout: 1s, write_timeout: 5s, idle_timeout: 5s}\n", nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: 1000\r\n\r\nusername=le"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(6 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection with a withheld body still open after %s", time.Since(start).Round(time.Millisecond))
			}
			break // closed by the server
		}
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("cut off only after %s", d)
	}
}

// An idle keep-alive connection is closed after server.idle_timeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	e := startServe(t, "server: {public_url: PUBLIC_URL, idle_timeout: 1s}\n", nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(6 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("unexpected bytes on an idle connection")
	} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("idle connection still open after 6s")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed only after %s", d)
	}
}

// With server.internal_listen, /metrics, /readyz, the admin API and the
// console's administration pages answer only there; the public listener
// keeps the sign-in surface, /healthz, My account and GET /api/v1/me for a
// browser session.
func TestInternalListener(t *testing.T) {
	e := startServe(t, "server: {public_url: PUBLIC_URL, internal_listen: INTERNAL_LISTEN}\n", nil)
	get := func(base, path, auth string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		base, path, auth string
		want             int
	}{
		{e.base, "/metrics", "", http.StatusNotFound},
		{e.base, "/readyz", "", http.StatusNotFound},
		{e.base, "/api/v1/users", "Bearer x", http.StatusNotFound},
		{e.base, "/api/v1/me", "Bearer x", http.StatusNotFound},
		{e.base, "/api/v1/me", "", http.StatusUnauthorized}, // the session path, no cookie
		{e.base, "/healthz", "", http.StatusOK},
		{e.base, "/login", "", http.StatusOK},
		{e.internal, "/metrics", "", http.StatusOK},
		{e.internal, "/readyz", "", http.StatusOK},
		{e.internal, "/healthz", "", http.StatusOK},
		{e.internal, "/api/v1/users", "Bearer x", http.StatusUnauthorized},
		{e.internal, "/login", "", http.StatusNotFound},
		{e.internal, "/auth/verify", "", http.StatusNotFound},
		// The console's administration pages move with the API; My
		// account, its forms and the stylesheet stay public.
		{e.base, "/admin/users", "", http.StatusNotFound},
		{e.base, "/admin/static/console.css", "", http.StatusOK},
		{e.internal, "/admin/static/console.css", "", http.StatusOK},
	} {
		if got := get(tc.base, tc.path, tc.auth); got != tc.want {
			where := "public"
			if tc.base == e.internal {
				where = "internal"
			}
			t.Errorf("%s GET %s (auth %q): %d, want %d", where, tc.path, tc.auth, got, tc.want)
		}
	}
}
