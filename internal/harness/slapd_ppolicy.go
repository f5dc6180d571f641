package harness

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// PasswordPolicy is a ppolicy (draft-behera-ldap-password-policy) entry as
// the tests need it. The ppolicy overlay is always loaded by StartSlapd;
// without a policy it changes nothing, which the default behaviour relies on.
type PasswordPolicy struct {
	// MaxAge is pwdMaxAge, truncated to whole seconds; 0 writes pwdMaxAge: 0
	// (never expires).
	MaxAge time.Duration
	// OmitMaxAge leaves pwdMaxAge out of the entry altogether.
	OmitMaxAge bool
	// MustChange is pwdMustChange: an administrator's password reset sets
	// pwdReset on the user.
	MustChange bool
}

// defaultPolicyDN is where SlapdOptions.DefaultPasswordPolicy is created.
func defaultPolicyDN(base string) string { return "cn=default,ou=policies," + base }

// policyLDIF is the LDIF of a pwdPolicy entry at dn. pwdPolicy is
// auxiliary; device is the usual structural class beside it.
func policyLDIF(dn string, p PasswordPolicy) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: device\nobjectClass: pwdPolicy\ncn: %s\npwdAttribute: userPassword\n", dn, firstRDNValue(dn))
	if !p.OmitMaxAge {
		fmt.Fprintf(&b, "pwdMaxAge: %d\n", int64(p.MaxAge/time.Second))
	}
	if p.MustChange {
		b.WriteString("pwdMustChange: TRUE\n")
	}
	return b.String() + "\n"
}

// defaultPolicyLDIF is the ou=policies subtree with the default policy,
// loaded offline with the base entries when opts ask for one.
func (s *Slapd) defaultPolicyLDIF(opts SlapdOptions) string {
	if opts.DefaultPasswordPolicy == nil {
		return ""
	}
	return fmt.Sprintf("dn: ou=policies,%s\nobjectClass: organizationalUnit\nou: policies\n\n", s.BaseDN) +
		policyLDIF(s.DefaultPolicyDN, *opts.DefaultPasswordPolicy)
}

// AddPasswordPolicy adds a policy entry at dn online (its parent must
// exist), for users to name in pwdPolicySubentry.
func (s *Slapd) AddPasswordPolicy(t TB, dn string, p PasswordPolicy) {
	t.Helper()
	s.Add(t, policyLDIF(dn, p))
}

// SetPwdChangedTime sets a user's pwdChangedTime, as if the password had
// been changed at at. The attribute is NO-USER-MODIFICATION: the rootdn
// may write it only with the Relax control (RFC draft-zeilenga-ldap-relax).
func (s *Slapd) SetPwdChangedTime(t TB, dn string, at time.Time) {
	t.Helper()
	s.ModifyRelax(t, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: pwdChangedTime\npwdChangedTime: %s\n",
		dn, at.UTC().Format("20060102150405Z")))
}

// ModifyRelax applies LDIF online as the rootdn with the Relax control,
// which lets it write operational attributes such as pwdChangedTime.
func (s *Slapd) ModifyRelax(t TB, ldif string) {
	t.Helper()
	f, err := os.CreateTemp(s.Dir, "relax-*.ldif")
	if err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(ldif); err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	_ = f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, s.modBin, "-x", "-e", "relax", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword, "-f", f.Name()); err != nil {
		t.Fatalf("harness: ldapmodify (relax): %v", err)
	}
}
