package harness

import (
	"strconv"

	goldap "github.com/go-ldap/ldap/v3"
)

// AddPSO creates a fine-grained password policy (a password settings
// object) with samba-tool: precedence orders the PSOs that apply to one
// user (lowest wins), settings are samba-tool's options, such as
// "--max-pwd-age=10". PSO names are unique in the domain, so the PSO is
// deleted when t ends, and a test run again in the same domain
// (go test -count=N) can create it anew.
func (s *Samba) AddPSO(t TB, name string, precedence int, settings ...string) {
	t.Helper()
	s.Tool(t, append([]string{"domain", "passwordsettings", "pso", "create", name, strconv.Itoa(precedence)}, settings...)...)
	dn := "CN=" + goldap.EscapeDN(name) + ",CN=Password Settings Container,CN=System," + s.BaseDN
	t.Cleanup(func() {
		if err := s.Admin(t).Del(goldap.NewDelRequest(dn, nil)); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			t.Fatalf("harness: samba delete PSO %s: %v", dn, err)
		}
	})
}

// ApplyPSO makes the PSO name govern a user or group, by sAMAccountName.
// The link goes with the PSO, or with the account when it is deleted.
func (s *Samba) ApplyPSO(t TB, name, account string) {
	t.Helper()
	s.Tool(t, "domain", "passwordsettings", "pso", "apply", name, account)
}
