package signine2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// The directory's refusal of a new password, as the change form shows it
// (sync/ldap turns AD's 0000052D into these words).
const adPolicyRefusal = "does not meet the length, complexity or history requirements"

// TestPasswordChange: a signed-in AD user changes their password; the
// change lands in Samba and the new password binds; AD's own refusals (too
// short, in history) come back as readable messages; an administrator's
// reset works, audited, for a local user, who must then change it (a
// directory user's reset: reset_test.go).
func TestPasswordChange(t *testing.T) {
	e := newEnv(t, "signin-change", []adUser{{name: "ch-self"}, {name: "ch-policy"}}, lockoutYAML)
	h := hasher(t)
	web, _ := e.serve(e.ssoOptions(h))
	adm := e.newAdmin(web.URL, "ch-admin")

	change := func(c *browser, oldPW, newPW string) result {
		return c.post("/password/change", url.Values{"old_password": {oldPW}, "new_password": {newPW},
			"confirm_password": {newPW}, "return_to": {"/app"}})
	}
	signIn := func(t *testing.T, name, pw string) *browser {
		t.Helper()
		c := newBrowser(t, web.URL)
		if res := c.login(name, pw); !wentThrough(res) {
			t.Fatalf("sign-in %s: %d\n%s", name, res.status, res.body)
		}
		return c
	}

	t.Run("self-service change lands in AD", func(t *testing.T) {
		c := signIn(t, "ch-self", adPassword)
		if page := c.get("/password/change"); page.status != http.StatusOK || !strings.Contains(page.body, "directory password rules") {
			t.Errorf("change page: %d\n%s", page.status, page.body)
		}
		// A wrong current password changes nothing and counts.
		res := change(c, "Not-The-Passw0rd!", "Changed-Passw0rd2!")
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "The current password is incorrect.") {
			t.Fatalf("change with a wrong current password: %d\n%s", res.status, res.body)
		}
		if l := e.lockout("ch-self"); l.FailedAttempts != 1 {
			t.Errorf("lock-out after a wrong current password: %+v", l)
		}

		const newPW = "Changed-Passw0rd2!"
		res = change(c, adPassword, newPW)
		if res.status != http.StatusOK || !strings.Contains(res.body, "Your password has been changed.") {
			t.Fatalf("change: %d\n%s", res.status, res.body)
		}
		// In AD: a plain LDAP bind as the user with the new password. (The
		// old one is not checked: Samba 4.17 keeps accepting a replaced
		// password for about an hour, its old-password-allowed period.)
		if err := bindAs(t, e.samba, e.dns["ch-self"], newPW); err != nil {
			t.Fatalf("bind with the new password: %v", err)
		}
		ev := e.lastAudit(sso.ActionPasswordChange, "ch-self")
		if ev.Outcome != store.OutcomeSuccess || ev.Details["self_service"] != true || ev.Details["source"] != dirName {
			t.Errorf("change audit: %+v", ev)
		}
		if l := e.lockout("ch-self"); l.FailedAttempts != 0 {
			t.Errorf("lock-out after a right current password: %+v", l)
		}
		signIn(t, "ch-self", newPW)
	})

	t.Run("directory policy refusals are readable", func(t *testing.T) {
		c := signIn(t, "ch-policy", adPassword)
		refused := func(t *testing.T, oldPW, newPW, what string) {
			t.Helper()
			res := change(c, oldPW, newPW)
			if res.status != http.StatusBadRequest || !strings.Contains(res.body, adPolicyRefusal) {
				t.Fatalf("%s: %d, want AD's refusal in words:\n%s", what, res.status, res.body)
			}
			ev := e.lastAudit(sso.ActionPasswordChange, "ch-policy")
			if ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, adPolicyRefusal) {
				t.Errorf("%s: audit outcome %q reason %q", what, ev.Outcome, ev.Reason)
			}
		}
		refused(t, adPassword, "Sh0rt!", "too short")
		if err := bindAs(t, e.samba, e.dns["ch-policy"], adPassword); err != nil {
			t.Errorf("a refused change changed the password: %v", err)
		}

		const second = "Second-Passw0rd3!"
		if res := change(c, adPassword, second); res.status != http.StatusOK {
			t.Fatalf("change: %d\n%s", res.status, res.body)
		}
		// Back to the first one: AD keeps a history of 24.
		refused(t, second, adPassword, "in history")
		if err := bindAs(t, e.samba, e.dns["ch-policy"], second); err != nil {
			t.Errorf("bind with the current password after the refused change: %v", err)
		}
	})

	t.Run("administrator reset", func(t *testing.T) {
		// A local user: reset, audited, and the next sign-in must change it.
		ctx := context.Background()
		hash, err := h.Hash(ctx, "Local-Passw0rd5!")
		if err != nil {
			t.Fatal(err)
		}
		lu := &store.User{Username: "ch-local", Source: store.SourceLocal, State: store.StateActive, Profile: profAgent, PasswordHash: hash}
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, lu) }); err != nil {
			t.Fatal(err)
		}
		const reset = "Reset-Passw0rd6!"
		var out admin.PasswordResetResponse
		if status := adm.call(http.MethodPost, "/api/v1/users/ch-local/password", admin.PasswordResetRequest{Password: reset}, &out); status != http.StatusOK || !out.MustChangePassword {
			t.Fatalf("reset of a local user: %d %+v", status, out)
		}
		if ev := e.lastAudit("user.password_reset", "ch-admin"); ev.Outcome != store.OutcomeSuccess || ev.Target != "user:ch-local" {
			t.Errorf("reset audit: %+v", ev)
		}
		c := newBrowser(t, web.URL)
		if res := c.login("ch-local", "Local-Passw0rd5!"); res.status != http.StatusUnauthorized {
			t.Errorf("the old local password after a reset: %d", res.status)
		}
		res := c.login("ch-local", reset)
		tk := hiddenValue(res.body, "ticket")
		if res.status != http.StatusOK || tk == "" || !strings.Contains(res.body, "You must choose a new password") {
			t.Fatalf("sign-in with the reset password: %d, want the change form:\n%s", res.status, res.body)
		}
		const chosen = "Chosen-Passw0rd7!"
		res = c.post("/password/change", url.Values{"ticket": {tk}, "old_password": {reset},
			"new_password": {chosen}, "confirm_password": {chosen}})
		if !wentThrough(res) || !c.signedIn() {
			t.Fatalf("change after the reset: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if res := newBrowser(t, web.URL).login("ch-local", chosen); !wentThrough(res) {
			t.Errorf("sign-in with the chosen password: %d\n%s", res.status, res.body)
		}
	})
}
