package wire

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sso"
)

func loadYAML(t *testing.T, y string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dirbridge.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func TestSSOConversions(t *testing.T) {
	dir := t.TempDir()
	ca := harness.NewCA(t, dir)
	srv := ca.Issue(t, dir, "server")
	cfg := loadYAML(t, `server:
  listen: 127.0.0.1:8443
  public_url: https://sso.example.test/
  trusted_proxies: [10.0.0.1]
  tls: {cert_file: `+srv.CertFile+`, key_file: `+srv.KeyFile+`}
profiles:
  - {name: Agent, privileges: []}
directories:
  - {name: corp, kind: ad, urls: [ldaps://dc1.example.test], bind_dn: svc@example.test, bind_password: pw, base_dn: "DC=example,DC=test", groups: [A], password_warning_days: 12}
  - {name: eu, kind: ad, urls: [ldaps://dc1.eu.example.test], bind_dn: svc@example.test, bind_password: pw, base_dn: "DC=eu,DC=test", groups: [A]}
sso:
  enforce: true
  saml: {preset: okta, idp_metadata_url: "https://idp.example.test/metadata"}
  oidc: {preset: okta, issuer: "https://example.okta.com/oauth2/default", client_id: cid, client_secret: s3cret}
  match_by: [email, upn]
  allowed_redirect_hosts: [app.example.test]
  sessions: {idle_timeout: 10m, cookie_name: db_sess}
licenses: {concurrent: 3}
policy:
  lockout: {max_attempts: 3}
  ip_rules:
    - {name: office, effect: allow, addresses: [10.0.0.0/8], profiles: [Agent]}
  client_cert: {enabled: true, ca_file: `+ca.CertFile+`, map_by: email}
  password_reset: {token_ttl: 20m}
expiry: {time_zone: Europe/Berlin}
`)
	o, err := SSOOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.PublicURL != "https://sso.example.test" || !o.Enforce || !slices.Equal(o.MatchKeys, []string{"email", "upn"}) ||
		o.Cookie.Name != "db_sess" || o.Cookie.IdleTimeout != 10*time.Minute || o.Cookie.AbsoluteTimeout != 12*time.Hour ||
		o.ConcurrentLicences != 3 || o.Lockout.MaxAttempts != 3 || o.ResetTTL != 20*time.Minute ||
		o.TimeZone.String() != "Europe/Berlin" || len(o.TrustedProxies) != 1 || !slices.Equal(o.AllowedReturnHosts, []string{"app.example.test"}) {
		t.Errorf("options: %+v", o)
	}
	if o.DirectoryWarnDays["corp"] != 12 || o.DirectoryWarnDays["eu"] != 7 {
		t.Errorf("warn days %v", o.DirectoryWarnDays)
	}
	if len(o.IPRules) != 1 || o.IPRules[0].Name != "office" || !o.IPRules[0].Active {
		t.Errorf("ip rules %+v", o.IPRules)
	}
	if o.ClientCert == nil || !slices.Equal(o.ClientCert.MapBy, []string{"email"}) || o.ClientCert.CAs == nil {
		t.Errorf("client cert %+v", o.ClientCert)
	}

	meta, err := SAMLMetadata(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`entityID="https://sso.example.test/saml/metadata"`, `Location="https://sso.example.test/saml/acs"`} {
		if !strings.Contains(string(meta), want) {
			t.Errorf("SP metadata lacks %s:\n%s", want, meta)
		}
	}
	rp, err := OIDC(cfg, refuseStore{}, nil)
	if err != nil || rp.CallbackURL() != "https://sso.example.test/oidc/callback" {
		t.Errorf("oidc: %v %v", rp, err)
	}

	tc, err := ServerTLS(cfg)
	if err != nil || tc == nil || tc.ClientCAs == nil || len(tc.Certificates) != 1 {
		t.Fatalf("server TLS: %+v %v", tc, err)
	}
}

func TestPublicURLFallback(t *testing.T) {
	cfg := loadYAML(t, "server: {listen: \":9090\"}\n")
	if u, fell := PublicURL(cfg); u != "http://localhost:9090" || !fell {
		t.Errorf("%q %v", u, fell)
	}
	if tc, err := ServerTLS(cfg); tc != nil || err != nil {
		t.Errorf("no TLS configured: %v %v", tc, err)
	}
	if _, err := SAMLMetadata(cfg); err == nil {
		t.Error("metadata without sso.saml")
	}
}

// sso.saml.idp_cert_sha256 reaches the SP: metadata whose signing
// certificate is not pinned does not load, pinned metadata does.
func TestSAMLPinnedCertificateWired(t *testing.T) {
	dir := t.TempDir()
	ca := harness.NewCA(t, dir)
	idp := ca.Issue(t, dir, "idp")
	certPEM, err := os.ReadFile(idp.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	sum := sha256.Sum256(blk.Bytes)
	meta := filepath.Join(dir, "idp.xml")
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(blk.Bytes) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>` +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
	if err := os.WriteFile(meta, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pin  string
		want string
	}{
		{hex.EncodeToString(sum[:]), ""},
		{strings.Repeat("ab", 32), "no signing certificate matches sso.saml.idp_cert_sha256"},
	} {
		cfg := loadYAML(t, `server: {public_url: "https://sso.example.test"}
sso:
  saml: {preset: okta, idp_metadata_file: `+meta+`, idp_cert_sha256: ["`+tc.pin+`"]}
`)
		sp, err := SAML(cfg, refuseStore{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sp.SetFinisher(nopFinisher{})
		ctx, cancel := context.WithCancel(context.Background())
		err = sp.Start(ctx)
		cancel()
		if tc.want == "" && err != nil {
			t.Errorf("pinned certificate: %v", err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("other pin: %v, want %q", err, tc.want)
		}
	}
}

type nopFinisher struct{}

func (nopFinisher) Finish(http.ResponseWriter, *http.Request, sso.Identity, string) {}
func (nopFinisher) Fail(http.ResponseWriter, *http.Request, string, string, string) {}

// With a PostgreSQL store (replicas) the throttle's counters are shared
// through it; with SQLite they stay in memory.
func TestThrottleSharedWithPostgres(t *testing.T) {
	for driver, want := range map[string]bool{"sqlite": false, "postgres": true} {
		dsn := filepath.Join(t.TempDir(), "db.sqlite")
		if driver == "postgres" {
			dsn = "postgres://dirbridge@127.0.0.1/dirbridge"
		}
		cfg := loadYAML(t, "store: {driver: "+driver+", dsn: \""+dsn+"\"}\n")
		o, err := SSOOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if o.Throttle.Shared != want {
			t.Errorf("%s: shared %v, want %v", driver, o.Throttle.Shared, want)
		}
	}
}
