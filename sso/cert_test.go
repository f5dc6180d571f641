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
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
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
