package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/console"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

const pw = "correct horse battery"

type env struct {
	t   *testing.T
	st  store.Store
	srv *httptest.Server
}

// newEnv serves the sign-in service, the admin API and the console the
// way the daemon mounts them, over a SQLite store with a few users.
func newEnv(t *testing.T, more ...func(*console.Options)) *env {
	t.Helper()
	return newEnvAPI(t, nil, more...)
}

// newEnvAPI is newEnv with further admin API options.
func newEnvAPI(t *testing.T, apiMore func(*admin.Options), more ...func(*console.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	log := zaptest.NewLogger(t)
	signin, err := sso.New(sso.Options{Store: st, Logger: log, PublicURL: srv.URL, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	apiOpts := admin.Options{Store: st, Logger: log, Hasher: h, Directories: []string{"corp"}, Provisioning: []string{"entra"},
		SignInPolicies: func() admin.SignInPolicies { return testPolicies },
		NextSyncs: func(time.Time) map[string]admin.NextSync {
			return map[string]admin.NextSync{"corp": {Incremental: nextIncremental}}
		}}
	if apiMore != nil {
		apiMore(&apiOpts)
	}
	api, err := admin.New(apiOpts)
	if err != nil {
		t.Fatal(err)
	}
	opts := console.Options{API: api, Sessions: signin, Logger: log, Directories: []string{"corp"}}
	for _, f := range more {
		f(&opts)
	}
	con, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	mux.Handle("GET /{$}", con)
	mux.Handle("/admin", con)
	mux.Handle("/admin/", con)
	mux.Handle("/", signin)
	handler = mux

	e := &env{t: t, st: st, srv: srv}
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Tx(ctx, func(tx store.Tx) error {
		for _, p := range []store.Profile{
			{Name: "Agent", Privileges: []string{}},
			{Name: "Supervisor", Privileges: []string{privilege.ManageUsers, privilege.ViewUsers},
				Scopes: map[string]store.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}, privilege.ViewUsers: {Kind: store.ScopeOwnTeams}}},
		} {
			if err := tx.PutProfile(ctx, p); err != nil {
				return err
			}
		}
		for _, u := range []store.User{
			{Username: "root", Superuser: true, PasswordHash: hash},
			{Username: "ann", Profile: "Agent", PasswordHash: hash},
			{Username: "sam", Profile: "Supervisor", Units: []string{"Blue"}, PasswordHash: hash},
			{Username: "blue1", Profile: "Agent", Units: []string{"Blue"}},
			{Username: "red1", Profile: "Agent", Units: []string{"Red"}},
		} {
			u.State, u.Source = store.StateActive, store.SourceLocal
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		for _, name := range []string{"Blue", "Red"} {
			if err := tx.PutTeam(ctx, store.Team{Name: name}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is a signed-in client that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) signIn(user string) *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b := &browser{e: e, c: c}
	res, body := b.do("POST", "/login", url.Values{"username": {user}, "password": {pw}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d %s", user, res.StatusCode, body)
	}
	if loc := res.Header.Get("Location"); loc != "/" {
		e.t.Fatalf("sign-in without a return URL lands on %q, want My account (/)", loc)
	}
	return b
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, string(data)
}

// page GETs path and wants status.
func (b *browser) page(path string, status int) string {
	b.e.t.Helper()
	res, body := b.do("GET", path, nil, nil)
	if res.StatusCode != status {
		b.e.t.Fatalf("GET %s: %d, want %d\n%s", path, res.StatusCode, status, body)
	}
	return body
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post submits a form of the page at from, with that page's token.
func (b *browser) post(from, path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	m := csrfRE.FindStringSubmatch(b.page(from, 200))
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("csrf", m[1])
	return b.do("POST", path, form, nil)
}

func (e *env) user(name string) store.User {
	e.t.Helper()
	u, err := e.st.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) audit(action string) []store.AuditEvent {
	e.t.Helper()
	ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func TestNotSignedInGoesToLogin(t *testing.T) {
	e := newEnv(t)
	b := &browser{e: e, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, _ := b.do("GET", "/admin/users?q=x", nil, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/login?return_to=%2Fadmin%2Fusers%3Fq%3Dx") {
		t.Fatalf("got %d to %q", res.StatusCode, loc)
	}
	if res, _ := b.do("POST", "/admin/users/new", url.Values{"username": {"x"}}, nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous POST: %d", res.StatusCode)
	}
}

func TestAdministratorPages(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	for path, want := range map[string]string{
		"/":                          "My sessions",
		"/admin/":                    "Licences in use",
		"/admin/users":               "blue1",
		"/admin/users?team=Red":      "red1",
		"/admin/users/new":           "Create user",
		"/admin/profiles":            "Supervisor",
		"/admin/profiles/Supervisor": "System Administration",
		"/admin/profiles/new":        "Save profile",
		"/admin/teams":               "Blue",
		"/admin/teams/Blue":          "blue1",
		"/admin/sessions":            "licences in use",
		"/admin/audit":               "Export",
		"/admin/directories":         "corp",
	} {
		body := b.page(path, 200)
		if !strings.Contains(body, want) {
			t.Errorf("%s does not show %q", path, want)
		}
	}
	res, _ := b.do("GET", "/admin/nothing", nil, nil)
	if res.StatusCode != 404 {
		t.Errorf("unknown page: %d", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if body := b.page("/admin/users?team=Red", 200); strings.Contains(body, "blue1") {
		t.Error("team filter shows another team's user")
	}
}

func TestCreateUserKeepsTheFormWhenRefused(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	res, body := b.post("/admin/users/new", "/admin/users/new", url.Values{"username": {"ann"}, "display_name": {"Another Ann"}, "units": {"Blue"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, `value="Another Ann"`) || !strings.Contains(body, `id="username-error"`) {
		t.Fatalf("refused create: %d\n%s", res.StatusCode, body)
	}
	res, _ = b.post("/admin/users/new", "/admin/users/new", url.Values{"username": {"newbie"}, "display_name": {"New Bie"}, "profile": {"Agent"}, "units": {"Blue"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/users/") {
		t.Fatalf("create: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if u := e.user("newbie"); u.Profile != "Agent" || u.Source != store.SourceLocal {
		t.Fatalf("created: %+v", u)
	}
	// Both the refusal and the creation are audited, as for the API.
	if ev := e.audit("user.create"); len(ev) != 2 || ev[0].Actor != "root" || ev[0].Outcome != store.OutcomeSuccess || ev[1].Outcome != store.OutcomeFailure {
		t.Fatalf("audit: %+v", ev)
	}
}

func TestUserActionsGoThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	red := e.user("red1")
	page := "/admin/users/" + red.ID
	res, _ := b.post(page, page+"/deactivate", url.Values{"reason": {"left the company"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", res.StatusCode)
	}
	if u := e.user("red1"); u.State != store.StateInactive {
		t.Fatalf("state %s", u.State)
	}
	if ev := e.audit("user.deactivate"); len(ev) != 1 || ev[0].Actor != "root" || ev[0].SourceIP == "" {
		t.Fatalf("audit: %+v", ev)
	}
	if body := b.page(page+"?done=deactivate", 200); !strings.Contains(body, "User deactivated") || !strings.Contains(body, "left the company") {
		t.Fatal("user page after deactivation")
	}
	res, body := b.post(page, page+"/password", url.Values{"password": {""}})
	if res.StatusCode != 200 || !strings.Contains(body, "shown this once") {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	res, _ = b.post(page, page+"/activate", url.Values{})
	if res.StatusCode != http.StatusSeeOther || e.user("red1").State != store.StateActive {
		t.Fatalf("activate: %d", res.StatusCode)
	}
}

func TestProfileEditor(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	res, _ := b.post("/admin/profiles/Agent", "/admin/profiles/Agent", url.Values{
		"description": {"Takes calls"}, "priv": {privilege.ViewUsers, privilege.ManageUsers},
		"scope." + privilege.ManageUsers: {store.ScopeAssigned}, "teams." + privilege.ManageUsers: {"Blue"},
	})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	p, err := e.st.GetProfile(context.Background(), "Agent")
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != "Takes calls" || len(p.Privileges) != 2 || p.Scopes[privilege.ManageUsers].Kind != store.ScopeAssigned {
		t.Fatalf("profile: %+v", p)
	}
	// manage_teams requires manage_users: the refusal keeps the boxes ticked.
	res, body := b.post("/admin/profiles/new", "/admin/profiles/new", url.Values{"name": {"Team lead"}, "priv": {privilege.ManageTeams}})
	if res.StatusCode < 400 || !strings.Contains(body, `value="Team lead"`) || !strings.Contains(body, `value="manage_teams" checked`) {
		t.Fatalf("refused profile: %d\n%s", res.StatusCode, body)
	}
}

func TestSupervisorSeesOnlyTheirTeam(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("sam")
	body := b.page("/admin/users", 200)
	if !strings.Contains(body, "blue1") || strings.Contains(body, "red1") {
		t.Fatalf("supervisor's list:\n%s", body)
	}
	b.page("/admin/users/"+e.user("red1").ID, 404)
	if body := b.page("/admin/users?team=Red", 200); strings.Contains(body, "red1") {
		t.Fatal("team filter widens the supervisor's reach")
	}
	if strings.Contains(body, `href="/admin/audit"`) {
		t.Fatal("audit log offered without view_audit_log")
	}
}

func TestUserWithoutPrivilegesSeesOnlyMyAccount(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("ann")
	body := b.page("/", 200)
	if !strings.Contains(body, "ann") || strings.Contains(body, `href="/admin/users"`) || strings.Contains(body, `href="/admin/"`) {
		t.Fatalf("my account:\n%s", body)
	}
	for _, p := range []string{"/admin/", "/admin/users", "/admin/profiles", "/admin/audit", "/admin/sessions"} {
		b.page(p, 403)
	}
}

func TestCrossSitePostRefused(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	red := e.user("red1")
	path := "/admin/users/" + red.ID + "/deactivate"
	m := csrfRE.FindStringSubmatch(b.page("/admin/users/"+red.ID, 200))
	// The browser says cross-site: refused even with a valid token.
	res, _ := b.do("POST", path, url.Values{"csrf": {m[1]}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", res.StatusCode)
	}
	res, _ = b.do("POST", path, url.Values{"csrf": {m[1]}}, map[string]string{"Origin": "https://evil.example"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Origin POST: %d", res.StatusCode)
	}
	// No header at all (an old browser): the token decides.
	res, _ = b.do("POST", path, url.Values{"csrf": {"forged"}}, nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged token: %d", res.StatusCode)
	}
	if e.user("red1").State != store.StateActive {
		t.Fatal("a refused POST changed the user")
	}
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	red := e.user("red1")
	b.post("/admin/users/"+red.ID, "/admin/users/"+red.ID+"/unlock", url.Values{})
	res, body := b.do("GET", "/admin/audit/export?format=csv&action=user.unlock", nil, nil)
	if res.StatusCode != 200 || !strings.HasPrefix(body, "id,time,actor,action") || !strings.Contains(body, "user.unlock") {
		t.Fatalf("csv: %d %s", res.StatusCode, body)
	}
	res, body = b.do("GET", "/admin/audit/export?format=json&actor=nobody", nil, nil)
	if res.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("json: %d %s", res.StatusCode, body)
	}
	res, body = b.do("GET", "/admin/audit?since=yesterday", nil, nil)
	if res.StatusCode != 400 || !strings.Contains(body, "since-error") {
		t.Fatalf("bad time: %d", res.StatusCode)
	}
	res, body = b.do("GET", "/admin/audit?outcome=maybe", nil, nil)
	if res.StatusCode != 400 || !strings.Contains(body, "outcome-error") {
		t.Fatalf("bad outcome: %d", res.StatusCode)
	}
}

// TestAuditOutcomeFilter: the outcome filter is the API's, so a page of
// the audit log holds a full page of matching events, however many others
// the log has between them.
func TestAuditOutcomeFilter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		for i := range 250 {
			ev := store.AuditEvent{Actor: "root", Action: "user.unlock", Target: "user:red1", Outcome: store.OutcomeSuccess}
			if i%50 == 0 {
				ev.Outcome, ev.Reason = store.OutcomeDenied, fmt.Sprintf("refusal %d", i)
			}
			if err := tx.AppendAudit(ctx, &ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn("root")
	body := b.page("/admin/audit?action=user.unlock&outcome=denied", 200)
	if n := strings.Count(body, `<span class="state denied">`); n != 5 {
		t.Fatalf("denied events shown: %d, want 5", n)
	}
	if strings.Contains(body, `<span class="state success">`) || !strings.Contains(body, "refusal 200") {
		t.Fatal("the outcome filter let other events through, or lost one")
	}
	res, csvBody := b.do("GET", "/admin/audit/export?format=csv&action=user.unlock&outcome=denied", nil, nil)
	if res.StatusCode != 200 || strings.Count(csvBody, ",denied,") != 5 || strings.Contains(csvBody, ",success,") {
		t.Fatalf("csv export of denied events: %d\n%s", res.StatusCode, csvBody)
	}
}

func TestEditProfileTeamsAndPins(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	red := e.user("red1")
	page := "/admin/users/" + red.ID
	res, _ := b.post(page, page+"/edit", url.Values{"profile": {"Supervisor"}, "units": {"Red, Blue"}, "pinned_profile": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", res.StatusCode)
	}
	if u := e.user("red1"); u.Profile != "Supervisor" || len(u.Units) != 2 || !u.PinnedProfile || u.PinnedUnits {
		t.Fatalf("edited: %+v", u)
	}
	// A supervisor may not move a user of their team out of their reach:
	// refused beside the field, with what was typed kept.
	blue := e.user("blue1")
	s := e.signIn("sam")
	page = "/admin/users/" + blue.ID
	res, body := s.post(page, page+"/edit", url.Values{"profile": {"Agent"}, "units": {"Green"}})
	if res.StatusCode < 400 || !strings.Contains(body, `value="Green"`) || !strings.Contains(body, "field-error") {
		t.Fatalf("refused edit: %d\n%s", res.StatusCode, body)
	}
}

func TestAPIKeysOnMyAccount(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("ann")
	res, body := b.post("/", "/admin/account/apikeys", url.Values{"name": {"report"}})
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("create key: %d\n%s", res.StatusCode, body)
	}
	if body := b.page("/", 200); strings.Contains(body, m[1]) || !strings.Contains(body, "report") {
		t.Fatal("the secret is shown again, or the key is not listed")
	}
	keys, err := e.st.ListAPIKeys(context.Background(), e.user("ann").ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	res, _ = b.post("/", "/admin/account/apikeys/"+keys[0].ID+"/revoke", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if keys, _ := e.st.ListAPIKeys(context.Background(), e.user("ann").ID); keys[0].RevokedAt.IsZero() {
		t.Fatal("not revoked")
	}
}

func TestEndOwnSessionOnMyAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ann, other := e.signIn("ann"), e.signIn("ann")
	e.signIn("root")
	sessions := func(user string) []store.Session {
		t.Helper()
		l, err := e.st.ListSessions(ctx, e.user(user).ID)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	mine := sessions("ann")
	if len(mine) != 2 {
		t.Fatalf("ann's sessions: %d", len(mine))
	}
	// My account offers End on the other session, not on this browser's.
	body := ann.page("/", 200)
	if strings.Count(body, `action="/admin/account/sessions/`) != 1 || !strings.Contains(body, "sign out to end") {
		t.Fatalf("my sessions:\n%s", body)
	}
	id := regexp.MustCompile(`action="/admin/account/sessions/([^/"]+)/end"`).FindStringSubmatch(body)[1]
	// Someone else's session is not ann's to end: not found, and it stays.
	rootID := sessions("root")[0].ID
	if res, _ := ann.post("/", "/admin/account/sessions/"+rootID+"/end", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("ending root's session: %d", res.StatusCode)
	}
	if len(sessions("root")) != 1 {
		t.Fatal("root's session ended by ann")
	}
	res, _ := ann.post("/", "/admin/account/sessions/"+id+"/end", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("end own session: %d", res.StatusCode)
	}
	if left := sessions("ann"); len(left) != 1 || left[0].ID == id {
		t.Fatalf("ann's sessions after ending one: %+v", left)
	}
	// The ended browser is signed out; this one is not.
	if res, _ := other.do("GET", "/", nil, nil); res.StatusCode == http.StatusOK {
		t.Fatal("the ended session still opens My account")
	}
	ann.page("/", 200)
	ev, err := e.st.ListAudit(ctx, store.AuditFilter{Action: "session.end_own"})
	if err != nil || len(ev) != 2 || ev[0].Actor != "ann" {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}

// nextIncremental is when the test server says corp's next scheduled
// incremental sync runs; it schedules no full sync.
var nextIncremental = time.Date(2026, 3, 5, 10, 15, 0, 0, time.UTC)

func TestOverviewShowsNextScheduledSync(t *testing.T) {
	e := newEnv(t)
	body := e.signIn("root").page("/admin/", 200)
	if !strings.Contains(body, "2026-03-05\u00a010:15\u00a0UTC</time> <span class=\"muted\">incremental</span>") || strings.Contains(body, ">full</span>") {
		t.Fatalf("overview's next sync:\n%s", body)
	}
}

// testPolicies are the sign-in policies the test server runs with.
var testPolicies = admin.SignInPolicies{
	Password:     policy.PasswordPolicy{MinLength: 12, MinDigits: 1, History: 5},
	Lockout:      policy.LockoutPolicy{MaxAttempts: 5, Within: 15 * time.Minute},
	ResetEnabled: true, ResetTTL: time.Hour,
	IPRules: []policy.IPRule{{Name: "office", Active: true, Effect: policy.Allow,
		Addresses: mustAddresses("10.0.0.0/8"), Profiles: []string{"Agent"}}},
}

func mustAddresses(s ...string) []policy.AddressPattern {
	a, err := policy.ParseAddresses(s)
	if err != nil {
		panic(err)
	}
	return a
}

func TestSignInPolicyPage(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	body := b.page("/admin/policy", 200)
	for _, want := range []string{"config file", "policy.password", "at least 12 characters", "the last 5 passwords",
		"5 failed sign-ins within 15m0s", "until an administrator unlocks", "Links work for</dt><dd>1h0m0s",
		"<td>office</td>", "10.0.0.0/8", "profiles Agent", `href="/admin/policy" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("policy page lacks %q", want)
		}
	}
	if strings.Contains(body, "<form") && strings.Contains(body, `action="/admin/policy`) {
		t.Error("the read-only policy page has a form")
	}
	// Without manage_users or view_audit_log: no link, and the page is
	// refused by the API's own check.
	ann := e.signIn("ann")
	if body := ann.page("/", 200); strings.Contains(body, `href="/admin/policy"`) {
		t.Error("the policy page is offered to a user without privileges")
	}
	if body := ann.page("/admin/policy", 403); !strings.Contains(body, "You may not see this page") {
		t.Errorf("ann on the policy page:\n%s", body)
	}
}

func TestTeams(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	res, _ := b.post("/admin/teams/new", "/admin/teams/new", url.Values{"name": {"Green"}, "parent": {"Blue"}, "supervisors": {"sam"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create team: %d", res.StatusCode)
	}
	body := b.page("/admin/teams/Green", 200)
	if !strings.Contains(body, "sam") || !strings.Contains(body, `<option selected>Blue</option>`) {
		t.Fatalf("team page:\n%s", body)
	}
	// A supervisor who is not a user: refused beside the field, kept.
	res, body = b.post("/admin/teams/Green", "/admin/teams/Green", url.Values{"description": {"Greens"}, "supervisors": {"ghost"}})
	if res.StatusCode < 400 || !strings.Contains(body, `value="Greens"`) || !strings.Contains(body, "field-error") {
		t.Fatalf("refused update: %d\n%s", res.StatusCode, body)
	}
	res, _ = b.post("/admin/teams/Green", "/admin/teams/Green/delete", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	b.page("/admin/teams/Green", 404)
}

func TestBulkUpdateFromTheList(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	ids := []string{e.user("blue1").ID, e.user("red1").ID}
	res, body := b.post("/admin/users", "/admin/users/bulk", url.Values{"users": ids, "bulk_state": {"inactive"}, "bulk_profile": {"(keep)"}, "back": {"q=1"}})
	if res.StatusCode != 200 || !strings.Contains(body, "2 users changed") {
		t.Fatalf("bulk: %d\n%s", res.StatusCode, body)
	}
	if e.user("blue1").State != store.StateInactive || e.user("red1").State != store.StateInactive || e.user("red1").Profile != "Agent" {
		t.Fatal("bulk change not applied")
	}
	// Nothing ticked: refused, the form kept.
	res, body = b.post("/admin/users", "/admin/users/bulk", url.Values{"bulk_state": {"active"}, "bulk_profile": {"(keep)"}})
	if res.StatusCode != 400 || !strings.Contains(body, "field-error") || !strings.Contains(body, "<option selected>active</option>") {
		t.Fatalf("empty bulk: %d\n%s", res.StatusCode, body)
	}
}

func TestDeleteProfile(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	res, _ := b.post("/admin/profiles/new", "/admin/profiles/new", url.Values{"name": {"Temp"}, "priv": {privilege.ViewUsers}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", res.StatusCode)
	}
	if body := b.page("/admin/profiles/Temp", 200); !strings.Contains(body, "Delete profile") {
		t.Fatal("no delete button for an unused profile")
	}
	if body := b.page("/admin/profiles/Agent", 200); strings.Contains(body, "Delete profile") {
		t.Fatal("delete offered for a profile in use")
	}
	res, _ = b.post("/admin/profiles/Temp", "/admin/profiles/Temp/delete", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	// A profile in use is refused by the API, and the page says why.
	res, body := b.post("/admin/profiles/Agent", "/admin/profiles/Agent/delete", url.Values{})
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "was not deleted") {
		t.Fatalf("delete in use: %d", res.StatusCode)
	}
}

func TestEditOwnDetails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.PutProfile(ctx, store.Profile{Name: "Agent", Privileges: []string{privilege.EditOwnDetails}})
	}); err != nil {
		t.Fatal(err)
	}
	b := e.signIn("ann")
	res, body := b.post("/", "/admin/account/details", url.Values{"display_name": {"Ann A."}, "chat_nickname": {"annie"}, "language": {"not a language!"}})
	if res.StatusCode != 400 || !strings.Contains(body, `id="language-error"`) || !strings.Contains(body, `value="annie"`) {
		t.Fatalf("bad language: %d\n%s", res.StatusCode, body)
	}
	res, _ = b.post("/", "/admin/account/details", url.Values{"display_name": {"Ann A."}, "chat_nickname": {"annie"}, "language": {"en-GB"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	if u := e.user("ann"); u.DisplayName != "Ann A." || u.Language != "en-GB" {
		t.Fatalf("saved: %+v", u)
	}
}

func TestIdPLinksOnAUsersPage(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	red := e.user("red1")
	page := "/admin/users/" + red.ID
	res, _ := b.post(page, page+"/link", url.Values{"issuer": {"https://idp.example"}, "subject": {"abc-123"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("link: %d", res.StatusCode)
	}
	if body := b.page(page, 200); !strings.Contains(body, "abc-123") {
		t.Fatal("link not shown")
	}
	res, body := b.post(page, page+"/link", url.Values{"issuer": {""}, "subject": {""}})
	if res.StatusCode < 400 || !strings.Contains(body, `id="link-error"`) {
		t.Fatalf("empty link: %d", res.StatusCode)
	}
	res, _ = b.post(page, page+"/unlink", url.Values{"issuer": {"https://idp.example"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d", res.StatusCode)
	}
}

func TestGenerateUsers(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("root")
	form := url.Values{"pattern": {"temp{n:2}"}, "count": {"3"}, "start": {"1"}, "profile": {"Agent"}, "units": {"Blue"}, "mode": {"preview"}}
	res, body := b.post("/admin/users/generate", "/admin/users/generate", form)
	if res.StatusCode != 200 || !strings.Contains(body, "temp03") || !strings.Contains(body, "Nothing was changed") {
		t.Fatalf("preview: %d\n%s", res.StatusCode, body)
	}
	if _, err := e.st.GetUserByUsername(context.Background(), "temp01"); err == nil {
		t.Fatal("a preview created users")
	}
	form.Set("mode", "generate")
	res, body = b.post("/admin/users/generate", "/admin/users/generate", form)
	if res.StatusCode != 200 || strings.Count(body, `<code class="secret">`) != 3 {
		t.Fatalf("generate: %d\n%s", res.StatusCode, body)
	}
	if u := e.user("temp02"); u.Profile != "Agent" || !u.MustChangePassword {
		t.Fatalf("generated: %+v", u)
	}
	form.Set("count", "many")
	res, body = b.post("/admin/users/generate", "/admin/users/generate", form)
	if res.StatusCode != 400 || !strings.Contains(body, `id="count-error"`) || !strings.Contains(body, `value="temp{n:2}"`) {
		t.Fatalf("bad count: %d", res.StatusCode)
	}
}

func TestProvisioningStatus(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, func(o *console.Options) {
		o.Provisioning = func() []scim.SourceStatus {
			return []scim.SourceStatus{{Name: "entra", Preset: "azuread", Requests: 7, LastRequestAt: at, LastMethod: "PATCH", LastPath: "/scim/v2/Users/1", LastStatus: 200}}
		}
	})
	if body := e.signIn("root").page("/admin/directories", 200); !strings.Contains(body, "entra") || !strings.Contains(body, "PATCH /scim/v2/Users/1") {
		t.Fatalf("directories page:\n%s", body)
	}
	// Someone the API does not let read the directories sees neither.
	e.signIn("ann").page("/admin/directories", 403)

	// A new token, shown once on the page; a second one replaces it.
	root := e.signIn("root")
	res, body := root.post("/admin/directories", "/admin/provisioning/entra/token", url.Values{})
	if res.StatusCode != 200 || !strings.Contains(body, "not shown again") || !strings.Contains(body, `class="secret"`) || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new token: %d\n%s", res.StatusCode, body)
	}
	if _, body = root.post("/admin/directories", "/admin/provisioning/entra/token", url.Values{}); !strings.Contains(body, "replaces the old one") {
		t.Fatalf("second token:\n%s", body)
	}
	if res, body = root.post("/admin/directories", "/admin/provisioning/nope/token", url.Values{}); res.StatusCode != 404 || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("unknown source: %d", res.StatusCode)
	}
}

// TestUserPageExplainsTheMapping: a directory user's page shows the
// directory groups, the rules matched and the rule behind the profile and
// each team (the API's explain); a local user's page shows none of it.
func TestUserPageExplainsTheMapping(t *testing.T) {
	m, err := mapping.NewMapper(mapping.Config{Directory: "corp", Rules: []mapping.Rule{
		{Group: "CC-Supervisors", Profile: "Supervisor", Units: []string{"Blue"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvAPI(t, func(o *admin.Options) {
		o.Mappings = map[string]admin.DirectoryMapping{"corp": {Mapper: m, LinkBy: mapping.LinkByUsername}}
	})
	ctx := context.Background()
	dora := store.User{Username: "dora", State: store.StateActive, Source: "corp", Anchor: "u-dora", Profile: "Supervisor", Units: []string{"Blue"}}
	err = e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &dora); err != nil {
			return err
		}
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{
			{Directory: "corp", Anchor: "g-sup", Kind: store.EntryGroup, Name: "CC-Supervisors", DN: "cn=CC-Supervisors,ou=groups,dc=example,dc=org", Groups: []string{"u-dora"}},
			{Directory: "corp", Anchor: "u-dora", Kind: store.EntryUser, Name: "dora", DN: "uid=dora,ou=people,dc=example,dc=org", Groups: []string{"g-sup"}, UserID: dora.ID},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn("root")
	body := b.page("/admin/users/"+dora.ID, 200)
	for _, want := range []string{"From the directory", "CC-Supervisors", "rule 1 (group CC-Supervisors)"} {
		if !strings.Contains(body, want) {
			t.Errorf("dora's page lacks %q", want)
		}
	}
	if body := b.page("/admin/users/"+e.user("red1").ID, 200); strings.Contains(body, "From the directory") {
		t.Error("a local user's page explains a mapping")
	}
}

// TestUsersFilterLockedAndExpiring: the users list narrows to who is
// locked out now and to whose password or account expires soon, and the
// filters survive paging links.
func TestUsersFilterLockedAndExpiring(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	red, blue := e.user("red1"), e.user("blue1")
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutLockout(ctx, store.Lockout{UserID: red.ID, FailedAttempts: 5, LockedUntil: time.Now().Add(time.Hour)}); err != nil {
			return err
		}
		blue.PasswordExpiresAt = time.Now().Add(3 * 24 * time.Hour)
		return tx.UpdateUser(ctx, &blue)
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn("root")
	for _, tc := range []struct{ query, in, out string }{
		{"locked=true", ">red1<", ">blue1<"},
		{"expiring_days=7", ">blue1<", ">red1<"},
	} {
		body := b.page("/admin/users?"+tc.query, 200)
		if !strings.Contains(body, tc.in) || strings.Contains(body, tc.out) || !strings.Contains(body, "of 1") {
			t.Errorf("%s: want %s alone", tc.query, tc.in)
		}
		if !strings.Contains(body, " selected>") {
			t.Errorf("%s: the form does not show the filter chosen", tc.query)
		}
	}
	if body := b.page("/admin/users?expiring_days=999", 400); !strings.Contains(body, "expiring_days must be at most") {
		t.Error("an out-of-range window is not refused beside its field")
	}
}
