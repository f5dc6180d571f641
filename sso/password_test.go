package sso

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

const (
	alicePW = "alice-password-1"
	adminPW = "admin-password-1"
)

// bypassEnv has SSO enforced with one IdP, an agent without bypass_sso
// and an administrator with it.
func bypassEnv(t *testing.T, enforce bool) *env {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) { o.Enforce = enforce; o.Methods = []RedirectMethod{m} })
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	e.profile("System Administrator", PrivBypassSSO, PrivPrivilegedIP, "manage_users")
	e.user(store.User{Username: "alice", Email: "alice@example.com", Profile: "Agent"}, alicePW)
	e.user(store.User{Username: "admin", Email: "admin@example.com", Profile: "System Administrator"}, adminPW)
	return e
}

func TestBypassRequiresPrivilege(t *testing.T) {
	e := bypassEnv(t, true)

	// The enforced login page sends the user to the only IdP.
	r := e.do(e.client(), http.MethodGet, "/login?return_to=/app", nil, nil)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/fake/start") {
		t.Fatalf("enforced /login: %d %q, want redirect to the IdP", r.status, r.header.Get("Location"))
	}
	r = e.do(e.client(), http.MethodGet, "/login?bypass-sso=1", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, `name="bypass-sso" value="1"`) {
		t.Fatalf("bypass page: %d, password form missing:\n%s", r.status, r.body)
	}

	// Outside the bypass path, no password sign-in at all.
	if r := e.login(e.client(), "admin", adminPW, false, nil); r.status != http.StatusForbidden {
		t.Fatalf("password sign-in outside bypass path: %d, want 403", r.status)
	}

	wrong := e.login(e.client(), "alice", "not-her-password", true, nil)
	right := e.login(e.client(), "alice", alicePW, true, nil)
	unknown := e.login(e.client(), "nobody", alicePW, true, nil)
	for name, r := range map[string]result{"wrong password": wrong, "right password without bypass_sso": right, "unknown user": unknown} {
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, genericFailure) {
			t.Errorf("%s: %d, want 401 with the generic failure", name, r.status)
		}
		if r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a cookie was set", name)
		}
	}
	// No account discovery: the pages are identical but for the echoed name.
	if strings.ReplaceAll(unknown.body, "nobody", "alice") != right.body || wrong.body != right.body {
		t.Errorf("failure pages differ between wrong password, unknown user and missing bypass_sso")
	}
	ev := e.lastAudit(ActionSignIn)
	if ev.Actor != "nobody" || ev.Reason != "unknown user" {
		t.Errorf("audit for unknown user: %+v", ev)
	}
	evs := e.audits(ActionSignIn)
	found := false
	for _, ev := range evs {
		if ev.Actor == "alice" && ev.Reason == "bypass refused: user lacks bypass_sso" && ev.Outcome == store.OutcomeDenied {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit event for the refused bypass; have %+v", evs)
	}

	c := e.client()
	if r := e.login(c, "admin", adminPW, true, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/app" {
		t.Fatalf("admin bypass: %d %q:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if r := e.verify(c, ""); r.status != http.StatusOK || r.header.Get("X-Dirbridge-User") != "admin" {
		t.Fatalf("verify after bypass: %d", r.status)
	}
	ev = e.lastAudit(ActionSignIn)
	if ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != MethodBypass || ev.Details["bypass"] != true {
		t.Errorf("bypass audit: %+v", ev)
	}
	if got := counterValue(t, e.reg, "dirbridge_sso_bypass_signins_total", map[string]string{"outcome": "success"}); got != 1 {
		t.Errorf("bypass success metric = %v, want 1", got)
	}
	// alice's wrong and right password alike: refused for lacking
	// bypass_sso before the password is looked at.
	if got := counterValue(t, e.reg, "dirbridge_sso_bypass_signins_total", map[string]string{"outcome": "denied"}); got != 2 {
		t.Errorf("bypass denied metric = %v, want 2", got)
	}
}

func TestPasswordForEveryoneWhenNotEnforced(t *testing.T) {
	e := bypassEnv(t, false)
	r := e.do(e.client(), http.MethodGet, "/login", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Sign in with Fake IdP") || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("open login page should offer SSO and password: %d\n%s", r.status, r.body)
	}
	for _, u := range []struct{ name, pw string }{{"alice", alicePW}, {"admin", adminPW}} {
		c := e.client()
		if r := e.login(c, u.name, u.pw, false, nil); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", u.name, r.status, r.body)
		}
		if r := e.verify(c, ""); r.status != http.StatusOK {
			t.Fatalf("%s verify: %d", u.name, r.status)
		}
	}
	ev := e.lastAudit(ActionSignIn)
	if ev.Details["method"] != MethodPassword || ev.Details["bypass"] != false {
		t.Errorf("audit: %+v", ev.Details)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := bypassEnv(t, false)
	r := e.login(e.client(), "alice", alicePW, false, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site login post: %d, want 403", r.status)
	}
}

func TestLockout(t *testing.T) {
	e := bypassEnv(t, false)
	alice, _ := e.st.GetUserByUsername(context.Background(), "alice")
	for i := range 5 {
		if r := e.login(e.client(), "alice", "wrong", false, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	l, err := e.st.GetLockout(context.Background(), alice.ID)
	if err != nil || l.FailedAttempts != 5 || !l.LockedUntil.After(e.clock.Now()) {
		t.Fatalf("after 5 failures: %+v %v", l, err)
	}
	// Locked: the right password gets the same answer as a wrong one.
	r := e.login(e.client(), "alice", alicePW, false, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, genericFailure) {
		t.Fatalf("locked account with right password: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); !strings.HasPrefix(ev.Reason, "account locked until") {
		t.Errorf("audit reason %q, want the lock", ev.Reason)
	}
	// The lock runs out.
	e.clock.Advance(31 * time.Minute)
	if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("after the lock: %d", r.status)
	}
	if l, _ := e.st.GetLockout(context.Background(), alice.ID); l.FailedAttempts != 0 {
		t.Errorf("success should reset the count: %+v", l)
	}
}

// TestLockoutConcurrent fires many wrong passwords at once: exactly
// max_attempts are checked, the rest meet the lock.
func TestLockoutConcurrent(t *testing.T) {
	e := bypassEnv(t, false)
	alice, _ := e.st.GetUserByUsername(context.Background(), "alice")
	const n = 24
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if r := e.login(e.client(), "alice", "wrong", false, nil); r.status != http.StatusUnauthorized {
				t.Errorf("status %d", r.status)
			}
		})
	}
	wg.Wait()
	l, _ := e.st.GetLockout(context.Background(), alice.ID)
	if l.FailedAttempts != 5 || l.LockedUntil.IsZero() {
		t.Fatalf("lock-out after %d concurrent failures: %+v, want exactly 5 counted and locked", n, l)
	}
	var wrong, locked int
	for _, ev := range e.audits(ActionSignIn) {
		switch {
		case strings.HasPrefix(ev.Reason, "wrong password"):
			wrong++
		case strings.HasPrefix(ev.Reason, "account locked"):
			locked++
		}
	}
	if wrong != 5 || locked != n-5 {
		t.Errorf("audit: %d wrong, %d locked; want 5 and %d", wrong, locked, n-5)
	}
}

