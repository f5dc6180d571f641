package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Samba is a Samba AD domain controller provisioned into a temp dir and
// listening on loopback. Its ports are fixed (389, 636, 88, 445, ...), so
// one DC runs per machine: a test binary provisions one domain and its
// tests share it, isolating themselves by OU or unique names; a lock file
// keeps two test binaries from running Samba at once.
type Samba struct {
	URL           string // ldap://127.0.0.1:389
	LDAPSURL      string // ldaps://127.0.0.1:636
	Realm         string // EXAMPLE.TEST
	Domain        string // EXAMPLE
	BaseDN        string // DC=example,DC=test
	AdminDN       string // CN=Administrator,CN=Users,DC=example,DC=test
	AdminPassword string
	CAFile        string
	CA            *CA
	Dir           string

	conf, samdb, tool string

	mu   sync.Mutex
	proc *Process
	conn *goldap.Conn
}

// SambaLockFile serialises Samba between test binaries.
const SambaLockFile = "/tmp/dirbridge-samba.lock"

// StartSamba provisions a domain (about 5-9 s), configures it for tests
// (loopback only, no DNS or NetBIOS services, every directory inside the
// temp dir, simple binds allowed over plain LDAP, TLS from a test CA —
// Samba's own certificate has a negative serial Go refuses) and starts it.
func StartSamba(t TB) *Samba {
	t.Helper()
	s := &Samba{
		Realm:         "EXAMPLE.TEST",
		Domain:        "EXAMPLE",
		BaseDN:        "DC=example,DC=test",
		AdminPassword: "Admin-Passw0rd!",
		URL:           "ldap://127.0.0.1:389",
		LDAPSURL:      "ldaps://127.0.0.1:636",
		tool:          LookPath(t, "samba-tool", "samba-common-bin"),
	}
	s.AdminDN = "CN=Administrator,CN=Users," + s.BaseDN
	sambaBin := LookPath(t, "samba", "samba")
	LookPath(t, "faketime", "faketime")
	checkSambaSetup(t)

	lock, err := os.OpenFile(SambaLockFile, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("harness: samba lock: %v", err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = lock.Close()
			t.Fatalf("harness: samba: another test binary has held %s for 15 minutes", SambaLockFile)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		_ = lock.Close()
	})
	if c, err := net.DialTimeout("tcp", "127.0.0.1:389", 300*time.Millisecond); err == nil {
		_ = c.Close()
		t.Fatalf("harness: samba: port 389 is already taken by a process outside the harness; stop it first")
	}

	s.Dir = TempDir(t, "dirbridge-samba-")
	s.conf = filepath.Join(s.Dir, "etc", "smb.conf")
	s.samdb = filepath.Join(s.Dir, "private", "sam.ldb")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = Run(ctx, s.tool, "domain", "provision", "--realm="+s.Realm, "--domain="+s.Domain, "--server-role=dc",
		"--dns-backend=SAMBA_INTERNAL", "--adminpass="+s.AdminPassword, "--targetdir="+s.Dir, "--host-name=dc1",
		"--host-ip=127.0.0.1", "--function-level=2008_R2", "--backend-store=tdb", "--use-rfc2307",
		"--option=interfaces=lo", "--option=bind interfaces only=yes", "--option=disable netbios=yes")
	if err != nil {
		t.Fatalf("harness: samba provision: %v", err)
	}
	s.CA = NewCA(t, s.Dir)
	s.CAFile = s.CA.CertFile
	leaf := s.CA.Issue(t, s.Dir, "samba", "dc1", "dc1."+strings.ToLower(s.Realm))
	for _, d := range []string{"pid", "ncalrpc", "winbindd", "cache", "state"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			t.Fatalf("harness: samba: %v", err)
		}
	}
	// The provisioned smb.conf copies the host's resolver as a DNS
	// forwarder and logs to /var/log: replace it with one that keeps
	// everything inside the temp dir and starts no DNS/NetBIOS services.
	conf := fmt.Sprintf(`[global]
	netbios name = DC1
	realm = %[2]s
	workgroup = %[3]s
	server role = active directory domain controller
	interfaces = lo
	bind interfaces only = yes
	disable netbios = yes
	server services = -dns -dnsupdate -nbt -wrepl -ntp_signd
	# The RPC endpoints' default range (49152-65535) overlaps Linux's
	# ephemeral ports (32768-60999): a busy machine's own client socket on
	# 127.0.0.1:49154 once kept the DC from starting. Use ports above it.
	rpc server dynamic port range = 61000-61999
	private dir = %[1]s/private
	lock directory = %[1]s
	state directory = %[1]s/state
	cache directory = %[1]s/cache
	binddns dir = %[1]s/bind-dns
	pid directory = %[1]s/pid
	ncalrpc dir = %[1]s/ncalrpc
	winbindd socket directory = %[1]s/winbindd
	log file = %[1]s/samba.log
	logging = file
	max log size = 100000
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	idmap_ldb:use rfc2307 = yes
	ldap server require strong auth = no
	tls enabled = yes
	tls keyfile = %[4]s
	tls certfile = %[5]s
	tls cafile = %[6]s

[sysvol]
	path = %[1]s/state/sysvol
	read only = No

[netlogon]
	path = %[1]s/state/sysvol/%[7]s/scripts
	read only = No
`, s.Dir, s.Realm, s.Domain, leaf.KeyFile, leaf.CertFile, s.CAFile, strings.ToLower(s.Realm))
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatalf("harness: samba: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	s.start(t, sambaBin)
	return s
}

