package signine2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestClientCertificate signs synced AD users in with client certificates
// over real TLS: a certificate from the configured CA whose SAN UPN or
// e-mail names a user signs them in; an untrusted or expired one is
// refused (in the handshake when the server verifies, by the service when
// the server only requests); with SSO enforced it is a bypass and needs
// bypass_sso.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	serverCA := harness.NewCA(t, dir)
	serverLeaf := serverCA.Issue(t, dir, "web")
	clientCA := harness.NewCA(t, t.TempDir())
	strangerCA := harness.NewCA(t, t.TempDir())
	// dirbridge terminating TLS and asking for client certificates, as
	// configured; wire.ServerTLS builds the listener's TLS from this.
	e := newEnv(t, "signin-cert", []adUser{{name: "cc-upn"}, {name: "cc-mail"}, {name: "cc-sup", supervisor: true}, {name: "cc-dis"}},
		fmt.Sprintf(`server:
  public_url: https://sso.test
  trusted_proxies: [%q]
  tls: {cert_file: %q, key_file: %q}
policy:
  client_cert: {enabled: true, ca_file: %q, map_by: upn}
`, ipProxy, serverLeaf.CertFile, serverLeaf.KeyFile, clientCA.CertFile))

	upnCert := clientCert(t, clientCA, "cc-upn", "cc-upn@example.test", "", time.Now().Add(12*time.Hour))
	mailCert := clientCert(t, clientCA, "someone", "", "cc-mail@mail.example.test", time.Now().Add(12*time.Hour))
	supCert := clientCert(t, clientCA, "cc-sup", "cc-sup@example.test", "", time.Now().Add(12*time.Hour))
	stranger := clientCert(t, strangerCA, "cc-upn", "cc-upn@example.test", "", time.Now().Add(12*time.Hour))
	expired := clientCert(t, clientCA, "cc-upn", "cc-upn@example.test", "", time.Now().Add(-time.Minute))
	nobody := clientCert(t, clientCA, "nobody", "nobody@example.test", "", time.Now().Add(12*time.Hour))
	disCert := clientCert(t, clientCA, "cc-dis", "cc-dis@example.test", "", time.Now().Add(12*time.Hour))

	// variant is e's config with a change.
	variant := func(change func(*config.Config)) *config.Config {
		c := *e.cfg
		change(&c)
		return &c
	}
	// serve starts the sign-in service over TLS as the daemon would for
	// cfg (wire.ServerTLS: tls.VerifyClientCertIfGiven against the client
	// CA). request instead only asks for a certificate, leaving every
	// check to the service.
	serve := func(t *testing.T, cfg *config.Config, request bool) string {
		t.Helper()
		h, _ := e.handler(e.ssoOptionsFrom(cfg, hasher(t)))
		tc, err := wire.ServerTLS(cfg)
		if err != nil || tc == nil || tc.ClientAuth != tls.VerifyClientCertIfGiven {
			t.Fatalf("server TLS: %v %+v", err, tc)
		}
		if request {
			tc.ClientAuth = tls.RequestClientCert
		}
		srv := httptest.NewUnstartedServer(h)
		srv.TLS = tc
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	client := func(t *testing.T, base string, cert *tls.Certificate) *browser {
		return newTLSBrowser(t, base, serverCA.Pool, cert)
	}
	certLogin := func(c *browser) result { return c.get("/login/certificate?return_to=%2Fapp") }
	me := func(t *testing.T, c *browser) sso.Me {
		t.Helper()
		res := c.get("/api/v1/me")
		var m sso.Me
		if res.status != http.StatusOK {
			return m
		}
		if err := json.Unmarshal([]byte(res.body), &m); err != nil {
			t.Fatalf("me: %v", err)
		}
		return m
	}
	refusedBy := func(t *testing.T, res result, name, wantReason string) {
		t.Helper()
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "No usable client certificate") {
			t.Fatalf("%d, want the certificate refusal:\n%s", res.status, res.body)
		}
		ev := e.lastAudit(sso.ActionSignIn, name)
		if ev.Details["method"] != sso.MethodCert || !strings.Contains(ev.Reason, wantReason) || ev.Outcome == store.OutcomeSuccess {
			t.Errorf("audit: outcome %q reason %q, want %q", ev.Outcome, ev.Reason, wantReason)
		}
	}

	verifying := serve(t, e.cfg, false)
	t.Run("UPN maps to the synced user", func(t *testing.T) {
		c := client(t, verifying, upnCert)
		if res := certLogin(c); !wentThrough(res) {
			t.Fatalf("certificate sign-in: %d\n%s", res.status, res.body)
		}
		if m := me(t, c); m.Username != "cc-upn" || m.Method != sso.MethodCert {
			t.Errorf("signed in as %+v", m)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "cc-upn"); ev.Outcome != store.OutcomeSuccess || ev.Details["key_matched"] != "upn" {
			t.Errorf("audit: %+v", ev)
		}
	})
	t.Run("e-mail maps to the synced user", func(t *testing.T) {
		byMail := serve(t, variant(func(c *config.Config) { c.Policy.ClientCert.MapBy = "email" }), false)
		c := client(t, byMail, mailCert)
		if res := certLogin(c); !wentThrough(res) {
			t.Fatalf("certificate sign-in: %d\n%s", res.status, res.body)
		}
		if m := me(t, c); m.Username != "cc-mail" {
			t.Errorf("signed in as %+v", m)
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		c := client(t, verifying, nil)
		res := certLogin(c)
		if res.status != http.StatusUnauthorized || me(t, c).Username != "" {
			t.Fatalf("without a certificate: %d\n%s", res.status, res.body)
		}
	})
	t.Run("a certificate naming nobody", func(t *testing.T) {
		refusedBy(t, certLogin(client(t, verifying, nobody)), "nobody", "no active local user")
	})
	t.Run("untrusted and expired fail the handshake", func(t *testing.T) {
		for name, cert := range map[string]*tls.Certificate{"untrusted": stranger, "expired": expired} {
			req, _ := http.NewRequest(http.MethodGet, verifying+"/login/certificate", nil)
			resp, err := client(t, verifying, cert).c.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s certificate: the handshake succeeded (%d)", name, resp.StatusCode)
			}
		}
	})

	requesting := serve(t, e.cfg, true)
	t.Run("untrusted and expired are refused by the service", func(t *testing.T) {
		c := client(t, requesting, stranger)
		refusedBy(t, certLogin(c), "", "certificate not trusted")
		if me(t, c).Username != "" {
			t.Error("signed in with an untrusted certificate")
		}
		c = client(t, requesting, expired)
		refusedBy(t, certLogin(c), "", "expired")
		if me(t, c).Username != "" {
			t.Error("signed in with an expired certificate")
		}
		if res := certLogin(client(t, requesting, upnCert)); !wentThrough(res) {
			t.Errorf("a good certificate through the requesting server: %d\n%s", res.status, res.body)
		}
	})

	// Behind a TLS-terminating proxy the certificate arrives in a header
	// (nginx $ssl_client_escaped_cert), believed only from a trusted proxy.
	t.Run("certificate header from a trusted proxy only", func(t *testing.T) {
		h, _ := e.handler(e.ssoOptionsFrom(variant(func(c *config.Config) {
			c.Policy.ClientCert.Header = "X-Ssl-Client-Cert"
			c.Server.PublicURL = "" // plain HTTP here: no Secure cookie
		}), hasher(t)))
		plain := httptest.NewServer(h)
		t.Cleanup(plain.Close)
		hdr := http.Header{"X-Ssl-Client-Cert": {url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upnCert.Certificate[0]})))}}

		c := newBrowserFrom(t, plain.URL, ipProxy)
		if res := c.do(http.MethodGet, "/login/certificate?return_to=%2Fapp", nil, hdr); !wentThrough(res) {
			t.Fatalf("certificate header from the trusted proxy: %d\n%s", res.status, res.body)
		}
		if m := me(t, c); m.Username != "cc-upn" {
			t.Errorf("signed in as %+v", m)
		}
		// The proxy's word does not replace the chain check.
		strangerHdr := http.Header{"X-Ssl-Client-Cert": {url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: stranger.Certificate[0]})))}}
		c = newBrowserFrom(t, plain.URL, ipProxy)
		refusedBy(t, c.do(http.MethodGet, "/login/certificate?return_to=%2Fapp", nil, strangerHdr), "", "certificate not trusted")
		c = newBrowserFrom(t, plain.URL, ipQuarantine)
		refusedBy(t, c.do(http.MethodGet, "/login/certificate?return_to=%2Fapp", nil, hdr), "", "which is not a trusted proxy")
		if me(t, c).Username != "" {
			t.Error("signed in with a certificate header from an untrusted peer")
		}
	})

	// A certificate proves nothing to AD: the account's live state is
	// asked at each sign-in, so one disabled in AD since the sync is
	// refused now, not at the next sync.
	t.Run("disabled in AD since the sync", func(t *testing.T) {
		if res := certLogin(client(t, verifying, disCert)); !wentThrough(res) {
			t.Fatalf("before disabling: %d\n%s", res.status, res.body)
		}
		e.samba.Replace(t, e.dns["cc-dis"], "userAccountControl", "514")
		c := client(t, verifying, disCert)
		refusedBy(t, certLogin(c), "cc-dis", "directory refused: "+directory.ErrAccountDisabled.Error())
		if me(t, c).Username != "" {
			t.Error("signed in with the certificate of an account disabled in AD")
		}
		if ev := e.lastAudit(sso.ActionSignIn, "cc-dis"); ev.Outcome != store.OutcomeDenied {
			t.Errorf("audit outcome %q, want denied", ev.Outcome)
		}
	})

	// Revocation by CRL files: generated here, reloaded when replaced.
	t.Run("revoked by the CRL", func(t *testing.T) {
		crl := filepath.Join(t.TempDir(), "clients.crl")
		writeCRL(t, clientCA, crl, 1)
		withCRL := serve(t, variant(func(c *config.Config) {
			c.Policy.ClientCert.CRLFiles = []string{crl}
		}), false)
		if res := certLogin(client(t, withCRL, upnCert)); !wentThrough(res) {
			t.Fatalf("not yet revoked: %d\n%s", res.status, res.body)
		}
		writeCRL(t, clientCA, crl, 2, upnCert.Leaf.SerialNumber)
		c := client(t, withCRL, upnCert)
		// Refused before any user is looked up: the audit names no actor.
		refusedBy(t, certLogin(c), "", "certificate revoked")
		if me(t, c).Username != "" {
			t.Error("signed in with a revoked certificate")
		}
		if res := certLogin(client(t, withCRL, supCert)); !wentThrough(res) {
			t.Errorf("another certificate of the same CA: %d\n%s", res.status, res.body)
		}
	})

	enforced := serve(t, variant(func(c *config.Config) { c.SSO.Enforce = true }), false)
	t.Run("enforced SSO needs bypass_sso", func(t *testing.T) {
		c := client(t, enforced, upnCert)
		refusedBy(t, certLogin(c), "cc-upn", "bypass refused: user lacks bypass_sso")
		if me(t, c).Username != "" {
			t.Error("signed in without bypass_sso")
		}
		c = client(t, enforced, supCert)
		if res := certLogin(c); !wentThrough(res) {
			t.Fatalf("supervisor's certificate with SSO enforced: %d\n%s", res.status, res.body)
		}
		if m := me(t, c); m.Username != "cc-sup" || !m.Bypass {
			t.Errorf("signed in as %+v, want cc-sup on a bypass session", m)
		}
		if ev := e.lastAudit(sso.ActionSignIn, "cc-sup"); ev.Outcome != store.OutcomeSuccess || ev.Details["bypass"] != true {
			t.Errorf("bypass audit: %+v", ev)
		}
	})
}

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// clientCert issues a client certificate from ca for cn with a SAN UPN
// (Microsoft's otherName, as smart-card certificates carry) or a SAN
// e-mail, valid until notAfter (in the past for an expired one).
func clientCert(t *testing.T, ca *harness.CA, cn, upn, email string, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if email != "" {
		tmpl.EmailAddresses = []string{email}
	}
	if upn != "" {
		// otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
		inner, err := asn1.MarshalWithParams(upn, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		on, err := asn1.MarshalWithParams(struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oidUPN, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}}, "tag:0")
		if err != nil {
			t.Fatal(err)
		}
		san, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: on})
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Value: san}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writeCRL writes ca's CRL number n revoking serials to path (PEM).
func writeCRL(t *testing.T, ca *harness.CA, path string, n int64, serials ...*big.Int) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(n),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newTLSBrowser is a browser for an HTTPS server whose certificate chains
// to roots, presenting cert (nil: none).
func newTLSBrowser(t *testing.T, base string, roots *x509.CertPool, cert *tls.Certificate) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: tc}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}