// fakeDirectory is a PasswordChecker/PasswordChanger with canned answers.
type fakeDirectory struct {
	mu      sync.Mutex
	pw      map[string]string
	expired map[string]bool
	down    bool
	changes int
	// anchors, when set, are the directory objects' anchors by name: like
	// sync/ldap, an account whose anchor differs is an unknown user.
	anchors map[string]string
	// disabled are accounts disabled in the directory (LookupAccount).
	disabled map[string]bool
}

func (d *fakeDirectory) otherObject(acct directory.Account) bool {
	return d.anchors != nil && d.anchors[acct.Login] != acct.Anchor
}

type netErr struct{}

func (netErr) Error() string   { return "dial tcp 127.0.0.1:636: connection refused" }
func (netErr) Timeout() bool   { return false }
func (netErr) Temporary() bool { return false }

func (d *fakeDirectory) Authenticate(_ context.Context, acct directory.Account, pw string) (directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	user := acct.Login
	switch {
	case d.down:
		return directory.User{}, fmt.Errorf("ldap bind: %w", netErr{})
	case d.pw[user] != pw, d.otherObject(acct):
		return directory.User{}, fmt.Errorf("bind %s: LDAP Result Code 49 data 52e: %w", user, directory.ErrInvalidCredentials)
	case d.expired[user]:
		return directory.User{}, fmt.Errorf("bind %s: data 532: %w", user, directory.ErrPasswordExpired)
	}
	return directory.User{Username: user}, nil
}

func (d *fakeDirectory) LookupAccount(_ context.Context, acct directory.Account) (directory.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.down:
		return directory.User{}, fmt.Errorf("ldap search: %w", netErr{})
	case d.otherObject(acct):
		return directory.User{}, directory.ErrNoSuchUser
	}
	if _, ok := d.pw[acct.Login]; !ok {
		return directory.User{}, directory.ErrNoSuchUser
	}
	return directory.User{Username: acct.Login, Anchor: acct.Anchor, Disabled: d.disabled[acct.Login]}, nil
}

