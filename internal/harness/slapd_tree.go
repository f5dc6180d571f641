package harness

import (
	"slices"

	goldap "github.com/go-ldap/ldap/v3"
)

// AddOU creates ou=name under the base (idempotent) and returns its DN.
// The OU it creates is deleted with everything in it when t ends, so a
// test run again against the same server (go test -count=N) finds its
// names free.
func (s *Slapd) AddOU(t TB, name string) string {
	t.Helper()
	dn := "ou=" + goldap.EscapeDN(name) + "," + s.BaseDN
	c := s.admin(t)
	defer c.Close()
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	req.Attribute("ou", []string{name})
	err := c.Add(req)
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		return dn // its creator deletes it
	case err != nil:
		t.Fatalf("harness: slapd add OU %s: %v", dn, err)
	}
	t.Cleanup(func() { s.deleteTree(t, dn) })
	return dn
}

// deleteTree deletes dn and everything under it. back-mdb has no tree
// delete control (slapd answers "subordinate objects must be deleted
// first"), so the subtree is searched and deleted an entry at a time,
// deepest first.
func (s *Slapd) deleteTree(t TB, dn string) {
	c := s.admin(t)
	defer c.Close()
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return
	case err != nil:
		t.Fatalf("harness: slapd list %s to delete it: %v", dn, err)
	}
	depth := make(map[string]int, len(res.Entries))
	for _, e := range res.Entries {
		parsed, err := goldap.ParseDN(e.DN)
		if err != nil {
			t.Fatalf("harness: slapd delete %s: %v", e.DN, err)
		}
		depth[e.DN] = len(parsed.RDNs)
	}
	slices.SortFunc(res.Entries, func(a, b *goldap.Entry) int { return depth[b.DN] - depth[a.DN] })
	for _, e := range res.Entries {
		if err := c.Del(goldap.NewDelRequest(e.DN, nil)); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			t.Fatalf("harness: slapd delete %s (in %s): %v", e.DN, dn, err)
		}
	}
}

// admin is a new connection bound as the rootdn over plain LDAP on
// loopback, as ldapmodify in Add is; the caller closes it.
func (s *Slapd) admin(t TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("harness: slapd admin connection: %v", err)
	}
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		_ = c.Close()
		t.Fatalf("harness: slapd admin bind: %v", err)
	}
	return c
}
