package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// clock is a settable clock shared by the server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fakeSync struct {
	mu   sync.Mutex
	reqs []admin.SyncRequest
}

func (f *fakeSync) Trigger(_ context.Context, r admin.SyncRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return "run-1", nil
}

type env struct {
	t     *testing.T
	st    store.Store
	clk   *clock
	srv   *httptest.Server
	sync  *fakeSync
	users map[string]store.User
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith lets a test add options (templates, an inviter) to the
// standard ones.
func newEnvWith(t *testing.T, more func(*admin.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeSync{}
	cat, err := privilege.NewCatalogue([]privilege.Info{{Name: "app_take_calls", Group: "Calls"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := admin.Options{Store: st, Now: clk.Now, Directories: []string{"corp"}, Sync: fs, Hasher: hasher, Privileges: cat}
	if more != nil {
		more(&opts)
	}
	a, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, clk: clk, srv: srv, sync: fs, users: map[string]store.User{}}

	e.profile("Admins", "manage_users", "manage_profiles", "view_audit_log", "trigger_sync", "grant_all")
	e.profile("ProfileEditors", "manage_profiles")
	e.profile("UserAdmins", "manage_users", "view_audit_log")
	e.profile("Agents", "app_take_calls")
	e.user("root", "", true)
	e.user("alice", "Admins", false)
	e.user("pete", "ProfileEditors", false)
	e.user("uma", "UserAdmins", false)
	e.user("nobody", "", false)
	return e
}

func (e *env) profile(name string, privs ...string) {
	e.t.Helper()
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.PutProfile(context.Background(), store.Profile{Name: name, Privileges: privs, CreatedAt: e.clk.Now(), UpdatedAt: e.clk.Now()})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) user(name, profile string, super bool) store.User {
	e.t.Helper()
	u := store.User{Username: name, State: store.StateActive, Source: store.SourceLocal, Profile: profile, Superuser: super}
	err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.CreateUser(context.Background(), &u) })
	if err != nil {
		e.t.Fatal(err)
	}
	e.users[name] = u
	return u
}

// key creates an API key for user directly in the store (as the CLI's
// bootstrap path does) and returns its secret.
func (e *env) key(user string) string {
	e.t.Helper()
	var secret string
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		var err error
		secret, _, err = admin.NewAPIKey(context.Background(), tx, e.users[user].ID, "test", e.clk.Now())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// token exchanges a fresh key of user for a bearer token.
func (e *env) token(user string) string {
	e.t.Helper()
	var tr admin.TokenResponse
	e.do("POST", "/api/v1/tokens", "", map[string]string{"api_key": e.key(user)}, 201, &tr)
	return tr.Token
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) err() admin.Error {
	var b admin.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

func (e *env) raw(method, path, token string, body io.Reader) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, header: res.Header}
}

// do sends a JSON request, checks the status and decodes the answer.
func (e *env) do(method, path, token string, in any, want int, out any) resp {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	r := e.raw(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

func (e *env) audit(action string) []store.AuditEvent {
	e.t.Helper()
	ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func TestTokenExpiresAfterTwoHours(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	if !strings.HasPrefix(tok, admin.TokenPrefix) {
		t.Fatalf("token %q lacks prefix", tok)
	}
	e.do("GET", "/api/v1/me", tok, nil, 200, nil)
	e.clk.Add(2*time.Hour - time.Second)
	e.do("GET", "/api/v1/me", tok, nil, 200, nil)
	e.clk.Add(time.Second)
	r := e.do("GET", "/api/v1/me", tok, nil, 401, nil)
	if r.err().Code != admin.CodeUnauthorized || !strings.Contains(r.err().Message, "expired") {
		t.Fatalf("expired token: %+v", r.err())
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestRevokedKeyKillsItsTokensAtOnce(t *testing.T) {
	e := newEnv(t)
	secret := e.key("pete")
	var tr admin.TokenResponse
	e.do("POST", "/api/v1/tokens", "", admin.TokenRequest{APIKey: secret}, 201, &tr)
	var keys admin.APIKeyList
	e.do("GET", "/api/v1/users/me/apikeys", tr.Token, nil, 200, &keys)
	if len(keys.Items) != 1 {
		t.Fatalf("keys: %+v", keys)
	}
	e.do("DELETE", "/api/v1/users/me/apikeys/"+keys.Items[0].ID, tr.Token, nil, 200, nil)
	e.do("GET", "/api/v1/me", tr.Token, nil, 401, nil)
	e.do("POST", "/api/v1/tokens", "", admin.TokenRequest{APIKey: secret}, 401, nil)
	if ev := e.audit("apikey.revoke"); len(ev) != 1 || ev[0].Actor != "pete" || ev[0].Outcome != store.OutcomeSuccess {
		t.Fatalf("revoke audit: %+v", ev)
	}
	if ev := e.audit("token.create"); len(ev) != 2 || ev[0].Outcome != store.OutcomeDenied {
		t.Fatalf("token audit: %+v", ev)
	}
}

func TestKeysAreStoredHashed(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	var created admin.APIKeyCreated
	e.do("POST", "/api/v1/users/me/apikeys", tok, admin.APIKeyInput{Name: "ci"}, 201, &created)
	k, err := e.st.GetAPIKey(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Hash == created.Secret || k.Hash != admin.HashSecret(created.Secret) {
		t.Fatalf("stored hash %q for secret %q", k.Hash, created.Secret)
	}
	var keys admin.APIKeyList
	r := e.do("GET", "/api/v1/users/alice/apikeys", tok, nil, 200, &keys)
	if bytes.Contains(r.body, []byte(created.Secret)) {
		t.Fatal("key list shows the secret")
	}
}

func TestUnauthenticatedVersusForbidden(t *testing.T) {
	e := newEnv(t)
	for name, tok := range map[string]string{"none": "", "garbage": "dbt_nope", "api key": e.key("alice")} {
		r := e.do("GET", "/api/v1/profiles", tok, nil, 401, nil)
		if r.err().Code != admin.CodeUnauthorized {
			t.Errorf("%s: %+v", name, r.err())
		}
	}
	tok := e.token("nobody")
	r := e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "X", Privileges: []string{}}, 403, nil)
	if r.err().Code != admin.CodeForbidden || !strings.Contains(r.err().Message, "manage_profiles") {
		t.Fatalf("403 body: %+v", r.err())
	}
	e.do("GET", "/api/v1/audit", tok, nil, 403, nil)
	if ev := e.audit("profile.create"); len(ev) != 1 || ev[0].Outcome != store.OutcomeDenied || ev[0].Actor != "nobody" {
		t.Fatalf("denied call not audited: %+v", ev)
	}
}

func TestDeactivatedUserTokenRefused(t *testing.T) {
	e := newEnv(t)
	admTok, peteTok := e.token("alice"), e.token("pete")
	e.do("GET", "/api/v1/me", peteTok, nil, 200, nil)
	e.do("POST", "/api/v1/users/pete/deactivate", admTok, admin.DeactivateRequest{Reason: "left"}, 200, nil)
	e.do("GET", "/api/v1/me", peteTok, nil, 401, nil)
}

func TestGrantEscalationIsRefusedAndAudited(t *testing.T) {
	e := newEnv(t)
	tok := e.token("pete") // manage_profiles only
	r := e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Sneaky", Privileges: []string{"manage_profiles", "manage_users", "grant_all"}}, 403, nil)
	if r.err().Code != admin.CodeEscalation || !strings.Contains(r.err().Message, "grant_all, manage_users") {
		t.Fatalf("escalation: %+v", r.err())
	}
	ev := e.audit("profile.create")
	if len(ev) != 1 || ev[0].Outcome != store.OutcomeDenied || ev[0].Actor != "pete" || ev[0].Target != "profile:Sneaky" || ev[0].SourceIP != "127.0.0.1" {
		t.Fatalf("escalation audit: %+v", ev)
	}
	if _, err := e.st.GetProfile(context.Background(), "Sneaky"); err == nil {
		t.Fatal("refused profile was created")
	}
	// Granting what it holds is fine.
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Editors2", Privileges: []string{"manage_profiles"}}, 201, nil)
	// A user admin cannot hand itself (or anyone) a profile with more.
	utok := e.token("uma")
	p := "Admins"
	r = e.do("PATCH", "/api/v1/users/nobody", utok, admin.UserPatch{Profile: &p}, 403, nil)
	if r.err().Code != admin.CodeEscalation {
		t.Fatalf("profile assignment escalation: %+v", r.err())
	}
	custom := []string{"grant_all"}
	e.do("PATCH", "/api/v1/users/nobody", utok, admin.UserPatch{CustomPrivileges: &custom}, 403, nil)
	super := true
	e.do("PATCH", "/api/v1/users/uma", utok, admin.UserPatch{Superuser: &super}, 403, nil)
	// Nor make an API key for a more privileged user.
	e.do("POST", "/api/v1/users/alice/apikeys", utok, admin.APIKeyInput{Name: "x"}, 403, nil)
	if ev := e.audit("user.update"); len(ev) != 3 {
		t.Fatalf("user.update denials audited %d times, want 3", len(ev))
	}
	// grant_all holders may grant anything.
	atok := e.token("alice")
	e.do("POST", "/api/v1/profiles", atok, admin.ProfileInput{Name: "Support", Privileges: []string{"bypass_sso", "app_take_calls"}}, 201, nil)
}

func TestProfileLifecycle(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	var p admin.Profile
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Team Leads", Description: "leads", Privileges: []string{"view_audit_log", "view_audit_log"}}, 201, &p)
	if !slices.Equal(p.Privileges, []string{"view_audit_log"}) {
		t.Fatalf("privileges not deduplicated: %v", p.Privileges)
	}
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Team Leads", Privileges: []string{}}, 409, nil)
	e.do("PUT", "/api/v1/profiles/Team%20Leads", tok, admin.ProfileInput{Privileges: []string{"trigger_sync"}}, 200, &p)
	if !slices.Equal(p.Privileges, []string{"trigger_sync"}) {
		t.Fatalf("update: %+v", p)
	}
	e.do("PUT", "/api/v1/profiles/Ghost", tok, admin.ProfileInput{Privileges: []string{}}, 404, nil)
	r := e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Bad", Privileges: []string{"fly"}}, 400, nil)
	if r.err().Field != "privileges[0]" {
		t.Fatalf("unknown privilege: %+v", r.err())
	}
	var list admin.ProfileList
	e.do("GET", "/api/v1/profiles", tok, nil, 200, &list)
	if len(list.Items) != 5 {
		t.Fatalf("profiles: %+v", list)
	}
}

func TestProfileDeleteInUse(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	r := e.do("DELETE", "/api/v1/profiles/Agents", tok, nil, 204, nil)
	_ = r
	e.user("agent1", "ProfileEditors", false)
	r = e.do("DELETE", "/api/v1/profiles/ProfileEditors", tok, nil, 409, nil)
	if r.err().Code != admin.CodeInUse || !strings.Contains(r.err().Message, "2 user") {
		t.Fatalf("in use: %+v", r.err())
	}
	if ev := e.audit("profile.delete"); len(ev) != 2 || ev[0].Outcome != store.OutcomeFailure || ev[1].Outcome != store.OutcomeSuccess {
		t.Fatalf("delete audit: %+v", ev)
	}
	e.do("DELETE", "/api/v1/profiles/Nope", tok, nil, 404, nil)
}

func TestConfigProfilesAreReadOnly(t *testing.T) {
	e := newEnv(t)
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.PutProfile(context.Background(), store.Profile{Name: "FromFile", Privileges: []string{"bypass_sso"}, FromConfig: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token("alice")
	r := e.do("PUT", "/api/v1/profiles/FromFile", tok, admin.ProfileInput{Privileges: []string{}}, 409, nil)
	if r.err().Code != admin.CodeConfigManaged {
		t.Fatalf("%+v", r.err())
	}
	e.do("DELETE", "/api/v1/profiles/FromFile", tok, nil, 409, nil)
}

func TestBadInputIs400WithField(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	cases := []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"unknown field", "/api/v1/profiles", `{"name":"A","privileges":[],"colour":"red"}`, 400, admin.CodeUnknownField, "colour"},
		{"wrong type", "/api/v1/profiles", `{"name":"A","privileges":"manage_users"}`, 400, admin.CodeInvalidField, "privileges"},
		{"missing privileges", "/api/v1/profiles", `{"name":"A"}`, 400, admin.CodeInvalidField, "privileges"},
		{"empty name", "/api/v1/profiles", `{"name":" ","privileges":[]}`, 400, admin.CodeInvalidField, "name"},
		{"syntax", "/api/v1/profiles", `{"name":`, 400, admin.CodeInvalidJSON, ""},
		{"garbage", "/api/v1/profiles", `not json`, 400, admin.CodeInvalidJSON, ""},
		{"two values", "/api/v1/profiles", `{"name":"A","privileges":[]} {}`, 400, admin.CodeInvalidJSON, ""},
		{"empty", "/api/v1/profiles", ``, 400, admin.CodeInvalidJSON, ""},
		{"too large", "/api/v1/profiles", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, admin.CodeTooLarge, ""},
		{"nested type", "/api/v1/users/nobody", `{"pinned_units":"yes"}`, 400, admin.CodeInvalidField, "pinned_units"},
		{"bad directory", "/api/v1/sync", `{"directory":"nope"}`, 400, admin.CodeInvalidField, "directory"},
	}
	for _, c := range cases {
		method := "POST"
		if strings.HasPrefix(c.path, "/api/v1/users/") {
			method = "PATCH"
		}
		r := e.raw(method, c.path, tok, strings.NewReader(c.body))
		if r.status != c.status || r.err().Code != c.code || r.err().Field != c.field {
			t.Errorf("%s: %d %+v, want %d %s field %q", c.name, r.status, r.err(), c.status, c.code, c.field)
		}
	}
	for _, q := range []struct{ path, field string }{
		{"/api/v1/users?limit=x", "limit"},
		{"/api/v1/users?limit=100000", "limit"},
		{"/api/v1/users?state=asleep", "state"},
		{"/api/v1/users?locked=yes", "locked"},
		{"/api/v1/users?expiring_days=400", "expiring_days"},
		{"/api/v1/users?expiring_days=-1", "expiring_days"},
		{"/api/v1/audit?since=yesterday", "since"},
		{"/api/v1/audit?outcome=maybe", "outcome"},
	} {
		r := e.do("GET", q.path, tok, nil, 400, nil)
		if r.err().Field != q.field {
			t.Errorf("%s: %+v", q.path, r.err())
		}
	}
	r := e.do("PUT", "/api/v1/tokens", "", nil, 405, nil)
	if r.err().Code != admin.CodeMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Errorf("405: %+v allow %q", r.err(), r.header.Get("Allow"))
	}
	if r := e.do("GET", "/api/v1/nothing", tok, nil, 404, nil); r.err().Code != admin.CodeRouteNotFound {
		t.Errorf("404: %+v", r.err())
	}
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	for i := range 7 {
		e.user("agent"+string(rune('a'+i)), "Agents", false)
	}
	var list admin.UserList
	e.do("GET", "/api/v1/users?profile=Agents&limit=3&offset=3", tok, nil, 200, &list)
	if list.Total != 7 || len(list.Items) != 3 || list.Offset != 3 {
		t.Fatalf("page: total %d items %d", list.Total, len(list.Items))
	}
	var d admin.UserDetail
	e.do("GET", "/api/v1/users/agenta", tok, nil, 200, &d)
	if d.Username != "agenta" || !slices.Equal(d.Privileges, []string{"app_take_calls"}) {
		t.Fatalf("detail: %+v", d)
	}
	e.do("GET", "/api/v1/users/"+d.ID, tok, nil, 200, nil)
	e.do("GET", "/api/v1/users/ghost", tok, nil, 404, nil)

	// Deactivation revokes sessions.
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "s1", UserID: d.ID, Method: "password", CreatedAt: e.clk.Now(), LastSeenAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	var u admin.User
	e.do("POST", "/api/v1/users/agenta/deactivate", tok, nil, 200, &u)
	if u.State != "inactive" || u.DeactivatedReason != "deactivated by admin" {
		t.Fatalf("deactivate: %+v", u)
	}
	if s, _ := e.st.ListSessions(ctx, d.ID); len(s) != 0 {
		t.Fatalf("sessions survive deactivation: %+v", s)
	}
	if ev := e.audit("user.deactivate"); len(ev) != 1 || ev[0].Details["sessions_revoked"] != float64(1) && ev[0].Details["sessions_revoked"] != 1 {
		t.Fatalf("deactivate audit: %+v", ev)
	}
	e.do("POST", "/api/v1/users/agenta/activate", tok, nil, 200, &u)
	if u.State != "active" {
		t.Fatal("not reactivated")
	}
	e.do("POST", "/api/v1/users/alice/deactivate", tok, nil, 403, nil) // herself

	// Unlock clears the lock-out.
	_, err = e.st.UpdateLockout(ctx, d.ID, func(l store.Lockout) (store.Lockout, error) {
		l.FailedAttempts, l.LockedUntil = 5, e.clk.Now().Add(time.Hour)
		return l, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/v1/users/agenta", tok, nil, 200, &d)
	if d.LockedUntil == nil || d.Failed != 5 {
		t.Fatalf("lock not shown: %+v", d)
	}
	d = admin.UserDetail{}
	e.do("POST", "/api/v1/users/agenta/unlock", tok, nil, 200, &d)
	if d.LockedUntil != nil || d.Failed != 0 {
		t.Fatalf("still locked: %+v", d)
	}

	// Superusers are out of reach of plain administrators.
	e.do("POST", "/api/v1/users/root/deactivate", tok, nil, 403, nil)

	// Pin and set units.
	pin, units := true, []string{"HQ"}
	e.do("PATCH", "/api/v1/users/agentb", tok, admin.UserPatch{PinnedProfile: &pin, Units: &units}, 200, &d)
	if !d.PinnedProfile || !slices.Equal(d.Units, units) {
		t.Fatalf("patch: %+v", d)
	}

	// A profile change ends the user's sessions (signed in under the old
	// privileges); a units change alone does not.
	ctx = context.Background()
	agentb := e.users["agentb"]
	now := e.clk.Now()
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "agentb-1", UserID: agentb.ID, Method: "oidc", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	units = []string{"HQ", "Floor 2"}
	e.do("PATCH", "/api/v1/users/agentb", tok, admin.UserPatch{Units: &units}, 200, nil)
	if _, err := e.st.GetSession(ctx, "agentb-1"); err != nil {
		t.Fatalf("units change ended the session: %v", err)
	}
	profile := "UserAdmins"
	e.do("PATCH", "/api/v1/users/agentb", tok, admin.UserPatch{Profile: &profile}, 200, nil)
	if _, err := e.st.GetSession(ctx, "agentb-1"); err == nil {
		t.Fatal("profile change kept the session")
	}
}

func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	var pr admin.PasswordResetResponse
	e.do("POST", "/api/v1/users/nobody/password", tok, nil, 200, &pr)
	if len(pr.Password) != 20 || !pr.MustChangePassword {
		t.Fatalf("reset: %+v", pr)
	}
	u, _ := e.st.GetUserByUsername(context.Background(), "nobody")
	if err := password.Verify(u.PasswordHash, pr.Password); err != nil || !u.MustChangePassword {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	r := e.do("POST", "/api/v1/users/nobody/password", tok, admin.PasswordResetRequest{Password: "short"}, 400, nil)
	if r.err().Field != "password" {
		t.Fatalf("%+v", r.err())
	}
	ev := e.audit("user.password_reset")
	if len(ev) != 2 || bytes.Contains(mustJSON(ev), []byte(pr.Password)) {
		t.Fatalf("reset audit: %+v", ev)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestAuditFilters(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	start := e.clk.Now()
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "P1", Privileges: []string{}}, 201, nil)
	e.clk.Add(time.Hour)
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "P2", Privileges: []string{}}, 201, nil)
	var list admin.AuditList
	e.do("GET", "/api/v1/audit?action=profile.create&actor=alice", tok, nil, 200, &list)
	if len(list.Items) != 2 || list.Items[0].Target != "profile:P2" {
		t.Fatalf("audit: %+v", list)
	}
	since := start.Add(30 * time.Minute).Format(time.RFC3339)
	e.do("GET", "/api/v1/audit?action=profile.create&since="+since, tok, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Target != "profile:P2" {
		t.Fatalf("since: %+v", list)
	}
	e.do("GET", "/api/v1/audit?target=profile:P1", tok, nil, 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("target: %+v", list)
	}
	// A refused creation (the name is taken) is the one failure among
	// the creations; the store selects by outcome.
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "P1", Privileges: []string{}}, 409, nil)
	for outcome, want := range map[string]int{store.OutcomeSuccess: 2, store.OutcomeFailure: 1, store.OutcomeDenied: 0} {
		e.do("GET", "/api/v1/audit?action=profile.create&outcome="+outcome, tok, nil, 200, &list)
		if len(list.Items) != want {
			t.Errorf("outcome %s: %d events, want %d: %+v", outcome, len(list.Items), want, list.Items)
		}
		for _, ev := range list.Items {
			if ev.Outcome != outcome {
				t.Errorf("outcome %s: got %+v", outcome, ev)
			}
		}
	}
}

func TestSyncEndpoints(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	var started admin.SyncStarted
	e.do("POST", "/api/v1/sync", tok, admin.SyncInput{Directory: "corp", Full: true, DryRun: true}, 202, &started)
	if started.RunID != "run-1" || len(e.sync.reqs) != 1 || !e.sync.reqs[0].DryRun || e.sync.reqs[0].Actor != "alice" {
		t.Fatalf("sync: %+v %+v", started, e.sync.reqs)
	}
	if ev := e.audit("sync.start"); len(ev) != 1 || ev[0].Target != "directory:corp" {
		t.Fatalf("sync audit: %+v", ev)
	}
	e.do("POST", "/api/v1/sync", e.token("pete"), admin.SyncInput{Directory: "corp"}, 403, nil)

	ctx := context.Background()
	now := e.clk.Now()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateSyncRun(ctx, store.SyncRun{ID: "r1", Directory: "corp", Trigger: "manual", Status: store.SyncSucceeded, StartedAt: now, FinishedAt: now, Counts: store.SyncCounts{Created: 2}, Plan: json.RawMessage(`[{"op":"create"}]`)}); err != nil {
			return err
		}
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{
			{Directory: "corp", Anchor: "g1", Kind: store.EntryGroup, DN: "CN=Agents,DC=corp,DC=example,DC=com", Name: "Agents", UpdatedAt: now},
			{Directory: "corp", Anchor: "u1", Kind: store.EntryUser, DN: "CN=A,DC=corp,DC=example,DC=com", Name: "a", UpdatedAt: now},
			{Directory: "corp", Anchor: "u2", Kind: store.EntryUser, DN: "CN=B,DC=emea,DC=example,DC=com", Name: "b", UpdatedAt: now},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var runs admin.SyncRunList
	e.do("GET", "/api/v1/sync/runs?directory=corp", tok, nil, 200, &runs)
	if len(runs.Items) != 1 || runs.Items[0].Counts.Created != 2 || runs.Items[0].Plan != nil {
		t.Fatalf("runs: %+v", runs)
	}
	var run admin.SyncRun
	e.do("GET", "/api/v1/sync/runs/r1", tok, nil, 200, &run)
	if string(run.Plan) == "" {
		t.Fatal("run without plan")
	}
	e.do("GET", "/api/v1/sync/runs/none", tok, nil, 404, nil)

	var st admin.DirectoryStats
	e.do("GET", "/api/v1/directories/corp/stats", tok, nil, 200, &st)
	if st.UsersImported != 2 || st.GroupsImported != 1 || !slices.Equal(st.Domains, []string{"corp.example.com", "emea.example.com"}) {
		t.Fatalf("stats: %+v", st)
	}
	e.do("GET", "/api/v1/directories/other/stats", tok, nil, 404, nil)

	// Map, remap and unmap an imported user.
	var ent admin.DirectoryEntry
	e.do("POST", "/api/v1/directories/corp/entries/u1/map", tok, admin.MapRequest{User: "nobody"}, 200, &ent)
	if ent.UserID != e.users["nobody"].ID {
		t.Fatalf("map: %+v", ent)
	}
	u, _ := e.st.GetUserByUsername(ctx, "nobody")
	if u.Source != "corp" || u.Anchor != "u1" {
		t.Fatalf("mapped user: %+v", u)
	}
	e.do("POST", "/api/v1/directories/corp/entries/u1/map", tok, admin.MapRequest{User: "pete"}, 409, nil)
	e.do("POST", "/api/v1/directories/corp/entries/u1/remap", tok, admin.MapRequest{User: "pete"}, 200, &ent)
	u, _ = e.st.GetUserByUsername(ctx, "nobody")
	if u.Source != store.SourceLocal || u.Anchor != "" {
		t.Fatalf("previous user still linked: %+v", u)
	}
	ent = admin.DirectoryEntry{}
	e.do("POST", "/api/v1/directories/corp/entries/u1/unmap", tok, nil, 200, &ent)
	if ent.UserID != "" {
		t.Fatalf("unmap: %+v", ent)
	}
	var entries admin.DirectoryEntryList
	e.do("GET", "/api/v1/directories/corp/entries?kind=user&mapped=false", tok, nil, 200, &entries)
	if len(entries.Items) != 2 {
		t.Fatalf("entries: %+v", entries)
	}
}

// TestOpenAPIMatchesRoutes checks the served document against the mux in
// both directions: every documented operation reaches a registered handler
// (not the JSON 404/405 fallbacks), and every path the mux serves under
// /api/v1 is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.do("GET", "/api/v1/openapi.json", "", nil, 200, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3 document: %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	wild := regexp.MustCompile(`\{[^}]+\}`)
	ops := 0
	for path, item := range doc.Paths {
		for method := range item {
			ops++
			concrete := wild.ReplaceAllString(path, "x")
			r := e.raw(strings.ToUpper(method), concrete, "", nil)
			if c := r.err().Code; c == admin.CodeRouteNotFound || c == admin.CodeMethodNotAllowed {
				t.Errorf("documented %s %s is not served: %d %s", method, path, r.status, r.body)
			}
		}
	}
	// The other direction: probe every method on every documented path and
	// on paths that are not documented; an undocumented handler would
	// answer something other than the fallbacks.
	for path, item := range doc.Paths {
		concrete := wild.ReplaceAllString(path, "x")
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if _, ok := item[strings.ToLower(m)]; ok {
				continue
			}
			r := e.raw(m, concrete, "", nil)
			if r.status != http.StatusMethodNotAllowed {
				t.Errorf("undocumented %s %s answers %d %s", m, path, r.status, r.body)
			}
		}
	}
	if ops < 25 {
		t.Fatalf("only %d operations documented", ops)
	}
	for _, p := range []string{"/api/v1", "/api/v1/users/x/y", "/api/v1/profile"} {
		if r := e.raw("GET", p, "", nil); r.status != 404 && r.status != 301 {
			t.Errorf("undocumented path %s answers %d", p, r.status)
		}
	}
}

// TestSourceIPTrustsOnlyConfiguredProxies pins the admin API to the one
// client-address rule: behind a trusted proxy a client-written first
// X-Forwarded-For line is not believed, and an untrusted peer's header is
// ignored altogether.
func TestSourceIPTrustsOnlyConfiguredProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		lines   []string
		want    string
	}{
		{"proxy adds a second line", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, []string{"6.6.6.6", "198.51.100.4"}, "198.51.100.4"},
		{"untrusted peer", nil, []string{"198.51.100.4"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(o *admin.Options) { o.TrustedProxies = tc.proxies })
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/profiles", strings.NewReader(`{"name":"Sneaky","privileges":["grant_all"]}`))
			req.Header.Set("Authorization", "Bearer "+e.token("pete"))
			req.Header.Set("Content-Type", "application/json")
			for _, l := range tc.lines {
				req.Header.Add("X-Forwarded-For", l)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			ev := e.audit("profile.create")
			if len(ev) != 1 || ev[0].SourceIP != tc.want {
				t.Fatalf("audit source: %+v, want %s", ev, tc.want)
			}
		})
	}
}

// TestRevokeKeyByID: a superuser revokes anyone's key by its ID alone; a
// user administrator may not revoke a key of someone holding more.
func TestRevokeKeyByID(t *testing.T) {
	e := newEnv(t)
	e.key("alice")
	var keys admin.APIKeyList
	root := e.token("root")
	e.do("GET", "/api/v1/users/alice/apikeys", root, nil, 200, &keys)
	e.do("DELETE", "/api/v1/apikeys/"+keys.Items[0].ID, e.token("uma"), nil, 403, nil)
	e.do("DELETE", "/api/v1/apikeys/nope", root, nil, 404, nil)
	var k admin.APIKey
	e.do("DELETE", "/api/v1/apikeys/"+keys.Items[0].ID, root, nil, 200, &k)
	if k.RevokedAt == nil {
		t.Fatalf("not revoked: %+v", k)
	}
}

// TestOpenAPILintRules pins what linters ask of the document (redocly's
// recommended rules): servers, security declared on every operation
// (empty on public ones), a 4XX answer on every operation, and the
// session cookie on GET /api/v1/me.
func TestOpenAPILintRules(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Servers []map[string]any `json:"servers"`
		Paths   map[string]map[string]struct {
			Security  *[]map[string][]string     `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
		} `json:"components"`
	}
	e.do("GET", "/api/v1/openapi.json", "", nil, 200, &doc)
	if len(doc.Servers) == 0 {
		t.Error("no servers")
	}
	if doc.Components.SecuritySchemes["session"]["in"] != "cookie" {
		t.Errorf("no session cookie scheme: %+v", doc.Components.SecuritySchemes)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.Security == nil {
				t.Errorf("%s %s: no security", method, path)
			}
			has4xx := false
			for code := range op.Responses {
				has4xx = has4xx || code[0] == '4'
			}
			if !has4xx {
				t.Errorf("%s %s: no 4XX response", method, path)
			}
		}
	}
	me := doc.Paths["/api/v1/me"]["get"]
	if me.Security == nil || len(*me.Security) != 2 {
		t.Errorf("GET /api/v1/me security: %+v", me.Security)
	}
	if tok := doc.Paths["/api/v1/tokens"]["post"]; tok.Security == nil || len(*tok.Security) != 0 {
		t.Errorf("POST /api/v1/tokens should declare no security: %+v", tok.Security)
	}
}

// TestUserListLockedAndExpiring: the locked and expiring filters, with
// the total counted under them.
func TestUserListLockedAndExpiring(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	now := e.clk.Now()
	locked := e.user("locked", "Agents", false)
	soon := e.user("soon", "Agents", false)
	e.user("later", "Agents", false)
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutLockout(ctx, store.Lockout{UserID: locked.ID, FailedAttempts: 5, LockedUntil: now.Add(10 * time.Minute)}); err != nil {
			return err
		}
		for name, in := range map[string]time.Duration{"soon": 3 * 24 * time.Hour, "later": 40 * 24 * time.Hour} {
			u := e.users[name]
			u.PasswordExpiresAt = now.Add(in)
			if err := tx.UpdateUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"locked=true", []string{locked.Username}},
		{"locked=false&profile=Agents", []string{"later", "locked", "soon"}},
		{"expiring_days=7", []string{soon.Username}},
		{"expiring_days=60", []string{"later", "soon"}},
		{"expiring_days=7&locked=true", nil},
	} {
		var list admin.UserList
		e.do("GET", "/api/v1/users?"+tc.query, tok, nil, 200, &list)
		var got []string
		for _, u := range list.Items {
			got = append(got, u.Username)
		}
		if !slices.Equal(got, tc.want) || list.Total != len(tc.want) {
			t.Errorf("%s: %v (total %d), want %v", tc.query, got, list.Total, tc.want)
		}
	}
}
