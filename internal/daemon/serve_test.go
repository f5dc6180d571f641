package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

const lenaPW = "Lena-Passw0rd1"

// serveEnv is one daemon.Run in this process with its config file.
type serveEnv struct {
	cfgPath   string
	storeLine string
	base      string
	internal  string // the internal listener's base URL, when conf names INTERNAL_LISTEN
	logs      *observer.ObservedLogs
	level     zap.AtomicLevel
	client    *http.Client
	cancel    context.CancelFunc
	done      chan error
}

// startServe writes conf (the store line is added), creates the local
// user lena (profile Agent, e-mail lena@example.test) and runs the daemon
// on a loopback listener until the test ends.
func startServe(t *testing.T, conf string, tlsConf *tls.Config) *serveEnv {
	t.Helper()
	return startServeWith(t, conf, tlsConf, time.Time{})
}

// startServeWith is startServe with lena's password expiring at expires
// (zero: never).
func startServeWith(t *testing.T, conf string, tlsConf *tls.Config, expires time.Time) *serveEnv {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	e := &serveEnv{cfgPath: filepath.Join(dir, "cfg.yaml"), done: make(chan error, 1)}
	e.storeLine = "store: {driver: sqlite, dsn: " + db + "}\n"
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash(lenaPW, password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{Username: "lena", Email: "lena@example.test", State: store.StateActive,
			Source: store.SourceLocal, Profile: "Agent", PasswordHash: hash, PasswordChangedAt: now, PasswordExpiresAt: expires,
			CreatedAt: now, UpdatedAt: now})
	})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	e.level = zap.NewAtomicLevelAt(zap.InfoLevel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	e.base = scheme + "://" + ln.Addr().String()
	var iln net.Listener
	if strings.Contains(conf, "INTERNAL_LISTEN") {
		if iln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		e.internal = scheme + "://" + iln.Addr().String()
		conf = strings.ReplaceAll(conf, "INTERNAL_LISTEN", iln.Addr().String())
	}
	// public_url must name the listener.
	e.rewrite(t, conf)

	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if tlsConf != nil {
		e.client.Transport = &http.Transport{TLSClientConfig: tlsConf}
	}
	var rctx context.Context
	rctx, e.cancel = context.WithCancel(ctx)
	go func() {
		e.done <- Run(rctx, Options{ConfigPath: e.cfgPath, Listener: ln, InternalListener: iln, Logger: zap.New(core), Level: &e.level})
	}()
	t.Cleanup(func() {
		e.cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("no shutdown")
		}
	})
	for i := 0; ; i++ {
		select {
		case err := <-e.done:
			t.Fatalf("Run ended early: %v", err)
		default:
		}
		probe := e.base
		if e.internal != "" {
			probe = e.internal
		}
		if res, err := e.client.Get(probe + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 100 {
			t.Fatal("daemon not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

func (e *serveEnv) do(t *testing.T, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res, string(b)
}

// SIGHUP applies new profiles, IP rules and the log level at once, and
// names what it could not apply.
func TestReloadOnSIGHUP(t *testing.T) {
	// A SIGHUP before Run listens for it would end the test binary.
	hold := make(chan os.Signal, 1)
	signal.Notify(hold, syscall.SIGHUP)
	defer signal.Stop(hold)

	conf := `server: {public_url: PUBLIC_URL}
log: {level: info}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
profiles:
  - {name: Agent, privileges: [view_users]}
`
	e := startServe(t, conf, nil)
	signIn := func() int {
		e.client.Jar, _ = cookiejar.New(nil)
		res, _ := e.do(t, "POST", "/login", url.Values{"username": {"lena"}, "password": {lenaPW}})
		return res.StatusCode
	}
	if c := signIn(); c != http.StatusSeeOther {
		t.Fatalf("sign-in before reload: %d", c)
	}
	if res, _ := e.do(t, "GET", "/auth/verify", nil); res.Header.Get("X-Dirbridge-Privileges") != "view_users" {
		t.Fatalf("privileges before reload %q", res.Header.Get("X-Dirbridge-Privileges"))
	}

	next := `server: {public_url: PUBLIC_URL, shutdown_timeout: 5s}
log: {level: debug}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
  password: {min_length: 14}
  lockout: {max_attempts: 3}
  ip_rules:
    - {name: no-loopback, effect: deny, addresses: [127.0.0.0/8]}
profiles:
  - {name: Agent, privileges: [view_users, trigger_sync]}
`
	e.rewrite(t, next)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.logs.FilterMessage("reload: applied").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged: %v", e.logs.All())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A password sign-in refused by an IP rule answers as a wrong
	// password would; the log (and audit) name the rule.
	if c := signIn(); c != http.StatusUnauthorized {
		t.Errorf("sign-in from loopback after the deny rule: %d, want 401", c)
	}
	byRule := false
	for _, en := range e.logs.FilterMessage("sign-in refused").All() {
		byRule = byRule || strings.Contains(fmt.Sprint(en.ContextMap()["reason"]), `denied by IP rule "no-loopback"`)
	}
	if !byRule {
		t.Errorf("no sign-in refused by the reloaded IP rule in the log")
	}
	if !e.level.Enabled(zap.DebugLevel) {
		t.Errorf("log level not applied")
	}
	warn := e.logs.FilterMessage("reload: these settings changed but need a restart; still running with the old ones").All()
	if len(warn) != 1 || warn[0].ContextMap()["settings"] != "server" {
		t.Errorf("restart warning: %v", warn)
	}
	applied := e.logs.FilterMessage("reload: applied").All()[0].ContextMap()["settings"]
	if applied != "profiles, mapping, policy.ip_rules, policy.password, policy.lockout, policy.username, policy.password_reset.token_ttl, log.level" {
		t.Errorf("applied %v", applied)
	}
	// The policies that changed are named with their old and new values.
	var changed []string
	for _, en := range e.logs.FilterMessage("reload: policy changed").All() {
		changed = append(changed, fmt.Sprint(en.ContextMap()["policy"]))
	}
	if strings.Join(changed, ",") != "policy.lockout,policy.password" {
		t.Errorf("policies logged as changed: %q", changed)
	}
}

// rewrite replaces the config file (store line kept, PUBLIC_URL filled).
func (e *serveEnv) rewrite(t *testing.T, conf string) {
	t.Helper()
	if err := os.WriteFile(e.cfgPath, []byte(e.storeLine+strings.ReplaceAll(conf, "PUBLIC_URL", e.base)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With server.tls the daemon serves HTTPS; with certificate sign-in on it
// asks for a client certificate verified against the CA, and one naming
// lena signs her in with a __Host- cookie.
func TestHTTPSWithClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := harness.NewCA(t, dir)
	server := ca.Issue(t, dir, "server")
	lena := ca.Issue(t, dir, "lena")
	conf := `server:
  public_url: PUBLIC_URL
  tls: {cert_file: ` + server.CertFile + `, key_file: ` + server.KeyFile + `}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
  client_cert: {enabled: true, ca_file: ` + ca.CertFile + `, map_by: cn}
profiles:
  - {name: Agent, privileges: [view_users]}
`
	tc := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	e := startServe(t, conf, tc)

	// No certificate: the site works, certificate sign-in does not.
	if res, _ := e.do(t, "GET", "/healthz", nil); res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("healthz over HTTPS: %d", res.StatusCode)
	}
	if res, _ := e.do(t, "GET", "/login/certificate", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("certificate sign-in without one: %d", res.StatusCode)
	}

	// A certificate from another CA fails the handshake.
	other := harness.NewCA(t, t.TempDir()).Issue(t, t.TempDir(), "lena")
	stranger := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{other.TLS}}}}
	if res, err := stranger.Get(e.base + "/login/certificate"); err == nil {
		_ = res.Body.Close()
		t.Fatalf("a certificate from an unknown CA was accepted: %d", res.StatusCode)
	}

	tc.Certificates = []tls.Certificate{lena.TLS}
	e.client.Transport = &http.Transport{TLSClientConfig: tc}
	res, body := e.do(t, "GET", "/login/certificate?return_to=%2Fapp", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app" {
		t.Fatalf("certificate sign-in: %d %q %.300s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if c := res.Cookies(); len(c) != 1 || c[0].Name != "__Host-dirbridge_session" || !c[0].Secure {
		t.Errorf("session cookie %v", c)
	}
	res, _ = e.do(t, "GET", "/auth/verify", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Dirbridge-User") != "lena" {
		t.Errorf("verify %d user %q", res.StatusCode, res.Header.Get("X-Dirbridge-User"))
	}

	// A renewed certificate in the same files is served after SIGHUP.
	hold := make(chan os.Signal, 1)
	signal.Notify(hold, syscall.SIGHUP)
	defer signal.Stop(hold)
	old := res.TLS.PeerCertificates[0].SerialNumber
	ca.Issue(t, dir, "server")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.logs.FilterMessage("reload: applied").Len() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reload")
		}
	}
	if got := e.logs.FilterMessage("reload: applied").All()[0].ContextMap()["settings"]; !strings.Contains(got.(string), "server.tls certificate") {
		t.Errorf("applied %v", got)
	}
	e.client.Transport.(*http.Transport).CloseIdleConnections()
	res, _ = e.do(t, "GET", "/healthz", nil)
	if res.TLS.PeerCertificates[0].SerialNumber.Cmp(old) == 0 {
		t.Errorf("the old certificate is still served after SIGHUP")
	}
}

// An IdP that cannot be reached at start ends Run with the reason: a
// sign-in button that cannot work is worse than a supervisor's restart.
func TestUnreachableIdPStopsStart(t *testing.T) {
	dir := t.TempDir()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + dead.Addr().String() + "/oauth2/default"
	_ = dead.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store: {driver: sqlite, dsn: " + filepath.Join(dir, "db.sqlite") + "}\n" +
		"server: {public_url: http://" + ln.Addr().String() + "}\n" +
		"policy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n" +
		"sso:\n  oidc: {preset: okta, issuer: " + issuer + ", client_id: c, client_secret: s}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), Options{ConfigPath: cfg, Listener: ln}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "discovery") {
			t.Fatalf("Run: %v, want the discovery failure", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run kept serving without its IdP")
	}
}

// With expiry.enabled the daemon schedules the notice job: lena, whose
// password expires in 3 days, gets her notice from the running daemon.
func TestServeSendsExpiryNotices(t *testing.T) {
	mail := harness.StartSMTP(t, harness.SMTPOptions{})
	conf := `server: {public_url: PUBLIC_URL}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
profiles:
  - {name: Agent, privileges: []}
smtp: {host: 127.0.0.1, port: ` + strconv.Itoa(mail.Port) + `, tls: none, from: "dirbridge <no-reply@example.test>"}
expiry: {enabled: true, schedule: "@every 1s", warn_days: [7], time_zone: UTC}
`
	// Noon three calendar days ahead (UTC): "3 days" at any hour of today.
	now := time.Now().UTC()
	e := startServeWith(t, conf, nil, time.Date(now.Year(), now.Month(), now.Day()+3, 12, 0, 0, 0, time.UTC))
	deadline := time.Now().Add(15 * time.Second)
	for len(mail.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no notice; logs: %v", e.logs.All())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := mail.Messages()[0]
	if len(m.To) != 1 || m.To[0] != "lena@example.test" || !strings.Contains(m.Subject, "3 days") {
		t.Errorf("notice to %v: %q", m.To, m.Subject)
	}
}