func (d *fakeDirectory) ChangePassword(_ context.Context, acct directory.Account, oldPW, newPW string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	user := acct.Login
	if d.pw[user] != oldPW || d.otherObject(acct) {
		return directory.ErrInvalidCredentials
	}
	if len(newPW) < 12 {
		return fmt.Errorf("%w: the password does not meet the directory's complexity requirements", directory.ErrPasswordPolicy)
	}
	d.pw[user], d.expired[user] = newPW, false
	d.changes++
	return nil
}

func TestDirectoryPassword(t *testing.T) {
	dir := &fakeDirectory{pw: map[string]string{"bob": "bob-ad-password", "carol": "carol-old-pw"}, expired: map[string]bool{"carol": true},
		anchors: map[string]string{"bob": "a1", "carol": "a2"}}
	e := newEnv(t, func(o *Options) {
		o.Directories = map[string]PasswordChecker{"corp": dir}
		o.Changers = map[string]PasswordChanger{"corp": dir}
	})
	bob := e.user(store.User{Username: "bob", SAMAccountName: "bob", Source: "corp", Anchor: "a1"}, "")
	e.user(store.User{Username: "carol", SAMAccountName: "carol", Source: "corp", Anchor: "a2"}, "")

	// An outage is not a wrong password: no count, an honest message.
	dir.down = true
	for range 7 {
		if r := e.login(e.client(), "bob", "bob-ad-password", false, nil); r.status != http.StatusServiceUnavailable {
			t.Fatalf("outage: %d", r.status)
		}
	}
	if l, _ := e.st.GetLockout(context.Background(), bob.ID); l.FailedAttempts != 0 || !l.LockedUntil.IsZero() {
		t.Fatalf("outage counted toward lock-out: %+v", l)
	}
	dir.down = false
	if r := e.login(e.client(), "bob", "nope", false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong AD password: %d", r.status)
	}
	if l, _ := e.st.GetLockout(context.Background(), bob.ID); l.FailedAttempts != 1 {
		t.Fatalf("wrong AD password not counted: %+v", l)
	}
	c := e.client()
	if r := e.login(c, "bob", "bob-ad-password", false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("right AD password: %d", r.status)
	}

	// Expired in AD: the change form, then the change lands in the
	// directory and the sign-in continues.
	c = e.client()
	r := e.login(c, "carol", "carol-old-pw", false, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="ticket"`) {
		t.Fatalf("expired AD password: %d\n%s", r.status, r.body)
	}
	tk := ticketFrom(t, r.body)
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {"carol-old-pw"},
		"new_password": {"short-one"}, "confirm_password": {"short-one"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "complexity requirements") {
		t.Fatalf("directory policy refusal: %d\n%s", r.status, r.body)
	}
	tk = ticketFrom(t, r.body)
	r = e.do(c, http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {"carol-old-pw"},
		"new_password": {"carol-new-password"}, "confirm_password": {"carol-new-password"}}, nil)
	if r.status != http.StatusSeeOther || dir.changes != 1 {
		t.Fatalf("change in directory: %d, changes %d\n%s", r.status, dir.changes, r.body)
	}
	if r := e.verify(c, ""); r.status != http.StatusOK || r.header.Get("X-Dirbridge-User") != "carol" {
		t.Fatalf("signed in after change: %d", r.status)
	}
	// The old ticket is single use.
	r = e.do(e.client(), http.MethodPost, "/password/change", url.Values{"ticket": {tk}, "old_password": {"x"},
		"new_password": {"y-long-password"}, "confirm_password": {"y-long-password"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
		t.Fatalf("reused ticket: %d", r.status)
	}

	// The name bob now belongs to another directory object (renamed away
	// and reused): the check is bound to bob's anchor, so the other
	// object's password does not sign in as bob.
	dir.mu.Lock()
	dir.anchors["bob"] = "a9"
	dir.mu.Unlock()
	if r := e.login(e.client(), "bob", "bob-ad-password", false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("name reused by another object: %d", r.status)
	}
}

func ticketFrom(t *testing.T, body string) string {
	t.Helper()
	const marker = `name="ticket" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no ticket in page:\n%s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestIPRules(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) {
		rule, err := policy.ParseIPRule("no-branch-offices", true, "deny", []string{"10.*.*.*"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.IPRules = []policy.IPRule{rule}
		o.Enforce, o.Methods = true, []RedirectMethod{m}
	})
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	e.profile("Admin", PrivBypassSSO, PrivPrivilegedIP)
	e.profile("Supervisor", PrivBypassSSO)
	e.user(store.User{Username: "alice", UPN: "alice@corp.example", Profile: "Agent"}, alicePW)
	e.user(store.User{Username: "admin", Profile: "Admin"}, adminPW)
	e.user(store.User{Username: "sup", Profile: "Supervisor"}, adminPW)
	fromDenied := map[string]string{"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}

	// SSO sign-in from a denied address (through the trusted proxy).
	r := e.do(e.client(), http.MethodGet, "/fake/callback?upn=alice@corp.example", nil, fromDenied)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "network address is not allowed") {
		t.Fatalf("denied address: %d\n%s", r.status, r.body)
	}
	if ev := e.lastAudit(ActionSignIn); ev.SourceIP != "10.1.2.3" || !strings.Contains(ev.Reason, "no-branch-offices") {
		t.Errorf("audit: ip %q reason %q", ev.SourceIP, ev.Reason)
	}
	// From an allowed address.
	if r := e.do(e.client(), http.MethodGet, "/fake/callback?upn=alice@corp.example", nil, map[string]string{"X-Forwarded-For": "192.0.2.7"}); r.status != http.StatusSeeOther {
		t.Fatalf("allowed address: %d\n%s", r.status, r.body)
	}
	// Bypass still meets the IP rule, answered as a wrong password...
	if r := e.login(e.client(), "sup", adminPW, true, fromDenied); r.status != http.StatusUnauthorized || !strings.Contains(r.body, genericFailure) {
		t.Fatalf("bypass from denied address: %d\n%s", r.status, r.body)
	}
	// ...unless the user holds privileged_ip_access.
	if r := e.login(e.client(), "admin", adminPW, true, fromDenied); r.status != http.StatusSeeOther {
		t.Fatalf("privileged IP access: %d\n%s", r.status, r.body)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.9.0.0/16")}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:5000", "", "192.0.2.1"},
		{"192.0.2.1:5000", "10.1.1.1", "192.0.2.1"}, // untrusted peer: header ignored
		{"127.0.0.1:5000", "198.51.100.4", "198.51.100.4"},
		{"127.0.0.1:5000", "6.6.6.6, 198.51.100.4", "198.51.100.4"},  // client-sent hop ignored
		{"127.0.0.1:5000", "198.51.100.4, 10.9.1.1", "198.51.100.4"}, // through two proxies
		{"127.0.0.1:5000", "garbage", "127.0.0.1"},
		{"[::1]:5000", "198.51.100.4", "::1"},
		{"127.0.0.1:5000", "2001:db8::1", "2001:db8::1"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientIP(r, trusted).String(); got != tc.want {
			t.Errorf("remote %s xff %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Throttle = Throttle{PerMinute: 3, Burst: 3} })
	e.user(store.User{Username: "alice"}, alicePW)
	for i := range 3 {
		if r := e.login(e.client(), fmt.Sprintf("user%d", i), "x", false, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th attempt from one address: %d, want 429", r.status)
	}
	// Another address (through the trusted proxy) is not slowed.
	if r := e.login(e.client(), "alice", alicePW, false, map[string]string{"X-Forwarded-For": "192.0.2.50"}); r.status != http.StatusSeeOther {
		t.Fatalf("other address: %d", r.status)
	}
	e.clock.Advance(time.Minute)
	if r := e.login(e.client(), "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("after a minute: %d", r.status)
	}
}

// TestLockoutTwoInstances runs two Services on one database, as two
// replicas would, and splits concurrent wrong passwords between them: the
// store's atomic update still lets exactly max_attempts through.
func TestLockoutTwoInstances(t *testing.T) {
	e1 := bypassEnv(t, false)
	e2 := newEnvAt(t, e1.dbPath, nil)
	alice, _ := e1.st.GetUserByUsername(context.Background(), "alice")
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		e := e1
		if i%2 == 1 {
			e = e2
		}
		wg.Go(func() { e.login(e.client(), "alice", "wrong", false, nil) })
	}
	wg.Wait()
	if r := e2.login(e2.client(), "alice", alicePW, false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("right password after the lock, other instance: %d", r.status)
	}
	l, _ := e2.st.GetLockout(context.Background(), alice.ID)
	if l.FailedAttempts != 5 || l.LockedUntil.IsZero() {
		t.Fatalf("two instances: %+v, want exactly 5 counted and locked", l)
	}
	var wrong int
	for _, ev := range e1.audits(ActionSignIn) {
		if strings.HasPrefix(ev.Reason, "wrong password") {
			wrong++
		}
	}
	if wrong != 5 {
		t.Errorf("%d passwords checked across two instances, want 5", wrong)
	}
}
