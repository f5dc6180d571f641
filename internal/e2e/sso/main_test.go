package ssoe2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sso/saml"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// The fixture: one slapd directory, one SAML IdP, one OpenID Provider with
// an Entra-like and an Okta-like issuer, one SMTP server, and four
// daemons, each with its own config file and SQLite store synced from the
// directory before it starts:
//
//   - entra: SSO not enforced; SAML and OIDC with the azuread presets;
//     forgotten-password mail for local users.
//   - okta: SSO enforced; SAML and OIDC with the okta presets (so /login
//     shows the two buttons), the bypass path, api.token_ttl 45m.
//   - oktaOnly: SSO enforced with OIDC alone, so /login goes straight to
//     the IdP.
//   - jitReset: SSO not enforced, OIDC (okta preset) with just-in-time
//     creation, and forgotten-password mail: users created at IdP sign-in
//     must get no local password.
const (
	tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraIss = "/" + tenantID + "/v2.0"
	oktaIss  = "/oauth2/default"
	groupA   = "0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c"
	groupB   = "1c7e4d4f-2b6e-405f-8d9b-7a2e3f4b5c6d"
	adeleOID = "5f7a4a0e-7c52-4b7e-9d0e-2a1f0c3b6a11"
	meganOID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

	ldapPassword = "Ldap-Passw0rd!"
	lenaPassword = "Lena-Passw0rd1"
	auditorPW    = "Auditor-Passw0rd1"
)

// The directory: cc-agents -> Agent, cc-supervisors -> Supervisor,
// cc-admins -> Administrator (which holds bypass_sso). memberOf is in the
// LDIF because slapadd runs no overlays.
var ldif = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups
` + person("adele", "Adele", "Vance", "adele.vance@contoso.test", "cc-agents") +
	person("megan", "Megan", "Bowen", "megan.bowen@contoso.test", "cc-supervisors") +
	person("olivia", "Olivia", "Okta", "olivia@example.test", "cc-agents") +
	person("oscar", "Oscar", "Admin", "oscar@example.test", "cc-admins") +
	person("paul", "Paul", "Agent", "paul@example.test", "cc-agents") +
	group("cc-agents", "adele", "olivia", "paul") +
	group("cc-supervisors", "megan") +
	group("cc-admins", "oscar")

func person(uid, given, sn, mail, grp string) string {
	return fmt.Sprintf(`
dn: uid=%[1]s,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: %[1]s
cn: %[2]s %[3]s
givenName: %[2]s
sn: %[3]s
displayName: %[2]s %[3]s
mail: %[4]s
userPassword: %[6]s
memberOf: cn=%[5]s,ou=groups,dc=example,dc=org
`, uid, given, sn, mail, grp, ldapPassword)
}

func group(cn string, members ...string) string {
	s := fmt.Sprintf("\ndn: cn=%s,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: %s\n", cn, cn)
	for _, m := range members {
		s += fmt.Sprintf("member: uid=%s,ou=people,dc=example,dc=org\n", m)
	}
	return s
}

// instance is one running daemon.
type instance struct {
	name    string
	base    string // http://127.0.0.1:PORT
	cfgPath string
	dbPath  string
	logPath string
	// apiKey is the auditor's API key (view_audit_log).
	apiKey string
	done   chan error
}

var (
	mtb                   = &harness.MainTB{}
	slapd                 *harness.Slapd
	idp                   *harness.SimpleSAMLphp
	op                    *harness.OIDCProvider
	mailer                *harness.SMTP
	entra, okta, oktaOnly *instance
	jitReset              *instance
)

func TestMain(m *testing.M) {
	code := func() int {
		defer mtb.Close()
		start()
		return m.Run()
	}()
	os.Exit(code)
}

func start() {
	dir := harness.TempDir(mtb, "dirbridge-e2e-sso-")
	slapd = harness.StartSlapd(mtb, harness.SlapdOptions{LDIF: ldif})
	ca := harness.NewCA(mtb, dir)
	mailer = harness.StartSMTP(mtb, harness.SMTPOptions{Leaf: ca.Issue(mtb, dir, "smtp")})

	entra = newInstance(dir, "entra")
	okta = newInstance(dir, "okta")
	oktaOnly = newInstance(dir, "oktaonly")
	jitReset = newInstance(dir, "jitreset")
	spKey, spCert := writeSPKeyPair(dir)

	// Configs first with a placeholder IdP: the SP metadata comes from the
	// config alone (wire.SAMLMetadata), and the IdP needs it to start.
	const placeholder = "http://127.0.0.1:9/placeholder"
	conf := func(in *instance, metaURL, issuer string) string {
		switch in {
		case entra:
			// Reset mails are limited per source address and per account,
			// in the daemon's memory (the limit has unit tests in sso):
			// every request here comes from 127.0.0.1, and the default of
			// 5 an hour would stop a test run again (go test -count=N).
			return configYAML(in, ca.CertFile, fmt.Sprintf(`sso:
  enforce: false
  saml: {preset: azuread, idp_metadata_url: %q, cert_file: %q, key_file: %q, sign_requests: true, metadata_refresh: 1h, email_verified: true}
  oidc: {preset: azuread, issuer: %q, tenant_id: %q, client_id: dirbridge-entra, client_secret: entra-secret}
  sessions: {cookie_name: dirbridge_entra}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
  password_reset: {enabled: true, per_hour: 100}
