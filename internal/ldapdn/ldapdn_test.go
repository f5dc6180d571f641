package ldapdn

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestPlain(t *testing.T) {
	for _, tc := range []struct {
		dn    string
		plain bool
	}{
		{"cn=Sales,ou=Groups,dc=example,dc=org", true},
		{"CN=Domain Users,CN=Users,DC=corp,DC=example", true},
		{"uid=jdoe", true},
		{"2.5.4.3=x,dc=y", true},
		{"cn=Zoë Ünal,dc=example", true},
		{"cn=a*b(c),dc=x", true}, // legal in a DN; escaped when put in a filter
		{"", false},
		{"Sales", false},
		{"cn=", false},
		{"=x", false},
		{"cn=a,", false},
		{",cn=a", false},
		{"cn=a,,dc=b", false},
		{"cn=a, dc=b", false},
		{"cn =a", false},
		{"cn= a", false},
		{"cn=a ", false},
		{"cn=a\\,b,dc=x", false},
		{"cn=\"quoted\",dc=x", false},
		{"cn=a+sn=b,dc=x", false},
		{"cn=#04024869", false},
		{"cn=a=b", false},
		{"a*)(cn=*", false},
		{"1cn=x", false},
		{"c_n=x", false},
		{"cn=a\x00b", false},
	} {
		if got := Plain(tc.dn); got != tc.plain {
			t.Errorf("Plain(%q) = %v, want %v", tc.dn, got, tc.plain)
		}
		if tc.plain {
			if err := Check(tc.dn); err != nil {
				t.Errorf("Check(%q) = %v", tc.dn, err)
			}
		}
	}
	if err := Check("cn=a\\,b,dc=x"); err != nil {
		t.Errorf("escaped comma: %v", err)
	}
	if err := Check("cn=a\\"); err == nil {
		t.Error("dangling escape accepted")
	}
}

// FuzzPlain: whatever Plain accepts, go-ldap's parser accepts too, with
// the same RDNs.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{"cn=Sales,ou=Groups,dc=example,dc=org", "uid=x", "cn=a b,dc=c", "2.5.4.3=x", "cn=a*b(c)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Plain(s) {
			return
		}
		dn, err := goldap.ParseDN(s)
		if err != nil {
			t.Fatalf("Plain(%q) but ParseDN: %v", s, err)
		}
		n := 1
		for i := 0; i < len(s); i++ {
			if s[i] == ',' {
				n++
			}
		}
		if len(dn.RDNs) != n {
			t.Fatalf("Plain(%q): %d RDNs parsed, %d expected", s, len(dn.RDNs), n)
		}
		for _, r := range dn.RDNs {
			if len(r.Attributes) != 1 || !IsAttrType(r.Attributes[0].Type) || r.Attributes[0].Value == "" {
				t.Fatalf("Plain(%q): RDN %+v", s, r)
			}
		}
	})
}