// SambaSetupDir holds what `samba-tool domain provision` reads: the AD
// schema (ad-schema/*.ldf) and the provisioning LDIF. Debian ships it in
// samba-ad-provision, which samba and samba-ad-dc only recommend.
const SambaSetupDir = "/usr/share/samba/setup"

// checkSambaSetup fails the test before provisioning when the setup files
// are missing: provisioning would fail half-way with a Python traceback
// about a file it could not open.
func checkSambaSetup(t TB) {
	t.Helper()
	schemaDir := filepath.Join(SambaSetupDir, "ad-schema")
	if ldf, _ := filepath.Glob(filepath.Join(schemaDir, "*.ldf")); len(ldf) == 0 {
		t.Fatalf("harness: samba: no AD schema files (*.ldf) in %s, which samba-tool domain provision reads: %s",
			schemaDir, installPkg("samba-ad-provision"))
	}
	requireFiles(t, "samba provisioning", "samba-ad-provision",
		filepath.Join(SambaSetupDir, "provision.ldif"), filepath.Join(SambaSetupDir, "prefixMap.txt"))
}

func (s *Samba) start(t TB, bin string) {
	t.Helper()
	cmd := exec.Command(bin, "-s", s.conf, "--foreground", "--no-process-group")
	p, err := Start("samba", cmd, filepath.Join(s.Dir, "samba.out"))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s.proc = p
	// LDAP accepts connections a little before it answers binds.
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := s.dialAdmin()
		if err == nil {
			s.conn = c
			return
		}
		if p.Exited() || time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(s.Dir, "samba.out"))
			logs, _ := os.ReadFile(filepath.Join(s.Dir, "samba.log"))
			t.Fatalf("harness: samba did not answer LDAP: %v\n%s\n%s", err, tail(out, 2000), tail(logs, 3000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// dialAdmin binds as Administrator over LDAPS (password writes need an
// encrypted connection).
func (s *Samba) dialAdmin() (*goldap.Conn, error) {
	c, err := goldap.DialURL(s.LDAPSURL, goldap.DialWithTLSConfig(&tls.Config{RootCAs: s.CA.Pool, ServerName: "127.0.0.1"}))
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Stop ends samba and every process it forked. Samba's children outlive
// the parent by a moment (and would recreate files in the temp dir after
// its removal), so Stop waits until the whole process group is gone.
func (s *Samba) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
	if s.proc == nil || s.proc.Cmd.Process == nil {
		return
	}
	pgid := s.proc.Cmd.Process.Pid
	s.proc.Stop(10 * time.Second)
	start := time.Now()
	for syscall.Kill(-pgid, 0) == nil && time.Since(start) < 15*time.Second {
		if time.Since(start) > 10*time.Second {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Admin is a connection bound as Administrator over LDAPS, for test set-up.
func (s *Samba) Admin(t TB) *goldap.Conn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosing() {
		c, err := s.dialAdmin()
		if err != nil {
			t.Fatalf("harness: samba admin connection: %v", err)
		}
		s.conn = c
	}
	return s.conn
}

// AddOU creates OU=name under the domain (idempotent) and returns its DN.
// The OU it creates is deleted with everything in it when t ends, so a
// test run again in the same domain (go test -count=N) finds its names
// free: sAMAccountName is unique across the whole domain.
func (s *Samba) AddOU(t TB, name string) string {
	t.Helper()
	dn := "OU=" + goldap.EscapeDN(name) + "," + s.BaseDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	err := s.Admin(t).Add(req)
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		return dn // its creator deletes it
	case err != nil:
		t.Fatalf("harness: samba add OU %s: %v", dn, err)
	}
	t.Cleanup(func() { s.deleteTree(t, dn) })
	return dn
}

// deleteTree deletes dn and everything under it in one request (the
// tree delete control, which AD and Samba honour).
func (s *Samba) deleteTree(t TB, dn string) {
	req := goldap.NewDelRequest(dn, []goldap.Control{goldap.NewControlSubtreeDelete()})
	if err := s.Admin(t).Del(req); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		t.Fatalf("harness: samba delete %s with its subtree: %v", dn, err)
	}
}

// SambaUser describes a user to create.
type SambaUser struct {
	Name     string // sAMAccountName and CN
	Password string // empty: no password, account disabled by AD rules
	Disabled bool
	// MustChange sets pwdLastSet=0.
	MustChange bool
	Mail       string
}

// AddUser creates a user in ouDN over LDAP (~30 ms each on Samba: key
// derivation) and returns its DN.
func (s *Samba) AddUser(t TB, ouDN string, u SambaUser) string {
	t.Helper()
	dn := "CN=" + goldap.EscapeDN(u.Name) + "," + ouDN
	uac := "512" // NORMAL_ACCOUNT
	if u.Disabled {
		uac = "514"
	}
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{u.Name})
	req.Attribute("userPrincipalName", []string{u.Name + "@" + strings.ToLower(s.Realm)})
	req.Attribute("givenName", []string{u.Name})
	req.Attribute("sn", []string{"Test"})
	req.Attribute("displayName", []string{u.Name + " Test"})
	if u.Mail != "" {
		req.Attribute("mail", []string{u.Mail})
	}
	if u.Password != "" {
		req.Attribute("unicodePwd", []string{unicodePwd(u.Password)})
		req.Attribute("userAccountControl", []string{uac})
	}
	if err := s.Admin(t).Add(req); err != nil {
		t.Fatalf("harness: samba add user %s: %v", dn, err)
	}
	if u.MustChange {
		s.Replace(t, dn, "pwdLastSet", "0")
	}
	return dn
}

// AddGroup creates a global security group with members and returns its DN.
func (s *Samba) AddGroup(t TB, ouDN, name string, members ...string) string {
	t.Helper()
	dn := "CN=" + goldap.EscapeDN(name) + "," + ouDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "group"})
	req.Attribute("sAMAccountName", []string{name})
	if err := s.Admin(t).Add(req); err != nil {
		t.Fatalf("harness: samba add group %s: %v", dn, err)
	}
	if len(members) > 0 {
		s.AddMembers(t, dn, members...)
	}
	return dn
}

