package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// fakePasswords is the sign-in service's side of the password endpoints:
// it records calls and answers with err.
type fakePasswords struct {
	mu     sync.Mutex
	err    error
	change []string // userID/old/new/ip
	reset  []string // username/new/mustChange
}

func (f *fakePasswords) ChangeOwnPassword(_ context.Context, userID, oldPW, newPW string, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.change = append(f.change, fmt.Sprintf("%s/%s/%s/%s", userID, oldPW, newPW, ip))
	return f.err
}

func (f *fakePasswords) ResetDirectoryPassword(_ context.Context, u store.User, newPW string, mustChange bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reset = append(f.reset, fmt.Sprintf("%s/%s/%v", u.Username, newPW, mustChange))
	return f.err
}

func (f *fakePasswords) answer(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// newPasswordEnv is newEnv's users and profiles with opts adjusted (the
// password changer, the history length).
func newPasswordEnv(t *testing.T, tweak func(*admin.Options)) *env {
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
	opts := admin.Options{Store: st, Now: clk.Now, Directories: []string{"corp"}, Hasher: hasher}
	if tweak != nil {
		tweak(&opts)
	}
	a, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, clk: clk, srv: srv, users: map[string]store.User{}}
	e.profile("UserAdmins", "manage_users", "view_audit_log")
	e.user("root", "", true)
	e.user("uma", "UserAdmins", false)
	e.user("nobody", "", false)
	return e
}

// directoryUser adds an imported user of directory corp.
func (e *env) directoryUser(name string, super bool) store.User {
	e.t.Helper()
	u := store.User{Username: name, State: store.StateActive, Source: "corp", Anchor: "anchor-" + name, SAMAccountName: name,
		Superuser: super, PasswordExpiresAt: e.clk.Now().Add(3 * 24 * time.Hour)}
	err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.CreateUser(context.Background(), &u) })
	if err != nil {
		e.t.Fatal(err)
	}
	e.users[name] = u
	return u
}

// TestResetPasswordHistory is the regression test for the reset's place
// in the password history: the replaced password goes first (newest
// first, as the sign-in service keeps it) and the list is cut to the
// configured length, so with a history of 2 the password held just before
// an administrator's reset cannot be chosen at the next change.
func TestResetPasswordHistory(t *testing.T) {
	e := newPasswordEnv(t, func(o *admin.Options) { o.PasswordHistory = 2 })
	ctx := context.Background()
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	hash := func(pw string) string {
		s, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// nobody had P0, then chose P1.
	u := e.users["nobody"]
	u.PasswordHash, u.PasswordHistory = hash("Passw0rd-one"), []string{hash("Passw0rd-zero")}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) }); err != nil {
		t.Fatal(err)
	}
	tok := e.token("uma")
	e.do("POST", "/api/v1/users/nobody/password", tok, admin.PasswordResetRequest{Password: "Reset-passw0rd-1"}, 200, nil)

	got, err := e.st.GetUserByUsername(ctx, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PasswordHistory) != 2 || password.Verify(got.PasswordHistory[0], "Passw0rd-one") != nil || password.Verify(got.PasswordHistory[1], "Passw0rd-zero") != nil {
		t.Fatalf("history after the reset: %d entries, want [Passw0rd-one, Passw0rd-zero]", len(got.PasswordHistory))
	}
	// The change the user must make next, as sso checks it: the current
	// hash first, then the history; the first History entries count.
	pp := policy.PasswordPolicy{MinLength: 9, History: 2}
	history := append([]string{got.PasswordHash}, got.PasswordHistory...)
	verify := func(hash, pw string) bool { return password.Verify(hash, pw) == nil }
	if vs := policy.CheckPassword(pp, "nobody", "Passw0rd-one", history, verify); len(vs) == 0 {
		t.Fatal("the password held before the reset may be chosen again")
	}

	// A second reset keeps two: the first reset's password, then P1.
	e.do("POST", "/api/v1/users/nobody/password", tok, admin.PasswordResetRequest{Password: "Reset-passw0rd-2"}, 200, nil)
	got, _ = e.st.GetUserByUsername(ctx, "nobody")
	if len(got.PasswordHistory) != 2 || password.Verify(got.PasswordHistory[0], "Reset-passw0rd-1") != nil || password.Verify(got.PasswordHistory[1], "Passw0rd-one") != nil {
		t.Fatalf("history after the second reset: %d entries", len(got.PasswordHistory))
	}
	// A local reset always asks for a change.
	r := e.do("POST", "/api/v1/users/nobody/password", tok, map[string]any{"password": "Reset-passw0rd-3", "must_change": false}, 400, nil)
	if r.err().Field != "must_change" {
		t.Fatalf("must_change false on a local user: %+v", r.err())
	}
}

