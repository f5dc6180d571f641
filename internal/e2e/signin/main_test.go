package signine2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

const (
	dirName    = "corp"
	adPassword = "Signin-Passw0rd1!"
	// Profiles the sync maps the fixture groups to (see newEnv).
	profAgent      = "Agent"
	profSupervisor = "Supervisor"
	profAdmin      = "Administrator"
)

// One Samba DC per machine (the harness serialises test binaries with a
// lock file), shared by this package's tests; each test works in its own
// OU and groups and syncs into its own SQLite store.
var (
	mainTB    = &harness.MainTB{}
	sambaOnce sync.Once
	samba     *harness.Samba
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopPostgres()
	mainTB.Close()
	os.Exit(code)
}

func sharedSamba(t *testing.T) *harness.Samba {
	t.Helper()
	sambaOnce.Do(func() {
		s := harness.StartSamba(mainTB)
		// A minimum age of 0 lets a password be changed twice in a test;
		// complexity, a minimum length of 7 and a history of 24 stay as
		// provisioned, so the directory's own refusals can be provoked.
		s.Tool(mainTB, "domain", "passwordsettings", "set", "--min-pwd-age=0")
		samba = s
	})
	if samba == nil {
		t.Fatal("samba did not start")
	}
	return samba
}

// adUser is one fixture user; supervisors are mapped to a profile holding
// bypass_sso and privileged_ip_access, everyone else to Agent.
type adUser struct {
	name       string
	supervisor bool
	mustChange bool
}

// env is one scenario: an OU of AD users, a config naming their groups, a
// store (SQLite, or PostgreSQL with newEnvOn) the real sync filled, and
// the sources the sync built.
type env struct {
	t     *testing.T
	samba *harness.Samba
	dir   string
	cfg   *config.Config
	// cfgPath is the config file cfg was loaded from.
	cfgPath string
	st      store.Store
	wired   wire.Sync
	dns     map[string]string // user name -> DN
	// groups are the imported groups' DNs: "agents" and "supervisors".
	groups map[string]string
}

// newEnv creates the users in a fresh OU, writes a config whose directory
// imports the OU's two groups (extraYAML is appended at the top level:
// policy, server, sso sections), and runs a full sync through
// internal/wire.
func newEnv(t *testing.T, ou string, users []adUser, extraYAML string) *env {
	t.Helper()
	dir := t.TempDir()
	return newEnvOn(t, dir, fmt.Sprintf("store: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "dirbridge.db")), ou, users, extraYAML)
}

// newEnvOn is newEnv with the config's store section given (storeYAML,
// one line) and the config written into dir.
func newEnvOn(t *testing.T, dir, storeYAML, ou string, users []adUser, extraYAML string) *env {
	t.Helper()
	s := sharedSamba(t)
	e := &env{t: t, samba: s, dir: dir, dns: map[string]string{}}
	ouDN := s.AddOU(t, ou)
	var agents, sups []string
	for _, u := range users {
		dn := s.AddUser(t, ouDN, harness.SambaUser{Name: u.name, Password: adPassword, MustChange: u.mustChange,
			Mail: u.name + "@mail.example.test"})
		e.dns[u.name] = dn
		if u.supervisor {
			sups = append(sups, dn)
		} else {
			agents = append(agents, dn)
		}
	}
	agentsDN := s.AddGroup(t, ouDN, ou+"-agents", agents...)
	supsDN := s.AddGroup(t, ouDN, ou+"-supervisors", sups...)
	e.groups = map[string]string{"agents": agentsDN, "supervisors": supsDN}

	y := storeYAML + fmt.Sprintf(`profiles:
  - {name: %s, privileges: []}
  - {name: %s, privileges: [bypass_sso, privileged_ip_access]}
  - {name: %s, privileges: [manage_users, bypass_sso, privileged_ip_access]}
directories:
  - name: %s
    kind: ad
    urls: [%q]
    ca_file: %q
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [%q, %q]
    connect_timeout: 5s
    max_deactivations: {count: 100, percent: 100}
    mapping:
      rules:
        - {group: %q, profile: %s}
        - {group: %q, profile: %s}
`, profAgent, profSupervisor, profAdmin, dirName, s.LDAPSURL, s.CAFile,
		s.AdminDN, s.AdminPassword, s.BaseDN, agentsDN, supsDN, supsDN, profSupervisor, agentsDN, profAgent)
	e.cfg = e.loadConfig(y + extraYAML)

	ctx := context.Background()
	st, err := wire.Store(ctx, e.cfg)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.st = st
	if err := wire.SeedProfiles(ctx, st, e.cfg, time.Now()); err != nil {
		t.Fatalf("seed profiles: %v", err)
	}
	e.wired, err = wire.Runner(e.cfg, st, testLogger(t), nil)
	if err != nil {
		t.Fatalf("wire runner: %v", err)
	}
	t.Cleanup(e.wired.Runner.Close)
	e.sync()
	for _, u := range users {
		e.user(u.name)
	}
	return e
}

func (e *env) loadConfig(y string) *config.Config {
	e.t.Helper()
	p := filepath.Join(e.dir, "dirbridge-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		e.t.Fatalf("config: %v\n%s", err, y)
	}
	e.cfgPath = p
	return cfg
}

// sync runs a full sync and fails the test unless it succeeded.
func (e *env) sync() store.SyncRun {
	e.t.Helper()
	run, err := e.wired.Runner.Run(context.Background(), engine.Request{Directory: dirName, Full: true, Trigger: "manual"})
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	if run.Status != store.SyncSucceeded {
		e.t.Fatalf("sync run %s: %+v", run.Status, run)
	}
	return run
}

// user is the synced local user name.
func (e *env) user(name string) store.User {
	e.t.Helper()
	u, err := e.st.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatalf("synced user %s: %v", name, err)
	}
	return u
}

func (e *env) lockout(name string) store.Lockout {
	e.t.Helper()
	l, err := e.st.GetLockout(context.Background(), e.user(name).ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("lock-out of %s: %v", name, err)
	}
	return l
}

// lastAudit is the newest audit event of action whose actor is actor.
func (e *env) lastAudit(action, actor string) store.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action, Actor: actor, Limit: 1})
	if err != nil {
		e.t.Fatalf("audit: %v", err)
	}
	if len(evs) == 0 {
		e.t.Fatalf("no %s audit event for %s", action, actor)
	}
	return evs[0]
}

