package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "migrations: 8 of 9 applied", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/readyz"
	_ = ln.Close()

	out, _, err := run(t, "health", "--url", ready.URL+"/readyz")
	if err != nil || out != "ready\n" {
		t.Fatalf("ready daemon: %q %v", out, err)
	}
	for _, tc := range []struct{ url, want string }{
		{notReady.URL + "/readyz", "503 Service Unavailable: migrations: 8 of 9 applied"},
		{ready.URL + "/nope", "404 Not Found: 404 page not found"},
		{closed, "connection refused"},
	} {
		out, errOut, err := run(t, "health", "--url", tc.url)
		var exit exitError
		if !errors.As(err, &exit) || exit.code != 1 {
			t.Errorf("%s: %v, want exit 1", tc.url, err)
		}
		if out != "" || !strings.HasPrefix(errOut, "not ready: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: stdout %q stderr %q, want %q", tc.url, out, errOut, tc.want)
		}
	}
	if _, _, err := run(t, "health", "now"); err == nil || !strings.Contains(err.Error(), `unknown command "now"`) {
		t.Errorf("health with a word: %v", err)
	}
}

// The image has no shell: its HEALTHCHECK is in exec form and calls a
// command this binary has, with the default URL matching the port the
// image exposes; the state directory exists for the non-root user.
func TestDockerfileHealthcheck(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	var user string
	var stateDir bool
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "HEALTHCHECK "); ok {
			_, form, ok := strings.Cut(rest, "CMD ")
			if !ok || json.Unmarshal([]byte(form), &argv) != nil {
				t.Fatalf("HEALTHCHECK %s: want the exec form CMD [\"...\"] (no shell in the image)", rest)
			}
		}
		if rest, ok := strings.CutPrefix(line, "USER "); ok {
			user = rest
		}
		if strings.HasPrefix(line, "COPY ") && strings.Contains(line, "--chown=65532:65532") && strings.HasSuffix(line, " /var/lib/dirbridge") {
			stateDir = true
		}
	}
	if len(argv) < 2 || argv[0] != "/usr/local/bin/dirbridge" {
		t.Fatalf("HEALTHCHECK runs %q, want /usr/local/bin/dirbridge ...", argv)
	}
	cmd, _, err := newRoot().Find(argv[1:])
	if err != nil || cmd.Name() != "health" {
		t.Fatalf("HEALTHCHECK runs %q: %v", argv, err)
	}
	if err := cmd.ParseFlags(argv[2:]); err != nil || cmd.ValidateArgs(cmd.Flags().Args()) != nil {
		t.Fatalf("HEALTHCHECK arguments %q: %v", argv[2:], err)
	}
	if url := cmd.Flag("url").Value.String(); !strings.Contains(url, ":8080/readyz") || !strings.Contains(string(data), "EXPOSE 8080") {
		t.Errorf("HEALTHCHECK checks %s; the image exposes %v", url, strings.Contains(string(data), "EXPOSE 8080"))
	}
	if user != "nonroot:nonroot" {
		t.Errorf("USER %q, want nonroot:nonroot", user)
	}
	if !stateDir {
		t.Error("the image does not create /var/lib/dirbridge owned by nonroot (COPY --chown=65532:65532 ... /var/lib/dirbridge)")
	}
}
