package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
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
// command this binary has, reading the config the image serves; the
// state directory exists for the non-root user.
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
	// It reads the config the image's CMD serves, so it finds the port
	// (internal_listen included) and the TLS the daemon uses.
	if cfg := cmd.Flag("config").Value.String(); cfg == "" || !strings.Contains(string(data), `CMD ["serve", "--config", "`+cfg+`"]`) {
		t.Errorf("HEALTHCHECK reads config %q, not the one the image serves", cfg)
	}
	if user != "nonroot:nonroot" {
		t.Errorf("USER %q, want nonroot:nonroot", user)
	}
	if !stateDir {
		t.Error("the image does not create /var/lib/dirbridge owned by nonroot (COPY --chown=65532:65532 ... /var/lib/dirbridge)")
	}
}

// TestHealthFromConfig: with --config the probe is the daemon's own: the
// internal listener when configured, over TLS trusting exactly the
// configured certificate.
func TestHealthFromConfig(t *testing.T) {
	readyz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	dir := t.TempDir()
	// A private CA, as a site's own: the check must not need it trusted.
	ca := harness.NewCA(t, dir)
	leaf, otherLeaf := ca.Issue(t, dir, "daemon"), ca.Issue(t, dir, "impostor")
	serveTLS := func(c tls.Certificate) *httptest.Server {
		s := httptest.NewUnstartedServer(readyz)
		s.TLS = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
		s.StartTLS()
		return s
	}
	plain := httptest.NewServer(readyz)
	defer plain.Close()
	secure := serveTLS(leaf.TLS)
	defer secure.Close()
	other := serveTLS(otherLeaf.TLS)
	defer other.Close()
	port := func(s *httptest.Server) string {
		return s.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1"):]
	}
	config := func(name, server string) string {
		path := filepath.Join(dir, name+".yaml")
		conf := "server:\n  public_url: https://sso.example.com\n" + server +
			"store:\n  driver: sqlite\n  dsn: " + filepath.Join(dir, "db.sqlite") + "\n"
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tlsConf := "  tls: {cert_file: " + leaf.CertFile + ", key_file: " + leaf.KeyFile + "}\n"
	for _, tc := range []struct {
		name, server, want string
	}{
		{"the public listener", "  listen: \"0.0.0.0" + port(plain) + "\"\n", ""},
		{"the internal listener", "  listen: \"127.0.0.1:1\"\n  internal_listen: \"127.0.0.1" + port(plain) + "\"\n", ""},
		{"over TLS, the configured certificate", "  listen: \":" + port(secure)[1:] + "\"\n" + tlsConf, ""},
		{"over TLS, another certificate", "  listen: \"127.0.0.1" + port(other) + "\"\n" + tlsConf, "not server.tls.cert_file's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := run(t, "health", "--config", config(strings.ReplaceAll(tc.name, " ", "-"), tc.server))
			if tc.want == "" {
				if err != nil || out != "ready\n" {
					t.Fatalf("%q %q %v, want ready", out, errOut, err)
				}
				return
			}
			if err == nil || !strings.Contains(errOut, tc.want) {
				t.Fatalf("%q %q %v, want not ready: %s", out, errOut, err, tc.want)
			}
		})
	}
	if _, _, err := run(t, "health", "--config", config("both", ""), "--url", plain.URL); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("--config with --url: %v", err)
	}
}
