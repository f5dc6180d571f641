package signine2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// TestLockout: max_attempts wrong AD passwords lock the account; the right
// password is then refused with exactly the wrong-password answer while
// the audit log says locked; an administrator's unlock — by the dirbridge
// command against the running admin API, then by the API itself — lets
// the user in again, audited.
func TestLockout(t *testing.T) {
	e := newEnv(t, "signin-lockout", []adUser{{name: "lo-user"}}, lockoutYAML)
	web, _ := e.serve(e.ssoOptions(hasher(t)))
	adm := e.newAdmin(web.URL, "lo-admin")
	b := func() *browser { return newBrowser(t, web.URL) }

	lock := func(t *testing.T) result {
		t.Helper()
		var last result
		for i := 1; i <= 3; i++ {
			last = b().login("lo-user", "Not-The-Passw0rd!")
			if last.status != http.StatusUnauthorized || !strings.Contains(last.body, genericFailure) {
				t.Fatalf("wrong password %d: %d\n%s", i, last.status, last.body)
			}
		}
		ev := e.lastAudit(sso.ActionSignIn, "lo-user")
		if ev.Outcome != store.OutcomeFailure || !strings.HasPrefix(ev.Reason, "wrong password (directory); account locked until ") {
			t.Errorf("third wrong password: audit outcome %q reason %q", ev.Outcome, ev.Reason)
		}
		if l := e.lockout("lo-user"); l.FailedAttempts != 3 || l.LockedUntil.IsZero() {
			t.Fatalf("lock-out after 3 wrong passwords: %+v", l)
		}
		// The right password now: refused, and the page is the very one a
		// wrong password gets — nobody learns the account is locked.
		c := b()
		res := c.login("lo-user", adPassword)
		if res.status != last.status || res.body != last.body {
			t.Errorf("right password on a locked account: %d, the page differs from a wrong password's:\n%s\n---\n%s", res.status, res.body, last.body)
		}
		if c.signedIn() {
			t.Fatal("a locked account signed in")
		}
		ev = e.lastAudit(sso.ActionSignIn, "lo-user")
		if ev.Outcome != store.OutcomeDenied || !strings.HasPrefix(ev.Reason, "account locked until ") {
			t.Errorf("locked sign-in: audit outcome %q reason %q", ev.Outcome, ev.Reason)
		}
		return res
	}
	signsIn := func(t *testing.T) {
		t.Helper()
		c := b()
		if res := c.login("lo-user", adPassword); !wentThrough(res) || !c.signedIn() {
			t.Fatalf("sign-in after the unlock: %d\n%s", res.status, res.body)
		}
		if l := e.lockout("lo-user"); l.FailedAttempts != 0 || !l.LockedUntil.IsZero() {
			t.Errorf("lock-out after a successful sign-in: %+v", l)
		}
	}
	unlockAudited := func(t *testing.T) {
		t.Helper()
		ev := e.lastAudit("user.unlock", "lo-admin")
		if ev.Outcome != store.OutcomeSuccess || ev.Target != "user:lo-user" || ev.Details["failed_attempts"] == nil {
			t.Errorf("unlock audit: %+v", ev)
		}
	}

	t.Run("unlock by the command", func(t *testing.T) {
		lock(t)
		out, err := adm.cli("users", "unlock", "lo-user")
		if err != nil || !strings.Contains(out, "lo-user: unlock done") {
			t.Fatalf("dirbridge users unlock: %v\n%s", err, out)
		}
		unlockAudited(t)
		signsIn(t)
	})

	t.Run("unlock by the API", func(t *testing.T) {
		lock(t)
		var d admin.UserDetail
		if status := adm.call(http.MethodPost, "/api/v1/users/lo-user/unlock", nil, &d); status != http.StatusOK {
			t.Fatalf("POST unlock: %d", status)
		}
		if d.LockedUntil != nil {
			t.Errorf("unlock answered a user still locked until %v", d.LockedUntil)
		}
		unlockAudited(t)
		signsIn(t)
	})
}