// TestChangeOwnPasswordAPI: POST /api/v1/me/password hands the caller's
// change to the password changer and turns its outcomes into answers, each
// audited.
func TestChangeOwnPasswordAPI(t *testing.T) {
	fp := &fakePasswords{}
	e := newPasswordEnv(t, func(o *admin.Options) { o.Passwords = fp })
	tok := e.token("nobody")
	body := admin.PasswordChangeRequest{OldPassword: "Old-passw0rd", NewPassword: "New-passw0rd-1"}

	e.do("POST", "/api/v1/me/password", tok, body, 204, nil)
	if len(fp.change) != 1 || !strings.HasPrefix(fp.change[0], e.users["nobody"].ID+"/Old-passw0rd/New-passw0rd-1/127.0.0.1") {
		t.Fatalf("changer calls: %v", fp.change)
	}
	ev := e.audit("user.password_change")
	if len(ev) != 1 || ev[0].Outcome != store.OutcomeSuccess || ev[0].Actor != "nobody" || ev[0].Details["self_service"] != true {
		t.Fatalf("audit: %+v", ev)
	}
	if strings.Contains(string(mustJSON(ev)), "passw0rd") {
		t.Fatal("a password in the audit log")
	}

	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"wrong", fmt.Errorf("%w: locked until noon", admin.ErrWrongPassword), 403, admin.CodeWrongPassword},
		{"refused", &admin.PasswordRefusedError{Message: "The password must contain at least 1 digit."}, 422, admin.CodePasswordPolicy},
		{"throttled", admin.ErrThrottled, 429, admin.CodeThrottled},
		{"unavailable", fmt.Errorf("%w: directory down", admin.ErrPasswordUnavailable), 503, admin.CodeUnavailable},
	}
	for _, tc := range cases {
		fp.answer(tc.err)
		r := e.do("POST", "/api/v1/me/password", tok, body, tc.status, nil)
		if r.err().Code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, r.err().Code, tc.code)
		}
		if tc.name == "refused" && r.err().Message != "The password must contain at least 1 digit." {
			t.Errorf("refusal message %q", r.err().Message)
		}
		if strings.Contains(r.err().Message, "locked") {
			t.Errorf("%s: the answer tells of the lock: %q", tc.name, r.err().Message)
		}
		last := e.audit("user.password_change")[0]
		if last.Outcome == store.OutcomeSuccess {
			t.Errorf("%s: audited as success", tc.name)
		}
		if tc.name == "wrong" && !strings.Contains(fmt.Sprint(last.Details["check"]), "locked until noon") {
			t.Errorf("wrong password: audit details %v lack the reason", last.Details)
		}
	}

	// Bad input never reaches the changer.
	fp.answer(nil)
	n := len(fp.change)
	e.do("POST", "/api/v1/me/password", tok, admin.PasswordChangeRequest{NewPassword: "x"}, 400, nil)
	e.do("POST", "/api/v1/me/password", tok, admin.PasswordChangeRequest{OldPassword: "Same-passw0rd", NewPassword: "Same-passw0rd"}, 400, nil)
	e.do("POST", "/api/v1/me/password", "", body, 401, nil)
	if len(fp.change) != n {
		t.Fatalf("bad requests reached the changer: %v", fp.change[n:])
	}

	// Without a changer the endpoint says so.
	e2 := newPasswordEnv(t, nil)
	if r := e2.do("POST", "/api/v1/me/password", e2.token("nobody"), body, 501, nil); r.err().Code != admin.CodeNotImplemented {
		t.Fatalf("no changer: %+v", r.err())
	}
}

