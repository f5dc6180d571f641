package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/dirbridge/dirbridge/store"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// upnSAN builds a SAN extension holding one UPN otherName.
func upnSAN(t *testing.T, upn string) pkix.Extension {
	t.Helper()
	inner, _ := asn1.MarshalWithParams(upn, "utf8")
	on, err := asn1.MarshalWithParams(struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}{oidUPN, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}}, "tag:0")
	if err != nil {
		t.Fatal(err)
	}
	san, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: on})
	return pkix.Extension{Id: oidSAN, Value: san}
}

func (ca *testCA) issue(t *testing.T, cn string, emails []string, ext []pkix.Extension) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour), EmailAddresses: emails,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: ext}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func escapedPEM(c *x509.Certificate) string {
	return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
}

func TestCertUPN(t *testing.T) {
	ca := newTestCA(t)
	c, _ := ca.issue(t, "x", nil, []pkix.Extension{upnSAN(t, "alice@corp.example")})
	if got := certUPNs(c); len(got) != 1 || got[0] != "alice@corp.example" {
		t.Fatalf("certUPNs = %q", got)
	}
}

func TestClientCertificateSignIn(t *testing.T) {
	ca := newTestCA(t)
	e := newEnv(t, func(o *Options) {
		o.ClientCert = &ClientCert{CAs: ca.pool, Header: "X-Ssl-Client-Cert"}
		o.Enforce = true
	})
	e.profile("Agent", "take_calls")
	e.profile("Admin", PrivBypassSSO)
	e.user(store.User{Username: "alice", UPN: "alice@corp.example", Profile: "Agent"}, "")
	e.user(store.User{Username: "admin", Email: "admin@example.com", Profile: "Admin"}, "")
	e.user(store.User{Username: "root", Superuser: true}, "")

	adminCert, _ := ca.issue(t, "Administrator", []string{"admin@example.com"}, nil)
	aliceCert, _ := ca.issue(t, "Alice Example", nil, []pkix.Extension{upnSAN(t, "alice@corp.example")})
	rootCert, _ := ca.issue(t, "root", nil, nil)
	other := newTestCA(t)
	forged, _ := other.issue(t, "root", nil, nil)

	get := func(c *x509.Certificate) result {
		return e.do(e.client(), http.MethodGet, "/login/certificate?return_to=/desk", nil, map[string]string{"X-Ssl-Client-Cert": escapedPEM(c)})
	}
	// With SSO enforced a certificate is a bypass: bypass_sso needed.
	if r := get(adminCert); r.status != http.StatusSeeOther || r.header.Get("Location") != "/desk" {
		t.Fatalf("admin by e-mail SAN: %d\n%s", r.status, r.body)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Details["method"] != MethodCert || ev.Details["key_matched"] != "email" || ev.Details["bypass"] != true {
		t.Errorf("audit: %+v", ev.Details)
	}
	if r := get(rootCert); r.status != http.StatusSeeOther {
		t.Fatalf("superuser by CN: %d", r.status)
	}
	r := get(aliceCert)
	if r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "bypass refused") {
		t.Fatalf("alice without bypass_sso: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Details["key_matched"] != "upn" {
		t.Errorf("alice matched by %v, want upn", ev.Details["key_matched"])
	}
	if r := get(forged); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "not trusted") {
		t.Fatalf("certificate from another CA: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	// The header counts only from a trusted proxy.
	e.svc.opts.TrustedProxies = nil
	if r := get(adminCert); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "not a trusted proxy") {
		t.Fatalf("header from untrusted peer: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
}

// TestClientCertificateTLS has dirbridge terminate TLS and ask for the
// certificate itself.
func TestClientCertificateTLS(t *testing.T) {
	ca := newTestCA(t)
	e := newEnv(t, func(o *Options) { o.ClientCert = &ClientCert{CAs: ca.pool} })
	e.user(store.User{Username: "admin", Email: "admin@example.com"}, "")
	cert, key := ca.issue(t, "Administrator", []string{"admin@example.com"}, nil)

	srv := httptest.NewUnstartedServer(e.svc)
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.pool}
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(srv.URL + "/login/certificate")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "dirbridge_session=") {
		t.Fatalf("TLS client certificate: %d", resp.StatusCode)
	}
}

// TestClientCertificateDirectoryState: a certificate proves nothing to the
// directory, so a directory user's live state is asked at each certificate
// sign-in: disabled there (since the last sync) is refused and audited; a
// directory that does not answer is an outage, not a sign-in.
func TestClientCertificateDirectoryState(t *testing.T) {
	ca := newTestCA(t)
	dir := &fakeDirectory{pw: map[string]string{"dana": "x", "ed": "x"}, anchors: map[string]string{"dana": "d1", "ed": "e1"},
		disabled: map[string]bool{}}
	e := newEnv(t, func(o *Options) {
		o.ClientCert = &ClientCert{CAs: ca.pool, Header: "X-Ssl-Client-Cert"}
		o.Directories = map[string]PasswordChecker{"corp": dir}
	})
	e.user(store.User{Username: "dana", SAMAccountName: "dana", UPN: "dana@corp.example", Source: "corp", Anchor: "d1"}, "")
	e.user(store.User{Username: "ed", SAMAccountName: "ed", UPN: "ed@corp.example", Source: "corp", Anchor: "e1"}, "")
	dana, _ := ca.issue(t, "Dana", nil, []pkix.Extension{upnSAN(t, "dana@corp.example")})
	ed, _ := ca.issue(t, "Ed", nil, []pkix.Extension{upnSAN(t, "ed@corp.example")})
	get := func(c *x509.Certificate) result {
		return e.do(e.client(), http.MethodGet, "/login/certificate?return_to=/desk", nil, map[string]string{"X-Ssl-Client-Cert": escapedPEM(c)})
	}
	if r := get(dana); r.status != http.StatusSeeOther {
		t.Fatalf("active in the directory: %d\n%s", r.status, r.body)
	}
	dir.mu.Lock()
	dir.disabled["dana"] = true
	dir.anchors["ed"] = "e2" // the name now belongs to another object
	dir.mu.Unlock()
	if r := get(dana); r.status != http.StatusUnauthorized {
		t.Fatalf("disabled in the directory: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "disabled") {
		t.Errorf("audit: %q %q", ev.Outcome, ev.Reason)
	}
	if r := get(ed); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "not found") {
		t.Fatalf("name held by another object: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	dir.mu.Lock()
	dir.down = true
	dir.mu.Unlock()
	if r := get(ed); r.status != http.StatusServiceUnavailable {
		t.Fatalf("directory down: %d", r.status)
	}

	// A user that exists only through an IdP signs in there, not with a
	// certificate.
	e.user(store.User{Username: "ivy", UPN: "ivy@corp.example", Source: store.SourceIdP}, "")
	ivy, _ := ca.issue(t, "Ivy", nil, []pkix.Extension{upnSAN(t, "ivy@corp.example")})
	if r := get(ivy); r.status != http.StatusUnauthorized || e.lastAudit(ActionSignIn).Reason != reasonIdPOnly {
		t.Fatalf("IdP-only user by certificate: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
}

// crlFor writes a CRL of ca revoking serials to a file and returns its path.
func (ca *testCA) writeCRL(t *testing.T, path string, number int64, next time.Time, serials ...*big.Int) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next, RevokedCertificateEntries: entries}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClientCertificateCRL: a revoked certificate is refused; the CRL file
// is re-read when it changes; a CRL past its NextUpdate, or none for the
// issuer, refuses too (the status is unknown).
func TestClientCertificateCRL(t *testing.T) {
	ca := newTestCA(t)
	crl := filepath.Join(t.TempDir(), "clients.crl")
	ca.writeCRL(t, crl, 1, time.Now().Add(time.Hour))
	e := newEnv(t, func(o *Options) {
		o.ClientCert = &ClientCert{CAs: ca.pool, Header: "X-Ssl-Client-Cert", CRLFiles: []string{crl}}
	})
	e.user(store.User{Username: "alice", UPN: "alice@corp.example"}, "")
	cert, _ := ca.issue(t, "Alice", nil, []pkix.Extension{upnSAN(t, "alice@corp.example")})
	get := func() result {
		return e.do(e.client(), http.MethodGet, "/login/certificate", nil, map[string]string{"X-Ssl-Client-Cert": escapedPEM(cert)})
	}
	if r := get(); r.status != http.StatusSeeOther {
		t.Fatalf("not revoked: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	ca.writeCRL(t, crl, 2, time.Now().Add(time.Hour), big.NewInt(12345), cert.SerialNumber)
	if r := get(); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Outcome != store.OutcomeDenied || !strings.Contains(ev.Reason, "certificate revoked") {
		t.Errorf("audit: %q %q", ev.Outcome, ev.Reason)
	}
	ca.writeCRL(t, crl, 3, time.Now().Add(-time.Minute))
	if r := get(); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "expired") {
		t.Fatalf("stale CRL: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	newTestCA(t).writeCRL(t, crl, 4, time.Now().Add(time.Hour))
	if r := get(); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "no CRL signed by") {
		t.Fatalf("CRL of another CA: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	if _, err := New(Options{Store: e.st, Hasher: e.svc.opts.Hasher, PublicURL: "http://sso.test",
		ClientCert: &ClientCert{CAs: ca.pool, CRLFiles: []string{crl + ".missing"}}}); err == nil {
		t.Error("a missing CRL file was accepted at start")
	}
}

// TestClientCertificateOCSP asks a test responder: good signs in, revoked
// and a responder that is down refuse.
func TestClientCertificateOCSP(t *testing.T) {
	ca := newTestCA(t)
	var status atomic.Int32 // ocsp.Good
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{Status: int(status.Load()), SerialNumber: req.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour), RevokedAt: time.Now().Add(-time.Minute)}, ca.key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(resp)
	}))
	defer responder.Close()
	e := newEnv(t, func(o *Options) {
		o.ClientCert = &ClientCert{CAs: ca.pool, Header: "X-Ssl-Client-Cert", OCSP: &OCSP{Timeout: 2 * time.Second}}
	})
	e.user(store.User{Username: "alice", UPN: "alice@corp.example"}, "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(777), Subject: pkix.Name{CommonName: "Alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), OCSPServer: []string{responder.URL},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{upnSAN(t, "alice@corp.example")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	get := func() result {
		return e.do(e.client(), http.MethodGet, "/login/certificate", nil, map[string]string{"X-Ssl-Client-Cert": escapedPEM(cert)})
	}
	if r := get(); r.status != http.StatusSeeOther {
		t.Fatalf("good: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	status.Store(int32(ocsp.Revoked))
	if r := get(); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "certificate revoked") {
		t.Fatalf("revoked: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
	responder.Close()
	if r := get(); r.status != http.StatusUnauthorized || !strings.Contains(e.lastAudit(ActionSignIn).Reason, "status unknown") {
		t.Fatalf("responder down: %d %q", r.status, e.lastAudit(ActionSignIn).Reason)
	}
}
