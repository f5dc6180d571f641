package signine2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// genericFailure is what every failed password sign-in shows, whatever
// the cause (sso's genericFailure).
const genericFailure = "The user name or password is incorrect."

const lockoutYAML = `policy:
  lockout: {max_attempts: 3, within: 15m, lock_for: 30m}
`

// TestPassThrough signs AD users in with their AD password and checks
// that each of AD's answers to the bind (52e, 533, 701, 530, 531, 775,
// 532, 773) and an outage (a dead port, a DC that never answers) gets its own
// outcome, message and audit reason; only a wrong password counts toward
// lock-out, and the page never tells one refusal from another.
func TestPassThrough(t *testing.T) {
	e := newEnv(t, "signin-passthrough", []adUser{
		{name: "pt-ok"}, {name: "pt-wrong"}, {name: "pt-disabled"}, {name: "pt-expired"},
		{name: "pt-must", mustChange: true}, {name: "pt-acctexp"}, {name: "pt-adlock"}, {name: "pt-outage"},
		{name: "pt-hours"}, {name: "pt-ws"}, {name: "pt-left"},
	}, lockoutYAML)
	s := e.samba
	// AD's default maximum password age is 42 days: 50 days old is expired.
	s.SetPasswordAged(t, "pt-expired", adPassword, 50*24*time.Hour)
	h := hasher(t)
	web, _ := e.serve(e.ssoOptions(h))
	b := func() *browser { return newBrowser(t, web.URL) }

	var wrongAnswer result
	t.Run("success", func(t *testing.T) {
		c := b()
		res := c.login("pt-ok", adPassword)
		if !wentThrough(res) {
			t.Fatalf("sign-in: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if !c.signedIn() {
			t.Fatal("no session after a successful sign-in")
		}
		ev := e.lastAudit(sso.ActionSignIn, "pt-ok")
		if ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != sso.MethodPassword || ev.Target != e.user("pt-ok").ID {
			t.Errorf("audit: %+v", ev)
		}
		// The UPN works as the sign-in name too.
		if res := b().login("pt-ok@example.test", adPassword); !wentThrough(res) {
			t.Errorf("sign-in by UPN: %d\n%s", res.status, res.body)
		}
		// A figure for the report: the whole pass-through sign-in (service
		// bind, user search, user bind, session) over HTTP.
		var took []time.Duration
		for range 5 {
			start := time.Now()
			if res := b().login("pt-ok", adPassword); !wentThrough(res) {
				t.Fatalf("sign-in: %d", res.status)
			}
			took = append(took, time.Since(start))
		}
		t.Logf("AD pass-through sign-in: median %v of %v", median(took), took)
	})

	t.Run("wrong password counts", func(t *testing.T) {
		res := b().login("pt-wrong", "Not-The-Passw0rd!")
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) {
			t.Fatalf("wrong password: %d\n%s", res.status, res.body)
		}
		wrongAnswer = res
		ev := e.lastAudit(sso.ActionSignIn, "pt-wrong")
		if ev.Outcome != store.OutcomeFailure || ev.Reason != "wrong password (directory)" {
			t.Errorf("audit: outcome %q reason %q", ev.Outcome, ev.Reason)
		}
		if l := e.lockout("pt-wrong"); l.FailedAttempts != 1 || !l.LockedUntil.IsZero() {
			t.Errorf("lock-out after one wrong password: %+v", l)
		}
	})

	// The refusals below come from AD for the right password, after the
	// sync imported an active user (the state changed in AD since): the
	// bind is what tells.
	refused := func(t *testing.T, name, wantReason string) {
		t.Helper()
		res := b().login(name, adPassword)
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) {
			t.Fatalf("%s: %d, want the generic failure:\n%s", name, res.status, res.body)
		}
		if wrongAnswer.body != "" && strings.ReplaceAll(res.body, name, "pt-wrong") != wrongAnswer.body {
			t.Errorf("%s: the page differs from a wrong password's:\n%s\n---\n%s", name, res.body, wrongAnswer.body)
		}
		ev := e.lastAudit(sso.ActionSignIn, name)
		if ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, wantReason) {
			t.Errorf("%s: audit outcome %q reason %q, want denied with %q", name, ev.Outcome, ev.Reason, wantReason)
		}
		if l := e.lockout(name); l.FailedAttempts != 0 {
			t.Errorf("%s: a refusal of the right password counted toward lock-out: %+v", name, l)
		}
	}

	t.Run("disabled in AD (533)", func(t *testing.T) {
		s.Replace(t, e.dns["pt-disabled"], "userAccountControl", "514")
		refused(t, "pt-disabled", "directory refused: ldap "+dirName)
		if ev := e.lastAudit(sso.ActionSignIn, "pt-disabled"); !strings.Contains(ev.Reason, directory.ErrAccountDisabled.Error()) {
			t.Errorf("audit reason %q does not say disabled", ev.Reason)
		}
	})

	t.Run("account expired in AD (701)", func(t *testing.T) {
		s.Replace(t, e.dns["pt-acctexp"], "accountExpires", fileTime(time.Now().Add(-24*time.Hour)))
		refused(t, "pt-acctexp", directory.ErrAccountExpired.Error())
	})

	t.Run("outside logon hours in AD (530)", func(t *testing.T) {
		// 21 zero bytes: no hour of the week is allowed.
		s.Replace(t, e.dns["pt-hours"], "logonHours", string(make([]byte, 21)))
		if err := bindAs(t, s, e.dns["pt-hours"], adPassword); err == nil || !strings.Contains(err.Error(), "data 530") {
			t.Fatalf("bind outside logon hours: %v, want data 530", err)
		}
		refused(t, "pt-hours", directory.ErrLogonTimeRestricted.Error())
	})

	t.Run("not from this workstation in AD (531)", func(t *testing.T) {
		s.Replace(t, e.dns["pt-ws"], "userWorkstations", "NOWHERE")
		if err := bindAs(t, s, e.dns["pt-ws"], adPassword); err == nil || !strings.Contains(err.Error(), "data 531") {
			t.Fatalf("bind with a workstation restriction: %v, want data 531", err)
		}
		refused(t, "pt-ws", directory.ErrWorkstationRestricted.Error())
	})

	t.Run("left the imported groups", func(t *testing.T) {
		// The sync deactivates a user who left every imported group; the
		// password is then not even checked.
		s.RemoveMembers(t, e.groups["agents"], e.dns["pt-left"])
		e.sync()
		res := b().login("pt-left", adPassword)
		if res.status != http.StatusUnauthorized || res.body != strings.ReplaceAll(wrongAnswer.body, "pt-wrong", "pt-left") {
			t.Fatalf("deactivated user: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "pt-left"); ev.Outcome != store.OutcomeDenied || ev.Reason != "user inactive" {
			t.Errorf("audit: outcome %q reason %q", ev.Outcome, ev.Reason)
		}
	})

	t.Run("locked in AD (775)", func(t *testing.T) {
		// A fine-grained policy for this one user: lock after 2 bad
		// passwords. Domain-wide it would lock the other tests' users.
		s.AddPSO(t, "signin-adlock", 1,
			"--account-lockout-threshold=2", "--account-lockout-duration=30", "--reset-account-lockout-after=30")
		s.ApplyPSO(t, "signin-adlock", "pt-adlock")
		for range 3 {
			err := bindAs(t, s, e.dns["pt-adlock"], "Not-The-Passw0rd!")
			if err == nil {
				t.Fatal("bind with a wrong password succeeded")
			}
		}
		err := bindAs(t, s, e.dns["pt-adlock"], adPassword)
		if err == nil || !strings.Contains(err.Error(), "775") {
			t.Fatalf("bind with the right password of a locked account: %v, want data 775", err)
		}
		refused(t, "pt-adlock", directory.ErrAccountLocked.Error())
		// AD answers 775 whatever the password while its lock holds, so a
		// wrong one is refused the same way and is not counted here either.
		res := b().login("pt-adlock", "Not-The-Passw0rd!")
		if res.status != http.StatusUnauthorized || res.body != strings.ReplaceAll(wrongAnswer.body, "pt-wrong", "pt-adlock") {
			t.Errorf("wrong password on an AD-locked account: %d\n%s", res.status, res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "pt-adlock"); !strings.Contains(ev.Reason, directory.ErrAccountLocked.Error()) {
			t.Errorf("audit reason %q", ev.Reason)
		}
		if l := e.lockout("pt-adlock"); l.FailedAttempts != 0 {
			t.Errorf("lock-out: %+v", l)
		}
	})

	changeOffered := func(t *testing.T, name string) {
		t.Helper()
		c := b()
		res := c.login(name, adPassword)
		if res.status != http.StatusOK || !strings.Contains(res.body, `action="/password/change"`) || hiddenValue(res.body, "ticket") == "" {
			t.Fatalf("%s: %d, want the change form:\n%s", name, res.status, res.body)
		}
		if c.signedIn() {
			t.Errorf("%s: a session before the change", name)
		}
		ev := e.lastAudit(sso.ActionSignIn, name)
		if ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "change offered") {
			t.Errorf("%s: audit outcome %q reason %q", name, ev.Outcome, ev.Reason)
		}
		if l := e.lockout(name); l.FailedAttempts != 0 {
			t.Errorf("%s: lock-out %+v", name, l)
		}
	}
	t.Run("password expired in AD (532)", func(t *testing.T) {
		changeOffered(t, "pt-expired")
		if ev := e.lastAudit(sso.ActionSignIn, "pt-expired"); ev.Details["directory"] == nil {
			t.Errorf("audit has no directory answer: %+v", ev.Details)
		}
	})
	t.Run("must change in AD (773)", func(t *testing.T) { changeOffered(t, "pt-must") })

	// AD (Samba as Windows) gives those sub-codes only for the right
	// password: a wrong one on such an account is a plain wrong password —
	// no change form for someone who does not know the password, and it
	// counts toward lock-out. (Disabled and account-expired accounts answer
	// 52e to a wrong password as well; by now the sync above has
	// deactivated them here.)
	t.Run("wrong password on a refused account", func(t *testing.T) {
		for _, name := range []string{"pt-expired", "pt-must", "pt-hours"} {
			before := e.lockout(name).FailedAttempts
			res := b().login(name, "Not-The-Passw0rd!")
			if res.status != http.StatusUnauthorized || strings.Contains(res.body, `action="/password/change"`) ||
				res.body != strings.ReplaceAll(wrongAnswer.body, "pt-wrong", name) {
				t.Errorf("%s, wrong password: %d\n%s", name, res.status, res.body)
			}
			if ev := e.lastAudit(sso.ActionSignIn, name); ev.Outcome != store.OutcomeFailure || ev.Reason != "wrong password (directory)" {
				t.Errorf("%s: audit outcome %q reason %q", name, ev.Outcome, ev.Reason)
			}
			if l := e.lockout(name); l.FailedAttempts != before+1 {
				t.Errorf("%s: lock-out %+v, want %d attempts", name, l, before+1)
			}
		}
	})

	t.Run("outage does not count", func(t *testing.T) {
		// Two wrong passwords: one more failure would lock (max 3).
		for range 2 {
			if res := b().login("pt-outage", "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", res.status)
			}
		}
		// The same directory, its URLs pointing at a port nobody listens on.
		d := e.cfg.Directories[0]
		d.URLs = []string{"ldaps://127.0.0.1:" + strconv.Itoa(harness.FreePort(t))}
		dead, err := ldap.New(wire.LDAPConfig(d, testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		opts := e.ssoOptions(hasher(t))
		opts.Directories = map[string]sso.PasswordChecker{dirName: dead}
		down, _ := e.serve(opts)
		for range 4 {
			res := newBrowser(t, down.URL).login("pt-outage", adPassword)
			if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "temporarily unavailable") {
				t.Fatalf("sign-in during an outage: %d\n%s", res.status, res.body)
			}
		}
		ev := e.lastAudit(sso.ActionSignIn, "pt-outage")
		if ev.Outcome != store.OutcomeFailure || !strings.Contains(ev.Reason, "directory unavailable") {
			t.Errorf("outage audit: outcome %q reason %q details %v", ev.Outcome, ev.Reason, ev.Details)
		}
		if l := e.lockout("pt-outage"); l.FailedAttempts != 2 || !l.LockedUntil.IsZero() {
			t.Errorf("lock-out after 2 wrong passwords and 4 outages: %+v, want 2 attempts and no lock", l)
		}
		// A DC that accepts connections and then says nothing (overloaded,
		// or a half-open firewall): the same, once connect_timeout passes.
		mute, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held := make(chan net.Conn, 16)
		go func() {
			for {
				c, err := mute.Accept()
				if err != nil {
					return
				}
				held <- c
			}
		}()
		t.Cleanup(func() {
			_ = mute.Close()
			for {
				select {
				case c := <-held:
					_ = c.Close()
				default:
					return
				}
			}
		})
		d.URLs = []string{"ldaps://" + mute.Addr().String()}
		d.ConnectTimeout = time.Second
		silent, err := ldap.New(wire.LDAPConfig(d, testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		opts.Directories = map[string]sso.PasswordChecker{dirName: silent}
		hung, _ := e.serve(opts)
		start := time.Now()
		res := newBrowser(t, hung.URL).login("pt-outage", adPassword)
		if res.status != http.StatusServiceUnavailable || time.Since(start) > 10*time.Second {
			t.Fatalf("sign-in against a silent DC: %d after %v\n%s", res.status, time.Since(start), res.body)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "pt-outage"); !strings.Contains(ev.Reason, "directory unavailable") {
			t.Errorf("silent DC audit: outcome %q reason %q details %v", ev.Outcome, ev.Reason, ev.Details)
		}
		if l := e.lockout("pt-outage"); l.FailedAttempts != 2 {
			t.Errorf("lock-out after a silent DC: %+v, want 2 attempts", l)
		}

		// The directory is back: the right password goes through and
		// clears the count.
		if res := b().login("pt-outage", adPassword); !wentThrough(res) {
			t.Fatalf("sign-in after the outage: %d\n%s", res.status, res.body)
		}
		if l := e.lockout("pt-outage"); l.FailedAttempts != 0 {
			t.Errorf("lock-out after a success: %+v", l)
		}
	})
}

// bindAs binds as dn with a simple bind over LDAPS, as any client would.
func bindAs(t *testing.T, s *harness.Samba, dn, pw string) error {
	t.Helper()
	c, err := goldap.DialURL(s.LDAPSURL, goldap.DialWithTLSConfig(&tls.Config{RootCAs: s.CA.Pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatalf("dial %s: %v", s.LDAPSURL, err)
	}
	defer c.Close()
	return c.Bind(dn, pw)
}

// fileTime is t as AD's FILETIME: 100 ns intervals since 1601-01-01 UTC.
func fileTime(t time.Time) string {
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	return strconv.FormatInt((t.Unix()+epochDiff)*10_000_000, 10)
}

// TestConnectionTypes checks the password against the same DC over every
// way the directory can be reached: LDAPS, StartTLS, and plain LDAP only
// when allow_plain_passthrough says so. Without it the password is never
// sent in clear: every sign-in is refused as our failure, not the user's.
func TestConnectionTypes(t *testing.T) {
	e := newEnv(t, "signin-conn", []adUser{{name: "ct-user"}}, lockoutYAML)
	plainURL := e.samba.URL // ldap://127.0.0.1:389
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		plain    bool
		ok       bool
	}{
		{name: "ldaps", url: e.samba.LDAPSURL, ok: true},
		{name: "starttls", url: plainURL, startTLS: true, ok: true},
		{name: "plain allowed", url: plainURL, plain: true, ok: true},
		{name: "plain refused", url: plainURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.cfg.Directories[0]
			d.URLs, d.StartTLS, d.AllowPlainPassthrough = []string{tc.url}, tc.startTLS, tc.plain
			src, err := ldap.New(wire.LDAPConfig(d, testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			opts := e.ssoOptions(hasher(t))
			opts.Directories = map[string]sso.PasswordChecker{dirName: src}
			web, _ := e.serve(opts)
			before := e.lockout("ct-user").FailedAttempts
			c := newBrowser(t, web.URL)
			res := c.login("ct-user", adPassword)
			if tc.ok {
				if !wentThrough(res) || !c.signedIn() {
					t.Fatalf("sign-in: %d\n%s", res.status, res.body)
				}
				if res := newBrowser(t, web.URL).login("ct-user", "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized {
					t.Errorf("wrong password: %d", res.status)
				}
				return
			}
			if res.status != http.StatusServiceUnavailable || c.signedIn() {
				t.Fatalf("sign-in over plain LDAP without allow_plain_passthrough: %d, want 503\n%s", res.status, res.body)
			}
			ev := e.lastAudit(sso.ActionSignIn, "ct-user")
			if ev.Outcome != store.OutcomeFailure || !strings.Contains(fmt.Sprint(ev.Details["error"]), "unencrypted") {
				t.Errorf("audit: outcome %q reason %q details %v", ev.Outcome, ev.Reason, ev.Details)
			}
			if l := e.lockout("ct-user"); l.FailedAttempts != before {
				t.Errorf("lock-out: %+v, want %d attempts as before", l, before)
			}
		})
	}
}
