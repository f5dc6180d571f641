package signine2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// TestDirectoryAccountBoundToAnchor: the imported AD account is renamed
// away and another AD object takes its sAMAccountName and UPN. Before the
// next sync the local user still carries the old name, but its anchor is
// the first object's objectGUID: the password check refuses the new
// object's password, and an administrator's reset leaves the new object
// alone.
func TestDirectoryAccountBoundToAnchor(t *testing.T) {
	e := newEnv(t, "signin-anchor", []adUser{{name: "an-reuse"}}, "")
	s := e.samba
	web, _ := e.serve(e.ssoOptions(hasher(t)))
	if res := newBrowser(t, web.URL).login("an-reuse", adPassword); !wentThrough(res) {
		t.Fatalf("sign-in before the rename: %d\n%s", res.status, res.body)
	}

	// The imported object gives its names up; a new one takes them.
	s.Replace(t, e.dns["an-reuse"], "sAMAccountName", "an-renamed")
	s.Replace(t, e.dns["an-reuse"], "userPrincipalName", "an-renamed@example.test")
	ouDN := e.dns["an-reuse"][strings.Index(e.dns["an-reuse"], ",")+1:]
	const otherPW = "Other-Passw0rd2!"
	s.Rename(t, e.dns["an-reuse"], "CN=an-renamed", "")
	newDN := s.AddUser(t, ouDN, harness.SambaUser{Name: "an-reuse", Password: otherPW})

	res := newBrowser(t, web.URL).login("an-reuse", otherPW)
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, genericFailure) {
		t.Fatalf("the new object's password signed in as the imported user: %d\n%s", res.status, res.body)
	}
	if ev := e.lastAudit(sso.ActionSignIn, "an-reuse"); ev.Outcome != store.OutcomeFailure || ev.Reason != "wrong password (directory)" {
		t.Errorf("audit: outcome %q reason %q", ev.Outcome, ev.Reason)
	}

	a := e.newAdmin(web.URL, "anchor-admin")
	mustChange := false
	if status := a.call(http.MethodPost, "/api/v1/users/"+e.user("an-reuse").ID+"/password",
		admin.PasswordResetRequest{Password: "Reset-Passw0rd7!", MustChange: &mustChange}, nil); status < 400 {
		t.Fatalf("reset of a name now held by another object: %d", status)
	}
	if err := bindAs(t, s, newDN, otherPW); err != nil {
		t.Fatalf("the reset touched the other object: %v", err)
	}
}