// TestResetDirectoryPassword: an administrator's reset of a directory
// user goes to the directory (through the changer), records the change on
// the stored user, and returns the directory's refusals readably.
func TestResetDirectoryPassword(t *testing.T) {
	fp := &fakePasswords{}
	e := newPasswordEnv(t, func(o *admin.Options) { o.Passwords = fp })
	e.directoryUser("dana", false)
	e.directoryUser("dsuper", true)
	ctx := context.Background()
	tok := e.token("uma")

	var out admin.PasswordResetResponse
	mustChange := true
	e.do("POST", "/api/v1/users/dana/password", tok, admin.PasswordResetRequest{MustChange: &mustChange}, 200, &out)
	if len(out.Password) != 20 || !out.MustChangePassword || out.Directory != "corp" || len(out.Warnings) != 0 {
		t.Fatalf("reset: %+v", out)
	}
	if len(fp.reset) != 1 || fp.reset[0] != "dana/"+out.Password+"/true" {
		t.Fatalf("changer calls: %v", fp.reset)
	}
	u, err := e.st.GetUserByUsername(ctx, "dana")
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword || !u.PasswordExpiresAt.IsZero() || !u.PasswordChangedAt.Equal(e.clk.Now()) || u.PasswordHash != "" {
		t.Fatalf("stored user after the reset: must change %v, expires %v, changed %v, hash %q", u.MustChangePassword, u.PasswordExpiresAt, u.PasswordChangedAt, u.PasswordHash)
	}
	ev := e.audit("user.password_reset")
	if len(ev) != 1 || ev[0].Outcome != store.OutcomeSuccess || ev[0].Target != "user:dana" || ev[0].Details["directory"] != "corp" || ev[0].Details["must_change"] != true {
		t.Fatalf("audit: %+v", ev)
	}
	if strings.Contains(string(mustJSON(ev)), out.Password) {
		t.Fatal("the password in the audit log")
	}

	// A chosen password, no must-change: the directory's policy decides,
	// so no local length rule applies.
	out = admin.PasswordResetResponse{}
	e.do("POST", "/api/v1/users/dana/password", tok, admin.PasswordResetRequest{Password: "Short1!"}, 200, &out)
	if out.Password != "" || out.MustChangePassword || fp.reset[1] != "dana/Short1!/false" {
		t.Fatalf("chosen password: %+v, calls %v", out, fp.reset)
	}

	fp.answer(&admin.PasswordRefusedError{Message: "The new password does not meet the length, complexity or history requirements."})
	r := e.do("POST", "/api/v1/users/dana/password", tok, admin.PasswordResetRequest{Password: "x"}, 422, nil)
	if r.err().Code != admin.CodePasswordPolicy || !strings.Contains(r.err().Message, "complexity") || r.err().Field != "password" {
		t.Fatalf("refusal: %+v", r.err())
	}
	if last := e.audit("user.password_reset")[0]; last.Outcome != store.OutcomeFailure {
		t.Fatalf("refusal audited as %q", last.Outcome)
	}

	fp.answer(fmt.Errorf("corp: %w", admin.ErrMustChangeNotSet))
	out = admin.PasswordResetResponse{}
	e.do("POST", "/api/v1/users/dana/password", tok, admin.PasswordResetRequest{MustChange: &mustChange}, 200, &out)
	if len(out.Warnings) != 1 || !out.MustChangePassword {
		t.Fatalf("must-change not recorded by the directory: %+v", out)
	}

	fp.answer(errors.New("LDAP Result Code 50 \"Insufficient Access Rights\""))
	if r := e.do("POST", "/api/v1/users/dana/password", tok, nil, 502, nil); r.err().Code != admin.CodeDirectory || !strings.Contains(r.err().Message, "Insufficient Access Rights") {
		t.Fatalf("directory refusal: %+v", r.err())
	}
	fp.answer(fmt.Errorf("%w: dana", admin.ErrNotInDirectory))
	e.do("POST", "/api/v1/users/dana/password", tok, nil, 404, nil)

	// Only a superuser resets a superuser, and the directory is not asked.
	fp.answer(nil)
	n := len(fp.reset)
	e.do("POST", "/api/v1/users/dsuper/password", tok, nil, 403, nil)
	e.do("POST", "/api/v1/users/dana/password", e.token("nobody"), nil, 403, nil)
	if len(fp.reset) != n {
		t.Fatalf("a refused reset reached the directory: %v", fp.reset[n:])
	}
	e.do("POST", "/api/v1/users/dsuper/password", e.token("root"), nil, 200, nil)

	// Without a changer, directory users cannot be reset here.
	e2 := newPasswordEnv(t, nil)
	e2.directoryUser("dana", false)
	if r := e2.do("POST", "/api/v1/users/dana/password", e2.token("uma"), nil, 501, nil); r.err().Code != admin.CodeNotImplemented {
		t.Fatalf("no changer: %+v", r.err())
	}
}
