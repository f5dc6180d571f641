package synce2e

import (
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// server is what a test does to a directory, on slapd or on Samba AD,
// so one test body covers both.
type server interface {
	// opts are the connection settings of a directory section (LDAPS with
	// the test CA, a service account) with the limits lifted.
	opts(t *testing.T) dirOpts
	// ou makes a fresh container for one test and returns its DN; it is
	// deleted with everything in it when the test ends.
	ou(t *testing.T, name string) string
	// user creates an enabled user whose username is name.
	user(t *testing.T, ou, name string) string
	group(t *testing.T, ou, name string, members ...string) string
	addMembers(t *testing.T, group string, members ...string)
	removeMembers(t *testing.T, group string, members ...string)
	// empty leaves group with no users in it.
	empty(t *testing.T, group string, members ...string)
	setDisabled(t *testing.T, user string, disabled bool)
	// rename gives a user a new username and moves it to newOU; it
	// returns the new DN.
	rename(t *testing.T, user, newName, newOU string) string
	// ldapsAddr is the host:port of the LDAPS listener.
	ldapsAddr() string
	// plainURL is the ldap:// URL (no TLS; reads only).
	plainURL() string
	// remove deletes an entry.
	remove(t *testing.T, dn string)
}

// forEachServer runs body against slapd and against Samba AD.
func forEachServer(t *testing.T, body func(t *testing.T, s server)) {
	t.Run("slapd", func(t *testing.T) { body(t, sharedSlapd(t)) })
	t.Run("samba", func(t *testing.T) { body(t, sharedSamba(t)) })
}

// ---- slapd ----

// pagingUsers is the size of the slapd group that is read by streaming
// every user in pages: above the reader's 1,000-member lookup threshold.
const pagingUsers = 1200

var (
	slapdOnce   sync.Once
	slapdShared *slapdServer
)

type slapdServer struct {
	s *harness.Slapd
}

func sharedSlapd(t *testing.T) *slapdServer {
	t.Helper()
	slapdOnce.Do(func() {
		slapdShared = &slapdServer{harness.StartSlapd(mainTB, harness.SlapdOptions{LDIF: pagingLDIF("dc=example,dc=org")})}
	})
	if slapdShared == nil {
		t.Fatal("slapd did not start")
	}
	return slapdShared
}

// pagingLDIF is ou=paging with pagingUsers users all in cn=paging-group,
// loaded offline (slapadd runs no overlay, so memberOf is written here).
func pagingLDIF(base string) string {
	var b strings.Builder
	ou := "ou=paging," + base
	group := "cn=paging-group," + ou
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: paging\n\n", ou)
	for i := range pagingUsers {
		fmt.Fprintf(&b, "dn: uid=pg%04d,%s\nobjectClass: inetOrgPerson\nuid: pg%04d\ncn: Paged %04d\nsn: Paged\nmail: pg%04d@example.org\nmemberOf: %s\n\n",
			i, ou, i, i, i, group)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: paging-group\n", group)
	for i := range pagingUsers {
		fmt.Fprintf(&b, "member: uid=pg%04d,%s\n", i, ou)
	}
	b.WriteString("\n")
	return b.String()
}

func (x *slapdServer) opts(t *testing.T) dirOpts {
	return dirOpts{Kind: "ldap", URLs: []string{x.s.LDAPSURL}, CAFile: x.s.CAFile, BindDN: x.s.ReaderDN,
		BindPassword: x.s.ReaderPassword, BaseDN: x.s.BaseDN, DisabledFilter: "(pwdAccountLockedTime=*)",
		MaxCount: 1000, MaxPercent: 100}
}

func (x *slapdServer) remove(t *testing.T, dn string) {
	x.s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: delete\n", dn))
}

func (x *slapdServer) plainURL() string { return x.s.URL }

func (x *slapdServer) ldapsAddr() string { return strings.TrimPrefix(x.s.LDAPSURL, "ldaps://") }

func (x *slapdServer) ou(t *testing.T, name string) string { return x.s.AddOU(t, name) }

func (x *slapdServer) user(t *testing.T, ou, name string) string {
	dn := "uid=" + goldap.EscapeDN(name) + "," + ou
	x.s.Add(t, fmt.Sprintf("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s Test\nsn: Test\ngivenName: %s\nmail: %s@example.org\n",
		dn, name, name, name, name))
	return dn
}

func (x *slapdServer) group(t *testing.T, ou, name string, members ...string) string {
	dn := "cn=" + goldap.EscapeDN(name) + "," + ou
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\n", dn, name)
	for _, m := range members {
		fmt.Fprintf(&b, "member: %s\n", m)
	}
	x.s.Add(t, b.String())
	return dn
}

func (x *slapdServer) modifyMembers(t *testing.T, op, group string, members []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nchangetype: modify\n%s: member\n", group, op)
	for _, m := range members {
		fmt.Fprintf(&b, "member: %s\n", m)
	}
	b.WriteString("-\n")
	x.s.Modify(t, b.String())
}

func (x *slapdServer) addMembers(t *testing.T, group string, members ...string) {
	x.modifyMembers(t, "add", group, members)
}

func (x *slapdServer) removeMembers(t *testing.T, group string, members ...string) {
	x.modifyMembers(t, "delete", group, members)
}

// empty: groupOfNames must keep a member, so the only one left names an
// entry that does not exist (the memberof overlay ignores it), which is
// no user.
func (x *slapdServer) empty(t *testing.T, group string, members ...string) {
	x.s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: member\nmember: cn=nobody,%s\n-\n", group, x.s.BaseDN))
}

// setDisabled locks the account permanently the ppolicy way; the
// directory's disabled_filter tests pwdAccountLockedTime.
func (x *slapdServer) setDisabled(t *testing.T, user string, disabled bool) {
	if disabled {
		x.s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n-\n", user))
		return
	}
	x.s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: pwdAccountLockedTime\n-\n", user))
}

func (x *slapdServer) rename(t *testing.T, user, newName, newOU string) string {
	x.s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modrdn\nnewrdn: uid=%s\ndeleteoldrdn: 1\nnewsuperior: %s\n", user, goldap.EscapeDN(newName), newOU))
	return "uid=" + goldap.EscapeDN(newName) + "," + newOU
}

// ---- Samba AD ----

const (
	adPassword = "E2e-Passw0rd1!"
	// bigGroupUsers is above AD's 1,500-value range (MaxValRange), where
	// Windows AD starts answering member;range=0-1499.
	bigGroupUsers = 1600
)

var (
	sambaOnce   sync.Once
	sambaShared *sambaServer
	bigOnce     sync.Once
	bigGroupDN  string
)

type sambaServer struct {
	s *harness.Samba
}

func sharedSamba(t *testing.T) *sambaServer {
	t.Helper()
	sambaOnce.Do(func() {
		sambaShared = &sambaServer{harness.StartSamba(mainTB)}
	})
	if sambaShared == nil {
		t.Fatal("samba did not start")
	}
	return sambaShared
}

// bigGroup is the shared OU dirbridge-big with bigGroupUsers users, all in
// big-group; made once per run (in bulk: about ten seconds).
func (x *sambaServer) bigGroup(t *testing.T) string {
	t.Helper()
	bigOnce.Do(func() {
		start := time.Now()
		ou := x.s.AddOU(mainTB, "dirbridge-big")
		names := make([]string, bigGroupUsers)
		for i := range names {
			names[i] = fmt.Sprintf("big%04d", i)
		}
		dns := x.s.AddUsersBulk(mainTB, ou, names)
		bigGroupDN = x.s.AddGroup(mainTB, ou, "big-group", dns...)
		t.Logf("%d users and their group made in %s", bigGroupUsers, time.Since(start).Round(time.Millisecond))
	})
	if bigGroupDN == "" {
		t.Fatal("big group not made")
	}
	return bigGroupDN
}

func (x *sambaServer) opts(t *testing.T) dirOpts {
	return dirOpts{Kind: "ad", URLs: []string{x.s.LDAPSURL}, CAFile: x.s.CAFile, BindDN: x.s.AdminDN,
		BindPassword: x.s.AdminPassword, BaseDN: x.s.BaseDN, MaxCount: 1000, MaxPercent: 100}
}

func (x *sambaServer) remove(t *testing.T, dn string) {
	if err := x.s.Admin(t).Del(goldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("delete %s: %v", dn, err)
	}
}

func (x *sambaServer) plainURL() string { return x.s.URL }

func (x *sambaServer) ldapsAddr() string { return strings.TrimPrefix(x.s.LDAPSURL, "ldaps://") }

func (x *sambaServer) ou(t *testing.T, name string) string { return x.s.AddOU(t, name) }

func (x *sambaServer) user(t *testing.T, ou, name string) string {
	return x.s.AddUser(t, ou, harness.SambaUser{Name: name, Password: adPassword, Mail: name + "@example.test"})
}

// group names the group by its CN. AD refuses some characters in
// sAMAccountName (" / \ [ ] : ; | = , + * ? < >), so a group whose name
// has them gets a plain one, as an administrator would give it.
func (x *sambaServer) group(t *testing.T, ou, name string, members ...string) string {
	if !strings.ContainsAny(name, `"/\[]:;|=,+*?<>`) {
		return x.s.AddGroup(t, ou, name, members...)
	}
	// Samba wants "=" escaped in an RDN value too (RFC 4514 allows it).
	dn := "CN=" + strings.ReplaceAll(goldap.EscapeDN(name), "=", `\3D`) + "," + ou
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "group"})
	req.Attribute("sAMAccountName", []string{fmt.Sprintf("grp-%08x", fnv32(name))})
	if err := x.s.Admin(t).Add(req); err != nil {
		t.Fatalf("add group %s: %v", dn, err)
	}
	if len(members) > 0 {
		x.s.AddMembers(t, dn, members...)
	}
	return dn
}

