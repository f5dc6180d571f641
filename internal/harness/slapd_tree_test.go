package harness

import (
	"fmt"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

// TestSlapdAddOU: an OU a test adds is deleted with everything in it
// (a nested OU, users, groups) when the test ends, so a test run again
// can make the same entries.
func TestSlapdAddOU(t *testing.T) {
	s := StartSlapd(t, SlapdOptions{Quiet: true})
	var dn string
	for i := range 2 {
		t.Run(fmt.Sprint("run ", i+1), func(t *testing.T) {
			dn = s.AddOU(t, "tree")
			s.Add(t, fmt.Sprintf(`dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: uid=ann,ou=people,%[1]s
objectClass: inetOrgPerson
uid: ann
cn: Ann
sn: Test

dn: uid=bob,ou=people,%[1]s
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Test

dn: cn=team,%[1]s
objectClass: groupOfNames
cn: team
member: uid=ann,ou=people,%[1]s
member: uid=bob,ou=people,%[1]s
`, dn))
		})
	}
	c := s.admin(t)
	defer c.Close()
	_, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		t.Fatalf("%s after its tests ended: %v, want no such object", dn, err)
	}
}