`, metaURL, spCert, spKey, issuer+entraIss, tenantID))
		case okta:
			return configYAML(in, ca.CertFile, fmt.Sprintf(`sso:
  enforce: true
  saml: {preset: okta, idp_metadata_url: %q, email_verified: true}
  oidc: {preset: okta, issuer: %q, client_id: dirbridge-okta, client_secret: okta-secret, userinfo: true}
  sessions: {cookie_name: dirbridge_okta}
  jit: true
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
api: {token_ttl: 45m}
`, metaURL, issuer+oktaIss))
		case jitReset:
			return configYAML(in, ca.CertFile, fmt.Sprintf(`sso:
  enforce: false
  oidc: {preset: okta, issuer: %q, client_id: dirbridge-okta, client_secret: okta-secret}
  sessions: {cookie_name: dirbridge_jitreset}
  jit: true
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
  password_reset: {enabled: true, per_hour: 100}
`, issuer+oktaIss))
		default:
			return configYAML(in, ca.CertFile, fmt.Sprintf(`sso:
  enforce: true
  oidc: {preset: okta, issuer: %q, client_id: dirbridge-okta, client_secret: okta-secret}
  sessions: {cookie_name: dirbridge_oktaonly}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
`, issuer+oktaIss))
		}
	}
	for _, in := range []*instance{entra, okta, oktaOnly, jitReset} {
		writeFile(in.cfgPath, conf(in, placeholder, "http://127.0.0.1:9"))
	}
	spMeta := func(in *instance) []byte {
		cfg, err := config.Load(in.cfgPath)
		if err != nil {
			mtb.Fatalf("config %s: %v", in.name, err)
		}
		b, err := wire.SAMLMetadata(cfg)
		if err != nil {
			mtb.Fatalf("SP metadata %s: %v", in.name, err)
		}
		return b
	}

	idp = harness.StartSimpleSAMLphp(mtb, harness.SimpleSAMLphpOptions{
		Users: []harness.SAMLUser{
			// Entra-shaped: claim URIs, the object ID as persistent NameID.
			{Username: "adele", Password: "adele-idp-pw", Attributes: map[string][]string{
				saml.AzureObjectID: {adeleOID}, saml.AzureTenantID: {tenantID},
				saml.AzureName: {"adele.vance@contoso.test"}, saml.AzureEmail: {"adele.vance@contoso.test"},
				saml.AzureGivenName: {"Adele"}, saml.AzureSurname: {"Vance"}, saml.AzureDisplayName: {"Adele Vance"},
				saml.AzureGroups: {groupA, groupB},
			}},
			// Okta-shaped: plain names, the e-mail address as NameID.
			{Username: "olivia", Password: "olivia-idp-pw", Attributes: map[string][]string{
				"email": {"olivia@example.test"}, "login": {"olivia@example.test"},
				"firstName": {"Olivia"}, "lastName": {"Okta"}, "groups": {"Everyone", "CC-Agents"},
			}},
			// Known to the IdP, unknown to the directory: stranger in no
			// mapped group, nina in one (created just in time on okta).
			{Username: "stranger", Password: "stranger-idp-pw", Attributes: map[string][]string{
				"email": {"stranger@example.test"}, "login": {"stranger@example.test"}, "groups": {"Everyone"},
			}},
			{Username: "nina", Password: "nina-idp-pw", Attributes: map[string][]string{
				"email": {"nina@example.test"}, "login": {"nina@example.test"}, "firstName": {"Nina"}, "lastName": {"New"},
				"groups": {"Everyone", "CC-Supervisors"},
			}},
		},
		SPs: []harness.SAMLSP{
			{Metadata: spMeta(entra), ValidateRequests: true},
			{Metadata: spMeta(okta)},
		},
		NameIDs: []harness.SAMLNameIDRule{
			{Format: saml.NameIDPersistent, Attribute: saml.AzureObjectID},
			{Format: saml.NameIDEmail, Attribute: "email"},
		},
	})

	op = harness.StartOIDCProvider(mtb, harness.OIDCProviderOptions{Issuers: []harness.OIDCIssuer{
		{
			Prefix: entraIss,
			Clients: []harness.OIDCClient{{ID: "dirbridge-entra", Secret: "entra-secret",
				RedirectURIs: []string{entra.base + "/oidc/callback"}}},
			Scopes: map[string][]string{
				"openid":  {"oid", "tid"},
				"profile": {"name", "given_name", "family_name", "preferred_username", "upn", "groups"},
				// xms_edov: Entra's optional claim that the address's
				// domain is verified by the tenant.
				"email": {"email", "xms_edov"},
			},
			Users: map[string]map[string]any{
				"adele": {"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "oid": adeleOID, "tid": tenantID,
					"preferred_username": "adele.vance@contoso.test", "upn": "adele.vance@contoso.test",
					"email": "adele.vance@contoso.test", "xms_edov": true, "name": "Adele Vance", "given_name": "Adele", "family_name": "Vance",
					"groups": []string{groupA, groupB}},
				// Too many groups: Entra leaves them out and points at Graph.
				"megan": {"sub": "BBBBBBBBBBBBBBBBBBBBBBkzqFVrSaSaFHy782bbtaQ", "oid": meganOID, "tid": tenantID,
					"preferred_username": "megan.bowen@contoso.test", "upn": "megan.bowen@contoso.test", "email": "megan.bowen@contoso.test", "xms_edov": true, "name": "Megan Bowen",
					"_claim_names":   map[string]string{"groups": "src1"},
					"_claim_sources": map[string]any{"src1": map[string]string{"endpoint": "https://graph.windows.net/" + tenantID + "/users/" + meganOID + "/getMemberObjects"}}},
				// In the tenant, not in the directory.
				"ghost": {"sub": "CCCCCCCCCCCCCCCCCCCCCCkzqFVrSaSaFHy782bbtaQ", "oid": "0f0f0f0f-0000-4000-8000-000000000001", "tid": tenantID,
					"preferred_username": "ghost@contoso.test", "upn": "ghost@contoso.test", "email": "ghost@contoso.test",
					"groups": []string{groupA}},
				// nOAuth: an account of the tenant (a guest, say) without a
				// UPN of adele's, whose unverified e-mail and
				// preferred_username are hers.
				"mallory": {"sub": "DDDDDDDDDDDDDDDDDDDDDDkzqFVrSaSaFHy782bbtaQ", "oid": "0f0f0f0f-0000-4000-8000-000000000002", "tid": tenantID,
					"preferred_username": "adele.vance@contoso.test", "email": "adele.vance@contoso.test", "groups": []string{groupA}},
				// Another object carrying adele's UPN and verified e-mail: a
				// recreated account,
				// which is not adele until an administrator says so.
				"adele-twin": {"sub": "EEEEEEEEEEEEEEEEEEEEEEkzqFVrSaSaFHy782bbtaQ", "oid": "0f0f0f0f-0000-4000-8000-000000000003", "tid": tenantID,
					"preferred_username": "adele.vance@contoso.test", "upn": "adele.vance@contoso.test",
					"email": "adele.vance@contoso.test", "xms_edov": true, "groups": []string{groupA}},
			},
		},
		{
			Prefix: oktaIss,
			Clients: []harness.OIDCClient{{ID: "dirbridge-okta", Secret: "okta-secret",
				RedirectURIs: []string{okta.base + "/oidc/callback", oktaOnly.base + "/oidc/callback", jitReset.base + "/oidc/callback"}}},
			Scopes: map[string][]string{
				"profile": {"name", "given_name", "family_name", "preferred_username"},
				"email":   {"email", "email_verified"},
				"groups":  {"groups"},
			},
			Users: map[string]map[string]any{
				"olivia": {"sub": "00u1olivia2Okta5d7", "preferred_username": "olivia@example.test",
					"email": "olivia@example.test", "email_verified": true, "name": "Olivia Okta",
					"given_name": "Olivia", "family_name": "Okta", "groups": []string{"Everyone", "CC-Agents"}},
				"oscar": {"sub": "00u1oscar3Okta5d7", "preferred_username": "oscar@example.test",
					"email": "oscar@example.test", "email_verified": true, "name": "Oscar Admin",
					"groups": []string{"Everyone", "CC-Admins"}},
				// An Okta user whose profile e-mail, not verified, is
				// olivia's.
				// In a mapped group at the IdP, not in the directory:
				// created just in time on jitReset.
				"jill": {"sub": "00u1jill5Okta5d7", "preferred_username": "jill@example.test",
					"email": "jill@example.test", "email_verified": true, "name": "Jill Jit",
					"groups": []string{"Everyone", "CC-Agents"}},
				"eve": {"sub": "00u1eve4Okta5d7", "preferred_username": "eve@example.test",
					"email": "olivia@example.test", "email_verified": false, "groups": []string{"Everyone"}},
			},
		},
	}})

	ctx, cancel := context.WithCancel(context.Background())
	for _, in := range []*instance{entra, okta, oktaOnly, jitReset} {
		writeFile(in.cfgPath, conf(in, idp.MetadataURL, op.BaseURL))
		prepare(in)
		in.start(ctx)
	}
	mtb.Cleanup(func() {
		cancel()
		for _, in := range []*instance{entra, okta, oktaOnly, jitReset} {
			select {
			case err := <-in.done:
				if err != nil {
					fmt.Fprintf(os.Stderr, "daemon %s: %v\n", in.name, err)
				}
			case <-time.After(15 * time.Second):
				fmt.Fprintf(os.Stderr, "daemon %s did not stop\n", in.name)
			}
		}
	})
	for _, in := range []*instance{entra, okta, oktaOnly, jitReset} {
		in.waitReady()
	}
}

func newInstance(dir, name string) *instance {
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		mtb.Fatalf("mkdir: %v", err)
	}
	return &instance{
		name: name, base: fmt.Sprintf("http://127.0.0.1:%d", harness.FreePort(mtb)),
		cfgPath: filepath.Join(d, "dirbridge.yaml"), dbPath: filepath.Join(d, "dirbridge.db"),
		logPath: filepath.Join(d, "daemon.log"), done: make(chan error, 1),
	}
}

// configYAML is what every daemon shares: the store, the directory, the
// profiles and mapping, SMTP; sso/policy/api come from each.
func configYAML(in *instance, smtpCA, rest string) string {
	return fmt.Sprintf(`server: {listen: %q, public_url: %q}