// hasher is argon2id with cheap parameters: the tests sign in directory
// users and a few local ones, and time matters more than strength here.
func hasher(t *testing.T) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ssoOptions is what the daemon gives the sign-in service for e's config:
// wire.SSOOptions (lock-out, IP rules, trusted proxies, throttle, client
// certificates, ...) plus the runtime parts — store, hasher, catalogue and
// the directories' password checkers built by the sync's wiring.
func (e *env) ssoOptions(h *password.Hasher) sso.Options {
	e.t.Helper()
	return e.ssoOptionsFrom(e.cfg, h)
}

// ssoOptionsFrom is ssoOptions for a variant of e's config.
func (e *env) ssoOptionsFrom(cfg *config.Config, h *password.Hasher) sso.Options {
	e.t.Helper()
	opts, err := wire.SSOOptions(cfg)
	if err != nil {
		e.t.Fatalf("sso options: %v", err)
	}
	cat, err := cfg.Catalogue()
	if err != nil {
		e.t.Fatal(err)
	}
	checkers, changers := e.wired.PasswordCheckers()
	opts.Store, opts.Logger, opts.Hasher, opts.Catalogue = e.st, testLogger(e.t), h, cat
	opts.Directories, opts.Changers = checkers, changers
	if cfg.Server.PublicURL == "" {
		opts.PublicURL = "http://sso.test"
	}
	return opts
}

// serve starts the sign-in service and the admin API on one loopback
// server, mounted as the daemon mounts them.
func (e *env) serve(opts sso.Options) (*httptest.Server, *sso.Service) {
	e.t.Helper()
	h, svc := e.handler(opts)
	web := httptest.NewServer(h)
	e.t.Cleanup(web.Close)
	return web, svc
}

// handler is the daemon's public mux: the admin API under /api/v1/, the
// sign-in service everywhere else.
func (e *env) handler(opts sso.Options) (http.Handler, *sso.Service) {
	e.t.Helper()
	svc, err := sso.New(opts)
	if err != nil {
		e.t.Fatalf("sso.New: %v", err)
	}
	h, _ := opts.Hasher.(*password.Hasher)
	api, err := wire.Admin(e.cfg, wire.AdminDeps{Store: e.st, Logger: testLogger(e.t), Catalogue: opts.Catalogue,
		Hasher: h, Sync: e.wired, SignIn: svc})
	if err != nil {
		e.t.Fatalf("admin API: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	mux.Handle("GET /api/v1/me", svc)
	mux.Handle("/", svc)
	// A stand-in for an IdP's callback: what sso/saml and sso/oidc do once
	// the assertion or token checks out, so a redirect method's sign-in
	// reaches the same finish step with the same client address.
	mux.HandleFunc("GET /test-idp/callback", func(w http.ResponseWriter, r *http.Request) {
		upn := r.URL.Query().Get("upn")
		svc.Finish(w, r, sso.Identity{Method: sso.MethodOIDC, Issuer: "https://idp.example.test", Subject: upn, UPN: upn}, "/app")
	})
	return mux, svc
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step's answer can be checked. It may dial from a
// chosen loopback address (127.0.0.0/8 is all loopback on Linux), which
// gives the server a real, distinct client address.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

type result struct {
	status int
	body   string
	header http.Header
}

func newBrowser(t *testing.T, base string) *browser { return newBrowserFrom(t, base, "") }

func newBrowserFrom(t *testing.T, base, localIP string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if localIP != "" {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
		tr.DialContext = d.DialContext
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) result { return b.do(http.MethodGet, path, nil, nil) }

func (b *browser) post(path string, form url.Values) result {
	return b.do(http.MethodPost, path, form, nil)
}

func (b *browser) do(method, path string, form url.Values, hdr http.Header) result {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return result{status: resp.StatusCode, body: string(raw), header: resp.Header}
}

// login posts the password form.
func (b *browser) login(user, pw string) result {
	b.t.Helper()
	return b.post("/login", url.Values{"username": {user}, "password": {pw}, "return_to": {"/app"}})
}

// signedIn reports whether the browser holds a working session.
func (b *browser) signedIn() bool {
	b.t.Helper()
	return b.get("/api/v1/me").status == http.StatusOK
}

// hiddenValue finds <input type="hidden" name="NAME" value="..."> in a page.
func hiddenValue(page, name string) string {
	marker := `name="` + name + `" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		return ""
	}
	rest := page[i+len(marker):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// wentThrough reports whether a sign-in ended in the redirect to /app.
func wentThrough(r result) bool {
	return r.status == http.StatusSeeOther && r.header.Get("Location") == "/app"
}