// AddMembers adds member values to a group.
func (s *Samba) AddMembers(t TB, groupDN string, members ...string) {
	t.Helper()
	for len(members) > 0 {
		n := min(len(members), 500)
		req := goldap.NewModifyRequest(groupDN, nil)
		req.Add("member", members[:n])
		if err := s.Admin(t).Modify(req); err != nil {
			t.Fatalf("harness: samba add members to %s: %v", groupDN, err)
		}
		members = members[n:]
	}
}

// RemoveMembers removes member values from a group.
func (s *Samba) RemoveMembers(t TB, groupDN string, members ...string) {
	t.Helper()
	req := goldap.NewModifyRequest(groupDN, nil)
	req.Delete("member", members)
	if err := s.Admin(t).Modify(req); err != nil {
		t.Fatalf("harness: samba remove members from %s: %v", groupDN, err)
	}
}

// Replace sets one attribute of an entry.
func (s *Samba) Replace(t TB, dn, attr string, values ...string) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	if err := s.Admin(t).Modify(req); err != nil {
		t.Fatalf("harness: samba modify %s %s: %v", dn, attr, err)
	}
}

// Rename moves or renames an entry: newRDN like "CN=new", newSuperior a
// DN or "" to stay in place.
func (s *Samba) Rename(t TB, dn, newRDN, newSuperior string) {
	t.Helper()
	if err := s.Admin(t).ModifyDN(goldap.NewModifyDNRequest(dn, newRDN, true, newSuperior)); err != nil {
		t.Fatalf("harness: samba rename %s: %v", dn, err)
	}
}

// SetPasswordAged sets a user's password as if it had been set age ago
// (pwdLastSet cannot be written over LDAP except as 0 or -1): samba-tool
// run under faketime, straight on the database.
func (s *Samba) SetPasswordAged(t TB, name, password string, age time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	offset := fmt.Sprintf("-%ds", int(age.Seconds()))
	if err := Run(ctx, "faketime", "-f", offset, s.tool, "user", "setpassword", name, "--newpassword="+password,
		"-s", s.conf, "-H", s.samdb); err != nil {
		t.Fatalf("harness: samba aged password for %s: %v", name, err)
	}
}

// Tool runs samba-tool against the domain's database.
func (s *Samba) Tool(t TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, s.tool, append(args, "-s", s.conf, "-H", s.samdb)...); err != nil {
		t.Fatalf("harness: samba-tool: %v", err)
	}
}

func unicodePwd(pw string) string {
	quoted := "\"" + pw + "\""
	b := make([]byte, 0, 2*len(quoted))
	for _, r := range quoted {
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}
