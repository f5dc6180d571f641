package signine2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

// apiClient is the admin API as user name (an existing user) calls it: an
// API key made in the store, exchanged for a bearer token.
func (e *env) apiClient(base, name string) *adminClient {
	e.t.Helper()
	ctx := context.Background()
	var key string
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		var err error
		key, _, err = admin.NewAPIKey(ctx, tx, e.user(name).ID, "e2e", time.Now())
		return err
	})
	if err != nil {
		e.t.Fatalf("API key for %s: %v", name, err)
	}
	c := &adminClient{t: e.t, base: base, username: name, key: key, hc: http.DefaultClient}
	var tr admin.TokenResponse
	if status := c.call(http.MethodPost, "/api/v1/tokens", admin.TokenRequest{APIKey: key}, &tr); status != http.StatusCreated {
		e.t.Fatalf("exchange %s's API key: %d", name, status)
	}
	c.token = tr.Token
	return c
}

// TestPasswordResetAD: an administrator resets AD users' passwords through
// the admin API, written to Samba as the service account — the new
// password binds; with must_change AD itself then refuses the bind as
// "must change" (773) and dirbridge's sign-in offers the change, which
// lands in AD; the directory's refusals come back in its words as 422;
// the CLI does the same. An AD user changes their own password by API:
// a wrong current password counts toward lock-out, the right one writes
// to AD, and AD's history refusal is readable.
func TestPasswordResetAD(t *testing.T) {
	e := newEnv(t, "signin-reset", []adUser{{name: "rs-user"}, {name: "rs-must"}, {name: "rs-policy"}, {name: "rs-self"}, {name: "rs-cli"},
		{name: "rs-sup", supervisor: true}}, lockoutYAML)
	web, _ := e.serve(e.ssoOptions(hasher(t)))
	adm := e.newAdmin(web.URL, "rs-admin")

	reset := func(t *testing.T, name string, in admin.PasswordResetRequest, want int) admin.PasswordResetResponse {
		t.Helper()
		var out admin.PasswordResetResponse
		if status := adm.call(http.MethodPost, "/api/v1/users/"+name+"/password", in, &out); status != want {
			t.Fatalf("reset of %s: %d, want %d", name, status, want)
		}
		return out
	}

	t.Run("reset lands in AD", func(t *testing.T) {
		const pw = "Reset-Passw0rd1!"
		out := reset(t, "rs-user", admin.PasswordResetRequest{Password: pw}, http.StatusOK)
		if out.Directory != dirName || out.MustChangePassword || out.Password != "" {
			t.Errorf("answer: %+v", out)
		}
		if err := bindAs(t, e.samba, e.dns["rs-user"], pw); err != nil {
			t.Fatalf("bind with the reset password: %v", err)
		}
		ev := e.lastAudit("user.password_reset", "rs-admin")
		if ev.Outcome != store.OutcomeSuccess || ev.Target != "user:rs-user" || ev.Details["directory"] != dirName || strings.Contains(mustJSON(ev), pw) {
			t.Errorf("audit: %+v", ev)
		}
		if res := newBrowser(t, web.URL).login("rs-user", pw); !wentThrough(res) {
			t.Errorf("sign-in with the reset password: %d\n%s", res.status, res.body)
		}
	})

	t.Run("a weaker administrator cannot take over a better-privileged account", func(t *testing.T) {
		// rs-sup is a Supervisor (bypass_sso, privileged_ip_access); the
		// caller holds manage_users only. Resetting rs-sup's AD password,
		// unmapping its entry or making a key for it would hand the caller
		// those privileges: each is refused, audited, and AD is untouched.
		ctx := context.Background()
		err := e.st.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutProfile(ctx, store.Profile{Name: "User administrator", Privileges: []string{"manage_users"}}); err != nil {
				return err
			}
			return tx.CreateUser(ctx, &store.User{Username: "rs-weak", Source: store.SourceLocal, State: store.StateActive, Profile: "User administrator"})
		})
		if err != nil {
			t.Fatal(err)
		}
		weak := e.apiClient(web.URL, "rs-weak")
		sup := e.user("rs-sup")
		for _, c := range []struct{ method, path, action string }{
			{http.MethodPost, "/api/v1/users/rs-sup/password", "user.password_reset"},
			{http.MethodPost, "/api/v1/directories/" + dirName + "/entries/" + sup.Anchor + "/unmap", "entry.unmap"},
			{http.MethodPost, "/api/v1/users/rs-sup/apikeys", "apikey.create"},
			{http.MethodPatch, "/api/v1/users/rs-sup", "user.update"},
		} {
			var body admin.ErrorBody
			var in any = map[string]any{"password": "Attacker-Passw0rd9!"}
			switch c.action {
			case "apikey.create":
				in = map[string]any{"name": "mine"}
			case "user.update":
				in = map[string]any{"units": []string{"anywhere"}}
			case "entry.unmap":
				in = nil
			}
			if status := weak.callErr(c.method, c.path, in, &body); status != http.StatusForbidden || !strings.Contains(body.Error.Message, "rs-sup holds privileges you cannot grant") {
				t.Errorf("%s %s as rs-weak: %d %+v, want 403 naming what rs-sup holds", c.method, c.path, status, body.Error)
			}
			if ev := e.lastAudit(c.action, "rs-weak"); ev.Outcome != store.OutcomeDenied {
				t.Errorf("%s: audit %+v, want denied", c.action, ev)
			}
		}
		if err := bindAs(t, e.samba, e.dns["rs-sup"], adPassword); err != nil {
			t.Errorf("rs-sup's AD password changed: %v", err)
		}
		if u := e.user("rs-sup"); u.Source != dirName || u.Anchor != sup.Anchor || len(u.Units) != 0 {
			t.Errorf("rs-sup changed: %+v", u)
		}
	})

	t.Run("must change at next logon", func(t *testing.T) {
		yes := true
		out := reset(t, "rs-must", admin.PasswordResetRequest{MustChange: &yes}, http.StatusOK)
		if len(out.Password) != 20 || !out.MustChangePassword || len(out.Warnings) != 0 {
			t.Fatalf("answer: %+v", out)
		}
		// AD: pwdLastSet = 0, so the right password is refused as 773.
		if err := bindAs(t, e.samba, e.dns["rs-must"], out.Password); err == nil || !strings.Contains(err.Error(), "data 773") {
			t.Fatalf("bind after a must-change reset: %v, want AD's 773", err)
		}
		if u := e.user("rs-must"); !u.MustChangePassword {
			t.Error("stored user not marked must-change")
		}
		e.sync()
		if u := e.user("rs-must"); !u.MustChangePassword {
			t.Error("the sync read the must-change back as false")
		}
		c := newBrowser(t, web.URL)
		res := c.login("rs-must", out.Password)
		tk := hiddenValue(res.body, "ticket")
		if res.status != http.StatusOK || tk == "" || !strings.Contains(res.body, "You must choose a new password") {
			t.Fatalf("sign-in with the reset password: %d, want the change form:\n%s", res.status, res.body)
		}
		const chosen = "Chosen-Passw0rd2!"
		res = c.post("/password/change", url.Values{"ticket": {tk}, "old_password": {out.Password},
			"new_password": {chosen}, "confirm_password": {chosen}})
		if !wentThrough(res) || !c.signedIn() {
			t.Fatalf("change after the reset: %d\n%s", res.status, res.body)
		}
		if err := bindAs(t, e.samba, e.dns["rs-must"], chosen); err != nil {
			t.Fatalf("bind with the chosen password: %v", err)
		}
	})

	t.Run("directory refusals are readable", func(t *testing.T) {
		var body admin.ErrorBody
		status := adm.callErr(http.MethodPost, "/api/v1/users/rs-policy/password", admin.PasswordResetRequest{Password: "Sh0rt!"}, &body)
		if status != http.StatusUnprocessableEntity || body.Error.Code != admin.CodePasswordPolicy || !strings.Contains(body.Error.Message, adPolicyRefusal) {
			t.Fatalf("too short: %d %+v", status, body.Error)
		}
		if err := bindAs(t, e.samba, e.dns["rs-policy"], adPassword); err != nil {
			t.Errorf("a refused reset changed the password: %v", err)
		}
		if ev := e.lastAudit("user.password_reset", "rs-admin"); ev.Outcome != store.OutcomeFailure || !strings.Contains(ev.Reason, adPolicyRefusal) {
			t.Errorf("refusal audit: outcome %q reason %q", ev.Outcome, ev.Reason)
		}
	})

	t.Run("self-service change by API", func(t *testing.T) {
		me := e.apiClient(web.URL, "rs-self")
		const newPW = "Self-Passw0rd3!"
		var body admin.ErrorBody
		status := me.callErr(http.MethodPost, "/api/v1/me/password", admin.PasswordChangeRequest{OldPassword: "Not-The-Passw0rd!", NewPassword: newPW}, &body)
		if status != http.StatusForbidden || body.Error.Code != admin.CodeWrongPassword {
			t.Fatalf("wrong current password: %d %+v", status, body.Error)
		}
		if l := e.lockout("rs-self"); l.FailedAttempts != 1 {
			t.Errorf("lock-out after a wrong current password: %+v", l)
		}
		if status := me.call(http.MethodPost, "/api/v1/me/password", admin.PasswordChangeRequest{OldPassword: adPassword, NewPassword: newPW}, nil); status != http.StatusNoContent {
			t.Fatalf("change: %d", status)
		}
		if err := bindAs(t, e.samba, e.dns["rs-self"], newPW); err != nil {
			t.Fatalf("bind with the new password: %v", err)
		}
		if l := e.lockout("rs-self"); l.FailedAttempts != 0 {
			t.Errorf("lock-out after the right current password: %+v", l)
		}
		ev := e.lastAudit("user.password_change", "rs-self")
		if ev.Outcome != store.OutcomeSuccess || ev.Details["self_service"] != true || ev.Details["source"] != dirName {
			t.Errorf("audit: %+v", ev)
		}
		// Back to the first password: AD keeps a history.
		status = me.callErr(http.MethodPost, "/api/v1/me/password", admin.PasswordChangeRequest{OldPassword: newPW, NewPassword: adPassword}, &body)
		if status != http.StatusUnprocessableEntity || body.Error.Code != admin.CodePasswordPolicy || !strings.Contains(body.Error.Message, adPolicyRefusal) {
			t.Fatalf("change back to a password in AD's history: %d %+v", status, body.Error)
		}
		if res := newBrowser(t, web.URL).login("rs-self", newPW); !wentThrough(res) {
			t.Errorf("sign-in with the new password: %d\n%s", res.status, res.body)
		}
	})

	t.Run("CLI", func(t *testing.T) {
		out, err := adm.cli("users", "reset-password", "rs-cli", "--must-change")
		if err != nil {
			t.Fatalf("dirbridge users reset-password: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`new password \(shown once\): (\S+)`).FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "rs-cli: password reset in directory "+dirName+"; must change at next sign-in: true") {
			t.Fatalf("output:\n%s", out)
		}
		if err := bindAs(t, e.samba, e.dns["rs-cli"], m[1]); err == nil || !strings.Contains(err.Error(), "data 773") {
			t.Fatalf("bind after the CLI's must-change reset: %v, want AD's 773", err)
		}
	})
}

// callErr is call for an answer expected to be an error: it decodes the
// error body into out, whatever the status, and returns the status.
func (a *adminClient) callErr(method, path string, in any, out *admin.ErrorBody) int {
	a.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		a.t.Fatal(err)
	}
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(b))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	*out = admin.ErrorBody{}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		a.t.Fatalf("%s %s: %d, decode %s: %v", method, path, resp.StatusCode, raw, err)
	}
	return resp.StatusCode
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