func (x *sambaServer) addMembers(t *testing.T, group string, members ...string) {
	x.s.AddMembers(t, group, members...)
}

func (x *sambaServer) removeMembers(t *testing.T, group string, members ...string) {
	x.s.RemoveMembers(t, group, members...)
}

func (x *sambaServer) empty(t *testing.T, group string, members ...string) {
	x.s.RemoveMembers(t, group, members...)
}

// setDisabled flips ACCOUNTDISABLE in userAccountControl (512 normal
// account, 514 disabled).
func (x *sambaServer) setDisabled(t *testing.T, user string, disabled bool) {
	uac := "512"
	if disabled {
		uac = "514"
	}
	x.s.Replace(t, user, "userAccountControl", uac)
}

func (x *sambaServer) rename(t *testing.T, user, newName, newOU string) string {
	x.s.Rename(t, user, "CN="+goldap.EscapeDN(newName), newOU)
	dn := "CN=" + goldap.EscapeDN(newName) + "," + newOU
	x.s.Replace(t, dn, "sAMAccountName", newName)
	x.s.Replace(t, dn, "userPrincipalName", newName+"@example.test")
	return dn
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// attr is one attribute of an entry, read as Administrator.
func (x *sambaServer) attr(t *testing.T, dn, name string) string {
	t.Helper()
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{name}, nil)
	res, err := x.s.Admin(t).Search(req)
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s of %s: %v", name, dn, err)
	}
	return res.Entries[0].GetAttributeValue(name)
}
