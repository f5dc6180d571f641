package ldap

import (
	"errors"
	"fmt"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/sync/directory"
)

func TestLooksLikeUUID(t *testing.T) {
	for _, good := range []string{"01234567-89ab-cdef-0123-456789abcdef", "{01234567-89AB-CDEF-0123-456789ABCDEF}"} {
		if !looksLikeUUID(good) {
			t.Errorf("looksLikeUUID(%q) = false", good)
		}
	}
	for _, bad := range []string{"", "staff", "01234567-89ab-cdef-0123-456789abcdeg", "0123456789abcdef0123456789abcdef"} {
		if looksLikeUUID(bad) {
			t.Errorf("looksLikeUUID(%q)", bad)
		}
	}
}

func TestSIDText(t *testing.T) {
	// S-1-5-21-1-2-3-500
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xf4, 1, 0, 0}
	got, err := sidText(b)
	if err != nil || got != "S-1-5-21-1-2-3-500" {
		t.Fatalf("sidText = %q, %v", got, err)
	}
	if _, err := sidText(b[:27]); err == nil {
		t.Fatal("truncated SID accepted")
	}
}

func TestGeneralizedTime(t *testing.T) {
	want := time.Date(2026, 11, 23, 12, 27, 0, 0, time.UTC)
	for _, s := range []string{"20261123122700Z", "20261123122700.0Z", "20261123142700+0200"} {
		got, err := generalizedTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("generalizedTime(%q) = %v, %v", s, got, err)
		}
	}
}

func TestDNKey(t *testing.T) {
	same := [][]string{
		{`cn=Sales\2C EMEA,ou=Groups,dc=example,dc=org`, `CN=Sales\, EMEA,OU=groups,DC=example,DC=org`, `cn=sales\2c emea, ou=groups, dc=example, dc=org`},
		{`CN=John Smith,OU=Users,DC=x`, `cn=john smith,ou=users,dc=x`, `cn=John\20Smith,ou=Users,dc=x`},
	}
	for _, group := range same {
		k0, err := dnKey(group[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, dn := range group[1:] {
			if k, err := dnKey(dn); err != nil || k != k0 {
				t.Errorf("dnKey(%q) = %q, want %q (%v)", dn, k, k0, err)
			}
		}
	}
	a, _ := dnKey(`cn=a\2Cb,dc=x`)
	b, _ := dnKey(`cn=a,cn=b,dc=x`)
	if a == b {
		t.Error("an escaped comma and an RDN separator gave one key")
	}
}

func TestIsDN(t *testing.T) {
	for s, want := range map[string]bool{
		"cn=staff,ou=groups,dc=example,dc=org": true,
		"CN=Sales\\, EMEA,DC=x":                true,
		"2.5.4.3=x,dc=y":                       true,
		"staff":                                false,
		"a*)(cn=*":                             false,
		"Sales, EMEA":                          false,
	} {
		if got := isDN(s); got != want {
			t.Errorf("isDN(%q) = %v", s, got)
		}
	}
}

func TestRangedValues(t *testing.T) {
	e := goldap.NewEntry("cn=g", map[string][]string{"member;range=0-1499": {"a", "b"}})
	vals, more, err := rangedValues(e, "member")
	if err != nil || len(vals) != 2 || more != 1500 {
		t.Fatalf("partial: %v %d %v", vals, more, err)
	}
	e = goldap.NewEntry("cn=g", map[string][]string{"member;range=1500-*": {"c"}})
	if vals, more, err = rangedValues(e, "member"); err != nil || len(vals) != 1 || more != -1 {
		t.Fatalf("last: %v %d %v", vals, more, err)
	}
	e = goldap.NewEntry("cn=g", map[string][]string{"member": {"a", "b", "c"}})
	if vals, more, err = rangedValues(e, "member"); err != nil || len(vals) != 3 || more != -1 {
		t.Fatalf("whole: %v %d %v", vals, more, err)
	}
	e = goldap.NewEntry("cn=g", map[string][]string{"member;range=x": {"a"}})
	if _, _, err = rangedValues(e, "member"); err == nil {
		t.Fatal("malformed range accepted")
	}
}

func TestClassifyBind(t *testing.T) {
	adErr := func(code string) error {
		return goldap.NewError(goldap.LDAPResultInvalidCredentials,
			fmt.Errorf("80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data %s, v4563", code))
	}
	cases := []struct {
		err  error
		want error
	}{
		{adErr("52e"), directory.ErrInvalidCredentials},
		{adErr("530"), directory.ErrLogonTimeRestricted},
		{adErr("531"), directory.ErrWorkstationRestricted},
		{adErr("532"), directory.ErrPasswordExpired},
		{adErr("533"), directory.ErrAccountDisabled},
		{adErr("701"), directory.ErrAccountExpired},
		{adErr("773"), directory.ErrMustChangePassword},
		{adErr("775"), directory.ErrAccountLocked},
		{goldap.NewError(goldap.LDAPResultInvalidCredentials, errors.New("")), directory.ErrInvalidCredentials},
		{goldap.NewError(goldap.ErrorNetwork, errors.New("connection reset")), directory.ErrUnavailable},
		{errors.New("unable to read LDAP response packet: EOF"), directory.ErrUnavailable},
	}
	for _, tc := range cases {
		got := classifyBind(tc.err)
		if !errors.Is(got, tc.want) {
			t.Errorf("classifyBind(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if !errors.Is(tc.want, directory.ErrInvalidCredentials) && errors.Is(got, directory.ErrInvalidCredentials) {
			t.Errorf("classifyBind(%v) counts as a wrong password", tc.err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{Name: "corp", Kind: KindAD, URLs: []string{"ldaps://dc1"}, BaseDN: "dc=x"}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no name":    func(c *Config) { c.Name = "" },
		"bad kind":   func(c *Config) { c.Kind = "nis" },
		"no urls":    func(c *Config) { c.URLs = nil },
		"bad url":    func(c *Config) { c.URLs = []string{"http://dc1"} },
		"no base":    func(c *Config) { c.BaseDN = "" },
		"bad filter": func(c *Config) { c.UserFilter = "(objectClass=user" },
		"bad range":  func(c *Config) { c.RangeSize = -1 },
		"no ca file": func(c *Config) { c.CAFile = "/nonexistent/ca.pem" },
	} {
		c := good
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnicodePwd(t *testing.T) {
	if got := encodeUnicodePwd("ab"); got != "\"\x00a\x00b\x00\"\x00" {
		t.Fatalf("encodeUnicodePwd = %q", got)
	}
}
