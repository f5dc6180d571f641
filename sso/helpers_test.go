package sso

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// fakeClock is the injected clock; it starts at the real time so the
// store's own expiry checks (ephemeral values) agree with ours.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cheapParams keep argon2id fast in tests; production parameters come
// from config.
var cheapParams = password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type env struct {
	t     testing.TB
	st    *sqlite.Store
	svc   *Service
	srv   *httptest.Server
	clock *fakeClock
	reg   *prometheus.Registry
	h     *password.Hasher
	// dbPath is the SQLite file, for a second instance on the same data.
	dbPath string
}

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newEnv starts a Service over a fresh SQLite store behind a loopback
// HTTP server. tweak adjusts the options before New.
func newEnv(t testing.TB, tweak func(*Options)) *env {
	t.Helper()
	return newEnvAt(t, filepath.Join(t.TempDir(), "dirbridge.db"), tweak)
}

// newEnvAt is newEnv on the SQLite file at path, which may be shared with
// another env (a second replica).
func newEnvAt(t testing.TB, path string, tweak func(*Options)) *env {
	t.Helper()
	h, err := password.NewHasher(cheapParams, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: openStore(t, path), clock: newClock(), reg: prometheus.NewRegistry(), h: h, dbPath: path}
	logger := zap.NewNop()
	if tt, ok := t.(*testing.T); ok {
		logger = zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
	}
	opts := Options{
		Store: e.st, Logger: logger, Now: e.clock.Now, PublicURL: "http://sso.test",
		Hasher: h, Registerer: e.reg,
		Lockout:        policy.LockoutPolicy{MaxAttempts: 5, Within: 15 * time.Minute, LockFor: 30 * time.Minute},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
	if tweak != nil {
		tweak(&opts)
	}
	e.svc, err = New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = httptest.NewServer(e.svc)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) profile(name string, privs ...string) {
	e.t.Helper()
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.PutProfile(context.Background(), store.Profile{Name: name, Privileges: privs})
	})
	if err != nil {
		e.t.Fatalf("put profile: %v", err)
	}
}

// user creates an active local user with pw (hashed) unless u says otherwise.
func (e *env) user(u store.User, pw string) store.User {
	e.t.Helper()
	ctx := context.Background()
	if u.State == "" {
		u.State = store.StateActive
	}
	if u.Source == "" {
		u.Source = store.SourceLocal
	}
	if pw != "" {
		hash, err := e.h.Hash(ctx, pw)
		if err != nil {
			e.t.Fatal(err)
		}
		u.PasswordHash = hash
	}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
		e.t.Fatalf("create user %s: %v", u.Username, err)
	}
	return u
}

// client is a browser: a cookie jar, no redirect following.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type result struct {
	status int
	body   string
	header http.Header
}

func (e *env) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) result {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{status: resp.StatusCode, body: sb.String(), header: resp.Header}
}

func (e *env) login(c *http.Client, username, pw string, bypass bool, hdr map[string]string) result {
	e.t.Helper()
	f := url.Values{"username": {username}, "password": {pw}, "return_to": {"/app"}}
	if bypass {
		f.Set("bypass-sso", "1")
	}
	return e.do(c, http.MethodPost, "/login", f, hdr)
}

func (e *env) verify(c *http.Client, query string) result {
	e.t.Helper()
	return e.do(c, http.MethodGet, "/auth/verify"+query, nil, nil)
}

// audits returns the sign-in audit events, oldest first.
func (e *env) audits(action string) []store.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func (e *env) lastAudit(action string) store.AuditEvent {
	e.t.Helper()
	evs := e.audits(action)
	if len(evs) == 0 {
		e.t.Fatalf("no %s audit event", action)
	}
	return evs[len(evs)-1]
}

func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// fakeMethod is a redirect method whose callback turns query parameters
// into an Identity and calls the Finisher, as sso/saml and sso/oidc do.
type fakeMethod struct{ fin Finisher }

func (m *fakeMethod) Name() string { return "Fake IdP" }
func (m *fakeMethod) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /fake/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("fail") != "" {
			m.fin.Fail(w, r, "fake", "https://idp.test", q.Get("fail"))
			return
		}
		m.fin.Finish(w, r, Identity{
			Method: "fake", Issuer: "https://idp.test", Subject: q.Get("sub"), NameID: q.Get("nameid"),
			UPN: q.Get("upn"), Email: q.Get("email"), ImmutableID: q.Get("immutable_id"), Username: q.Get("username"),
			// The IdP vouches for the address unless the test says otherwise.
			EmailVerified: q.Get("email") != "" && q.Get("email_verified") != "false",
			LinkSubject:   q.Get("link"),
			Claims:        map[string]any{"upn": q.Get("upn"), "email": q.Get("email")},
		}, q.Get("return_to"))
	})
}
func (m *fakeMethod) LoginURL(returnTo string) string {
	return "/fake/start?return_to=" + url.QueryEscape(returnTo)
}
func (m *fakeMethod) Start(context.Context) error { return nil }

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