log: {level: debug}
store: {driver: sqlite, dsn: %q}
privileges:
  - {name: handle_calls, description: Take calls}
  - {name: monitor_agents, description: Listen in}
profiles:
  - {name: Agent, privileges: [handle_calls]}
  - {name: Supervisor, privileges: [handle_calls, monitor_agents]}
  - {name: Administrator, privileges: [bypass_sso, manage_users, view_audit_log, handle_calls]}
directories:
  - name: corp
    kind: ldap
    urls: [%q]
    ca_file: %q
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [cc-agents, cc-supervisors, cc-admins]
    schedule: ""
    full_schedule: ""
    password_warning_days: 10
mapping:
  rules:
    - {group: cc-admins, profile: Administrator, units: [HQ]}
    - {group: cc-supervisors, profile: Supervisor, units: [Floor 2]}
    - {group: cc-agents, profile: Agent, units: [Floor 1]}
smtp: {host: 127.0.0.1, port: %d, tls: starttls, from: "dirbridge <no-reply@example.test>", ca_file: %q}
`, strings.TrimPrefix(in.base, "http://"), in.base, in.dbPath, slapd.LDAPSURL, slapd.CAFile, slapd.ReaderDN,
		slapd.ReaderPassword, slapd.BaseDN, mailer.Port, smtpCA) + rest
}

// prepare does what an operator does before the first start: a full sync
// (through the daemon's own wiring of the config), a local user with an
// e-mail address, and an auditor with an API key.
func prepare(in *instance) {
	ctx := context.Background()
	cfg, err := config.Load(in.cfgPath)
	if err != nil {
		mtb.Fatalf("config %s: %v", in.name, err)
	}
	st, err := wire.Store(ctx, cfg)
	if err != nil {
		mtb.Fatalf("store %s: %v", in.name, err)
	}
	defer st.Close()
	if err := wire.SeedProfiles(ctx, st, cfg, time.Now()); err != nil {
		mtb.Fatalf("profiles: %v", err)
	}
	s, err := wire.Runner(cfg, st, nil, nil)
	if err != nil {
		mtb.Fatalf("runner: %v", err)
	}
	defer s.Runner.Close()
	run, err := s.Runner.Run(ctx, engine.Request{Directory: "corp", Full: true, Trigger: "manual"})
	if err != nil || run.Status != store.SyncSucceeded || run.Counts.Created != 5 {
		mtb.Fatalf("sync %s: %v %+v", in.name, err, run)
	}
	p := password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	lenaHash, err := password.Hash(lenaPassword, p)
	if err != nil {
		mtb.Fatalf("hash: %v", err)
	}
	audHash, _ := password.Hash(auditorPW, p)
	now := time.Now().UTC()
	err = st.Tx(ctx, func(tx store.Tx) error {
		lena := &store.User{Username: "lena", DisplayName: "Lena Local", Email: "lena@example.test", State: store.StateActive,
			Source: store.SourceLocal, Profile: "Agent", PasswordHash: lenaHash, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, lena); err != nil {
			return err
		}
		aud := &store.User{Username: "auditor", State: store.StateActive, Source: store.SourceLocal, Profile: "Administrator",
			PasswordHash: audHash, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, aud); err != nil {
			return err
		}
		secret, _, err := admin.NewAPIKey(ctx, tx, aud.ID, "e2e", now)
		in.apiKey = secret
		return err
	})
	if err != nil {
		mtb.Fatalf("local users %s: %v", in.name, err)
	}
}

// deleteUser removes the user name from in's store, with its sessions and
// keys (the audit log keeps what happened); the store is opened beside the
// running daemon, which SQLite in WAL mode allows. A missing user is no
// error.
func (in *instance) deleteUser(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(in.cfgPath)
	if err != nil {
		t.Fatalf("config %s: %v", in.name, err)
	}
	st, err := wire.Store(ctx, cfg)
	if err != nil {
		t.Fatalf("store %s: %v", in.name, err)
	}
	defer st.Close()
	err = st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.GetUserByUsername(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.DeleteUser(ctx, u.ID)
	})
	if err != nil {
		t.Fatalf("delete %s from %s's store: %v", name, in.name, err)
	}
}

func (in *instance) start(ctx context.Context) {
	f, err := os.Create(in.logPath)
	if err != nil {
		mtb.Fatalf("log: %v", err)
	}
	mtb.Cleanup(func() { _ = f.Close() })
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(f), level)
	log := zap.New(core).With(zap.String("daemon", in.name))
	ln, err := net.Listen("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		mtb.Fatalf("listen %s: %v", in.name, err)
	}
	go func() {
		in.done <- daemon.Run(ctx, daemon.Options{ConfigPath: in.cfgPath, Logger: log, Level: &level, Listener: ln})
	}()
}

// waitReady polls /readyz: 200 once the store is migrated and the IdP
// metadata and OIDC discovery are done.
func (in *instance) waitReady() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-in.done:
			mtb.Fatalf("daemon %s ended: %v\n%s", in.name, err, in.logTail())
		default:
		}
		resp, err := http.Get(in.base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	mtb.Fatalf("daemon %s not ready\n%s", in.name, in.logTail())
}

func (in *instance) logTail() string {
	b, _ := os.ReadFile(in.logPath)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

func writeFile(path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		mtb.Fatalf("write %s: %v", path, err)
	}
}

// writeSPKeyPair makes the SAML SP's RSA key and certificate (it signs
// AuthnRequests), valid now.
func writeSPKeyPair(dir string) (keyFile, certFile string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		mtb.Fatalf("rsa: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dirbridge e2e SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		mtb.Fatalf("certificate: %v", err)
	}
	keyFile, certFile = filepath.Join(dir, "sp.key"), filepath.Join(dir, "sp.crt")
	writeFile(keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	writeFile(certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return keyFile, certFile
}

// browser is a fresh cookie jar that follows redirects, as a browser
// would. Every daemon and IdP here shares the host 127.0.0.1, and cookies
// ignore ports: one browser per test and daemon.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// get fetches u and returns the response with its body read.
func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

// postForm posts form to u.
func postForm(t testing.TB, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

// identity is what /auth/verify and /api/v1/me say about the browser's
// session.
type identity struct {
	Status     int
	User       string
	Email      string
	Profile    string
	Privileges string
	Units      string
	Me         map[string]any
}

func whoami(t testing.TB, in *instance, c *http.Client) identity {
	t.Helper()
	resp, _ := get(t, c, in.base+"/auth/verify")
	id := identity{Status: resp.StatusCode, User: resp.Header.Get("X-Dirbridge-User"), Email: resp.Header.Get("X-Dirbridge-Email"),
		Profile: resp.Header.Get("X-Dirbridge-Profile"), Privileges: resp.Header.Get("X-Dirbridge-Privileges"),
		Units: resp.Header.Get("X-Dirbridge-Units")}
	resp, body := get(t, c, in.base+"/api/v1/me")
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &id.Me); err != nil {
			t.Fatalf("/api/v1/me: %v: %q", err, body)
		}
	}
	return id
}

// auditEvent is one entry of the admin API's audit log.
type auditEvent struct {
	Time    time.Time      `json:"time"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Outcome string         `json:"outcome"`
	Reason  string         `json:"reason"`
	Details map[string]any `json:"details"`
}

// token exchanges the auditor's API key for a bearer token.
func (in *instance) token(t testing.TB) (string, time.Time) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"api_key": in.apiKey})
	resp, err := http.Post(in.base+"/api/v1/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("token: %s", resp.Status)
	}
	return out.Token, out.ExpiresAt
}

// audit lists the audit events of action since a time, newest first.
func (in *instance) audit(t testing.TB, action string, since time.Time) []auditEvent {
	t.Helper()
	tok, _ := in.token(t)
	q := url.Values{"action": {action}, "since": {since.UTC().Format(time.RFC3339Nano)}, "limit": {"200"}}
	req, _ := http.NewRequest(http.MethodGet, in.base+"/api/v1/audit?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []auditEvent `json:"items"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("audit: %s %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}
