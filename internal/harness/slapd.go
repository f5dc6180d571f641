package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// SlapdOptions shapes a private OpenLDAP server.
type SlapdOptions struct {
	// BaseDN is the suffix of the one database; default dc=example,dc=org.
	BaseDN string
	// LDIF is loaded offline with slapadd before the server starts: fast
	// (no overlays run, so memberOf must be in the LDIF), and the only
	// sane way to load a large directory. The base entry and the reader
	// account are made by the harness; LDIF holds what lies below them.
	LDIF string
	// LDIFFiles are loaded offline after LDIF, in order.
	LDIFFiles []string
	// Quiet hides slapd's log (the benchmark); tests keep it in DIR/slapd.log.
	Quiet bool
	// RequireClientCert makes TLS demand a client certificate from the CA;
	// one is issued into ClientCertFile/ClientKeyFile.
	RequireClientCert bool
	// DefaultPasswordPolicy, when set, is created at
	// cn=default,ou=policies,<BaseDN> (Slapd.DefaultPolicyDN) and made the
	// ppolicy overlay's default (olcPPolicyDefault): the overlay then sets
	// pwdChangedTime on password changes and enforces pwdMaxAge. Without it
	// no policy applies unless an entry names one in pwdPolicySubentry.
	DefaultPasswordPolicy *PasswordPolicy
}

// Slapd is a running OpenLDAP server on loopback with back-mdb, the
// memberof (+refint) and ppolicy overlays, paged-search limits lifted and
// TLS from a test CA on both ldap:// (StartTLS) and ldaps://.
type Slapd struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT
	BaseDN   string
	// AdminDN is the rootdn: it bypasses ACLs and limits.
	AdminDN       string
	AdminPassword string
	// ReaderDN is an ordinary account with read access, as a service
	// account would be; paged searches are unlimited for it too.
	ReaderDN       string
	ReaderPassword string
	CAFile         string
	CA             *CA
	Dir            string
	// ClientCertFile and ClientKeyFile are set with RequireClientCert.
	ClientCertFile string
	ClientKeyFile  string
	// DefaultPolicyDN is set with SlapdOptions.DefaultPasswordPolicy.
	DefaultPolicyDN string

	bin, addBin, modBin string
	port, tlsPort       int
	quiet               bool

	mu   sync.Mutex
	proc *Process
}

// StartSlapd builds a cn=config in a temp dir, loads opts' LDIF offline and
// starts slapd. Everything is removed at cleanup.
func StartSlapd(t TB, opts SlapdOptions) *Slapd {
	t.Helper()
	s := &Slapd{
		bin:    LookPath(t, "slapd", "slapd"),
		addBin: LookPath(t, "slapadd", "slapd"),
		modBin: LookPath(t, "ldapmodify", "ldap-utils"),
		BaseDN: opts.BaseDN,
		quiet:  opts.Quiet,
	}
	requireFiles(t, "slapd", "slapd", slapdDataFiles...)
	if s.BaseDN == "" {
		s.BaseDN = "dc=example,dc=org"
	}
	s.AdminDN = "cn=admin," + s.BaseDN
	s.AdminPassword = "admin-secret"
	s.ReaderDN = "cn=reader," + s.BaseDN
	s.ReaderPassword = "reader-secret"
	s.Dir = TempDir(t, "dirbridge-slapd-")
	s.CA = NewCA(t, s.Dir)
	s.CAFile = s.CA.CertFile
	leaf := s.CA.Issue(t, s.Dir, "slapd")
	verify := "never"
	if opts.RequireClientCert {
		client := s.CA.Issue(t, s.Dir, "client")
		s.ClientCertFile, s.ClientKeyFile = client.CertFile, client.KeyFile
		verify = "demand"
	}
	if opts.DefaultPasswordPolicy != nil {
		s.DefaultPolicyDN = defaultPolicyDN(s.BaseDN)
	}
	s.port, s.tlsPort = FreePort(t), FreePort(t)
	s.URL = fmt.Sprintf("ldap://%s", Addr(s.port))
	s.LDAPSURL = fmt.Sprintf("ldaps://%s", Addr(s.tlsPort))

	for _, d := range []string{"slapd.d", "data"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			t.Fatalf("harness: slapd: %v", err)
		}
	}
	cfg := filepath.Join(s.Dir, "config.ldif")
	if err := os.WriteFile(cfg, []byte(s.configLDIF(leaf, verify)), 0o600); err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, s.addBin, "-n0", "-F", filepath.Join(s.Dir, "slapd.d"), "-l", cfg); err != nil {
		t.Fatalf("harness: slapd config: %v", err)
	}
	base := fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
o: dirbridge test
dc: %s

dn: %s
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: reader
userPassword: %s

