package signine2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
)

// TestSessionsEndWithPasswordChangeAndLock, against Samba and the daemon's
// own handlers: an AD user's password change (written to AD) ends every
// other session of theirs and keeps the one that made it; the API change
// (a bearer token, no browser session to keep) ends them all; a lock-out
// earned by wrong passwords ends the sessions a password opened, while a
// session an IdP opened stays (the IdP checked its own factors).
func TestSessionsEndWithPasswordChangeAndLock(t *testing.T) {
	e := newEnv(t, "signin-sessions", []adUser{{name: "se-change"}, {name: "se-lock"}}, lockoutYAML)
	web, _ := e.serve(e.ssoOptions(hasher(t)))
	signIn := func(t *testing.T, name, pw string) *browser {
		t.Helper()
		c := newBrowser(t, web.URL)
		if res := c.login(name, pw); !wentThrough(res) {
			t.Fatalf("sign-in %s: %d\n%s", name, res.status, res.body)
		}
		return c
	}

	t.Run("a change ends the other sessions", func(t *testing.T) {
		here, there, third := signIn(t, "se-change", adPassword), signIn(t, "se-change", adPassword), signIn(t, "se-change", adPassword)
		const newPW = "Changed-Sessi0ns2!"
		res := here.post("/password/change", url.Values{"old_password": {adPassword}, "new_password": {newPW},
			"confirm_password": {newPW}, "return_to": {"/app"}})
		if res.status != http.StatusOK || !strings.Contains(res.body, "Your password has been changed.") {
			t.Fatalf("change: %d\n%s", res.status, res.body)
		}
		if err := bindAs(t, e.samba, e.dns["se-change"], newPW); err != nil {
			t.Fatalf("the change did not reach AD: %v", err)
		}
		if !here.signedIn() {
			t.Error("the session that made the change ended")
		}
		if there.signedIn() || third.signedIn() {
			t.Error("another session survived the password change")
		}
		if ev := e.lastAudit(sso.ActionPasswordChange, "se-change"); ev.Details["sessions_ended"] != float64(2) {
			t.Errorf("audit sessions_ended = %v, want 2", ev.Details["sessions_ended"])
		}

		// The admin API's own change (the user's bearer token): every
		// browser session ends, the one above included.
		a := e.apiClient(web.URL, "se-change")
		const thirdPW = "Third-Sessi0ns3!"
		if status := a.call(http.MethodPost, "/api/v1/me/password", admin.PasswordChangeRequest{OldPassword: newPW, NewPassword: thirdPW}, nil); status != http.StatusNoContent {
			t.Fatalf("API change: %d", status)
		}
		if here.signedIn() {
			t.Error("a browser session survived the API change")
		}
		signIn(t, "se-change", thirdPW)
	})

	t.Run("a lock-out ends password sessions, not IdP ones", func(t *testing.T) {
		byPassword := signIn(t, "se-lock", adPassword)
		byIdP := newBrowser(t, web.URL)
		if res := byIdP.get("/test-idp/callback?upn=" + url.QueryEscape("se-lock@example.test")); res.status != http.StatusSeeOther {
			t.Fatalf("IdP sign-in: %d\n%s", res.status, res.body)
		}
		if !byPassword.signedIn() || !byIdP.signedIn() {
			t.Fatal("not signed in before the lock")
		}
		for range 3 {
			if res := newBrowser(t, web.URL).login("se-lock", "Not-The-Passw0rd!"); res.status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", res.status)
			}
		}
		if l := e.lockout("se-lock"); l.LockedUntil.IsZero() {
			t.Fatalf("not locked after 3 wrong passwords: %+v", l)
		}
		if byPassword.signedIn() {
			t.Error("the password session survived the lock-out")
		}
		if !byIdP.signedIn() {
			t.Error("the IdP session ended with a lock earned by password failures")
		}
	})
}
