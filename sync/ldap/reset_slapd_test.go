package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestSlapdResetPassword: an administrator's reset through the Password
// Modify extended operation as the service account, after which the new
// password binds and the old one does not; must-change written as pwdReset
// by an account allowed to (the rootdn here), and reported as missing when
// the service account may not write it.
func TestSlapdResetPassword(t *testing.T) {
	s := sharedSlapd(t)
	resetOU := s.AddOU(t, "reset")
	var b strings.Builder
	for _, name := range []string{"rs-plain", "rs-nopolicy", "rs-must"} {
		fmt.Fprintf(&b, "dn: uid=%[1]s,%[2]s\nobjectClass: inetOrgPerson\nuid: %[1]s\ncn: %[1]s\nsn: Reset\nuserPassword: %[1]s-password\n\n", name, resetOU)
	}
	fmt.Fprintf(&b, "dn: cn=rs-group,%s\nobjectClass: groupOfNames\ncn: rs-group\nmember: uid=rs-plain,%[1]s\nmember: uid=rs-nopolicy,%[1]s\nmember: uid=rs-must,%[1]s\n\n", resetOU)
	s.Add(t, b.String())

	ctx := context.Background()
	cfg := slapdConfig(t, s)
	cfg.ReadPasswordExpiry = true
	src := newSource(t, cfg)

	t.Run("reset", func(t *testing.T) {
		if err := src.ResetPassword(ctx, directory.Account{Login: "rs-plain"}, "Reset-Passw0rd1", false); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if _, err := src.Authenticate(ctx, directory.Account{Login: "rs-plain"}, "Reset-Passw0rd1"); err != nil {
			t.Fatalf("bind with the new password: %v", err)
		}
		if _, err := src.Authenticate(ctx, directory.Account{Login: "rs-plain"}, "rs-plain-password"); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Fatalf("bind with the old password: %v", err)
		}
	})
	t.Run("must change", func(t *testing.T) {
		admCfg := slapdConfig(t, s)
		admCfg.BindDN, admCfg.BindPassword = s.AdminDN, s.AdminPassword
		if err := newSource(t, admCfg).ResetPassword(ctx, directory.Account{Login: "rs-must"}, "Reset-Passw0rd2", true); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if _, err := src.Authenticate(ctx, directory.Account{Login: "rs-must"}, "Reset-Passw0rd2"); err != nil {
			t.Fatalf("bind with the new password: %v", err)
		}
		if u := userByName(t, read(t, src, "rs-group"), "rs-must"); !u.Password.MustChange {
			t.Error("pwdReset not set after a must-change reset")
		}
	})
	t.Run("must change refused", func(t *testing.T) {
		// The service account may not write pwdReset: the password is reset all the same, and the caller
		// is told the flag is missing.
		err := src.ResetPassword(ctx, directory.Account{Login: "rs-nopolicy"}, "Reset-Passw0rd3", true)
		if !errors.Is(err, directory.ErrMustChangeNotSet) {
			t.Fatalf("ResetPassword: %v, want directory.ErrMustChangeNotSet", err)
		}
		if _, err := src.Authenticate(ctx, directory.Account{Login: "rs-nopolicy"}, "Reset-Passw0rd3"); err != nil {
			t.Fatalf("bind with the new password: %v", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if err := src.ResetPassword(ctx, directory.Account{Login: "rs-nobody"}, "Reset-Passw0rd4", false); !errors.Is(err, directory.ErrNoSuchUser) {
			t.Fatalf("ResetPassword: %v, want directory.ErrNoSuchUser", err)
		}
	})
	t.Run("plain LDAP refused", func(t *testing.T) {
		plain := slapdConfig(t, s)
		plain.StartTLS, plain.AllowPlainPassthrough = false, true
		if err := newSource(t, plain).ResetPassword(ctx, directory.Account{Login: "rs-plain"}, "Reset-Passw0rd5", false); !errors.Is(err, directory.ErrInsecureConnection) {
			t.Fatalf("ResetPassword over plain LDAP: %v", err)
		}
	})
}