`, s.BaseDN, firstRDNValue(s.BaseDN), s.ReaderDN, s.ReaderPassword)
	s.LoadOffline(t, base+s.defaultPolicyLDIF(opts)+opts.LDIF)
	for _, f := range opts.LDIFFiles {
		s.loadFile(t, f)
	}
	t.Cleanup(func() { s.Stop() })
	s.Start(t)
	return s
}

// slapdDataFiles are the modules and schema files configLDIF loads.
var slapdDataFiles = []string{
	"/usr/lib/ldap/back_mdb.so", "/usr/lib/ldap/memberof.so", "/usr/lib/ldap/refint.so", "/usr/lib/ldap/ppolicy.so",
	"/etc/ldap/schema/core.ldif", "/etc/ldap/schema/cosine.ldif", "/etc/ldap/schema/nis.ldif", "/etc/ldap/schema/inetorgperson.ldif",
}

func firstRDNValue(dn string) string {
	first, _, _ := strings.Cut(dn, ",")
	_, v, _ := strings.Cut(first, "=")
	return v
}

func (s *Slapd) configLDIF(leaf *Leaf, verifyClient string) string {
	// The memberof overlay keeps memberOf on users (and nested groups) for
	// online changes; refint keeps member values right when an entry is
	// renamed or deleted, as AD does. Limits are lifted for paged searches:
	// without it a non-root reader stops at 500 entries.
	ldif := fmt.Sprintf(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcArgsFile: %[1]s/slapd.args
olcTLSCACertificateFile: %[2]s
olcTLSCertificateFile: %[3]s
olcTLSCertificateKeyFile: %[4]s
olcTLSVerifyClient: %[9]s

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %[5]s
olcRootDN: %[6]s
olcRootPW: %[7]s
olcDbDirectory: %[1]s/data
olcDbMaxSize: 8589934592
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: uid,cn,mail eq,sub
olcDbIndex: member,memberOf eq
olcDbIndex: modifyTimestamp eq
olcLimits: * size.pr=unlimited size.prtotal=unlimited size=unlimited time=unlimited
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by dn.exact="%[8]s" write by * none
olcAccess: {1}to * by self read by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member

dn: olcOverlay={2}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {2}ppolicy
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
`, s.Dir, s.CAFile, leaf.CertFile, leaf.KeyFile, s.BaseDN, s.AdminDN, s.AdminPassword, s.ReaderDN, verifyClient)
	if s.DefaultPolicyDN != "" {
		// The ppolicy overlay's entry is the last one: this line joins it.
		ldif += "olcPPolicyDefault: " + s.DefaultPolicyDN + "\n"
	}
	return ldif
}

// LoadOffline loads LDIF with slapadd -q. The server must be stopped (it
// is, before Start; otherwise call Stop first and Start after).
func (s *Slapd) LoadOffline(t TB, ldif string) {
	t.Helper()
	f, err := os.CreateTemp(s.Dir, "load-*.ldif")
	if err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	if _, err := f.WriteString(ldif); err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	_ = f.Close()
	s.loadFile(t, f.Name())
	_ = os.Remove(f.Name())
}

func (s *Slapd) loadFile(t TB, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := Run(ctx, s.addBin, "-q", "-F", filepath.Join(s.Dir, "slapd.d"), "-b", s.BaseDN, "-l", file); err != nil {
		t.Fatalf("harness: slapadd %s: %v", file, err)
	}
}

// Start starts (or restarts) slapd on the same ports and waits for it.
func (s *Slapd) Start(t TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.Exited() {
		return
	}
	urls := fmt.Sprintf("%s/ %s/", s.URL, s.LDAPSURL)
	// -d keeps slapd in the foreground so the harness owns the process.
	level := "stats"
	if s.quiet {
		level = "0"
	}
	cmd := exec.Command(s.bin, "-d", level, "-h", urls, "-F", filepath.Join(s.Dir, "slapd.d"))
	p, err := Start("slapd", cmd, filepath.Join(s.Dir, "slapd.log"))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s.proc = p
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, port := range []int{s.port, s.tlsPort} {
		if err := WaitPort(ctx, Addr(port), 15*time.Second); err != nil {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
			t.Fatalf("harness: slapd: %v\n%s", err, tail(log, 3000))
		}
	}
}

// Stop ends slapd gracefully (the database stays for a Start).
func (s *Slapd) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc.Stop(5 * time.Second)
}

// Kill ends slapd with SIGKILL, as a crashing directory would.
func (s *Slapd) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc.Kill()
}

// Restart stops and starts slapd on the same ports.
func (s *Slapd) Restart(t TB) {
	t.Helper()
	s.Stop()
	s.Start(t)
}

// Add applies LDIF online as the rootdn with ldapmodify -a, so overlays
// run (memberOf is maintained). Records may carry changetype: modify.
func (s *Slapd) Add(t TB, ldif string) {
	t.Helper()
	f, err := os.CreateTemp(s.Dir, "add-*.ldif")
	if err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(ldif); err != nil {
		t.Fatalf("harness: slapd: %v", err)
	}
	_ = f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Run(ctx, s.modBin, "-a", "-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword, "-f", f.Name()); err != nil {
		t.Fatalf("harness: ldapmodify: %v", err)
	}
}

// Modify is Add by another name, for LDIF that changes existing entries.
func (s *Slapd) Modify(t TB, ldif string) { t.Helper(); s.Add(t, ldif) }

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
