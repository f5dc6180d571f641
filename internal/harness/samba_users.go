package harness

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"
)

// uacNoPassword is NORMAL_ACCOUNT | PASSWD_NOTREQD: an enabled account
// created without a password.
const uacNoPassword = "544"

// bulkConns is how many connections AddUsersBulk spreads its adds over;
// Samba serves each connection in order, so a few in parallel keep both of
// its worker processes busy.
const bulkConns = 4

// AddUsersBulk creates enabled users named names in ouDN without
// passwords, several adds in flight, and returns their DNs in order: 1,600
// users take ~12 s on an idle two-core machine (one add at a time with a
// password, ~33 ms of key derivation each, would take a minute or more).
// They cannot sign in; they are for tests of large groups, where only
// membership and attributes matter.
func (s *Samba) AddUsersBulk(t TB, ouDN string, names []string) []string {
	t.Helper()
	dns := make([]string, len(names))
	for i, n := range names {
		dns[i] = "CN=" + goldap.EscapeDN(n) + "," + ouDN
	}
	// Dial every connection first, so a failure leaves no adder waiting.
	conns := make([]*goldap.Conn, 0, bulkConns)
	for range bulkConns {
		c, err := goldap.DialURL(s.LDAPSURL, goldap.DialWithTLSConfig(&tls.Config{RootCAs: s.CA.Pool, ServerName: "127.0.0.1"}))
		if err == nil {
			if err = c.Bind(s.AdminDN, s.AdminPassword); err != nil {
				_ = c.Close()
			}
		}
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			t.Fatalf("harness: samba bulk add: %v", err)
		}
		conns = append(conns, c)
	}
	work := make(chan int)
	errs := make(chan error, bulkConns)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for i := range work {
				if err := c.Add(s.bulkUserRequest(dns[i], names[i])); err != nil {
					errs <- fmt.Errorf("add %s: %w", dns[i], err)
					// Drain so the sender is not blocked.
					for range work {
					}
					return
				}
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("harness: samba bulk add: %v", err)
	}
	return dns
}

func (s *Samba) bulkUserRequest(dn, name string) *goldap.AddRequest {
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{name})
	req.Attribute("userPrincipalName", []string{name + "@" + strings.ToLower(s.Realm)})
	req.Attribute("givenName", []string{name})
	req.Attribute("sn", []string{"Bulk"})
	req.Attribute("displayName", []string{name + " Bulk"})
	req.Attribute("mail", []string{name + "@example.test"})
	req.Attribute("userAccountControl", []string{uacNoPassword})
	return req
}

// SetPrimaryGroup makes groupDN the primary group of userDN (primaryGroupID
// = the group's RID). AD requires the user to be a member first, and from
// then on the membership is implicit: it is no longer listed in the group's
// member attribute. When t ends the primary group goes back to Domain
// Users, since AD refuses to delete a group that is someone's primary one.
func (s *Samba) SetPrimaryGroup(t TB, userDN, groupDN string) {
	t.Helper()
	rid := s.RID(t, groupDN)
	s.Replace(t, userDN, "primaryGroupID", fmt.Sprint(rid))
	t.Cleanup(func() {
		req := goldap.NewModifyRequest(userDN, nil)
		req.Replace("primaryGroupID", []string{domainUsersRID})
		if err := s.Admin(t).Modify(req); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			t.Fatalf("harness: samba primary group of %s back to Domain Users: %v", userDN, err)
		}
	})
}

// domainUsersRID is the well-known RID of Domain Users, every user's
// primary group unless changed.
const domainUsersRID = "513"

// RID is the relative identifier of an entry: the last sub-authority of
// its objectSid.
func (s *Samba) RID(t TB, dn string) uint32 {
	t.Helper()
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil)
	res, err := s.Admin(t).Search(req)
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("harness: samba objectSid of %s: %v", dn, err)
	}
	sid := res.Entries[0].GetRawAttributeValue("objectSid")
	if len(sid) < 12 {
		t.Fatalf("harness: samba objectSid of %s: %d bytes", dn, len(sid))
	}
	b := sid[len(sid)-4:]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
