package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a test certificate authority made at start (committed certificates
// expire). Its files are written into a directory for servers to read.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	// CertFile is the CA certificate in PEM, for clients' ca_file.
	CertFile string
	Pool     *x509.CertPool
}

// NewCA makes a CA and writes ca.pem into dir.
func NewCA(t TB, dir string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: ca key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dirbridge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("harness: ca cert: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.CertFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca.CertFile, ca.CertPEM, 0o644); err != nil {
		t.Fatalf("harness: write ca: %v", err)
	}
	ca.Pool = x509.NewCertPool()
	ca.Pool.AddCert(cert)
	return ca
}

// Leaf is a certificate issued by a CA, with its PEM files on disk.
type Leaf struct {
	CertFile string
	KeyFile  string
	TLS      tls.Certificate
}

// Issue makes a server (and client) certificate for the loopback names:
// the machine's hostname, localhost, 127.0.0.1 and ::1 (libldap checks
// the reverse-resolved name of 127.0.0.1), plus any extra DNS names.
// RSA is not needed by any peer here; Samba and slapd accept ECDSA... except
// where a caller asks for RSA via IssueRSA.
func (ca *CA) Issue(t TB, dir, name string, extraDNS ...string) *Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: leaf key: %v", err)
	}
	return ca.issue(t, dir, name, key, &key.PublicKey, extraDNS)
}

func (ca *CA) issue(t TB, dir, name string, key any, pub any, extraDNS []string) *Leaf {
	t.Helper()
	host, _ := os.Hostname()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     append([]string{"localhost", host}, extraDNS...),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatalf("harness: leaf cert: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("harness: leaf key: %v", err)
	}
	l := &Leaf{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+".key")}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(l.CertFile, certPEM, 0o644); err != nil {
		t.Fatalf("harness: write cert: %v", err)
	}
	if err := os.WriteFile(l.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatalf("harness: write key: %v", err)
	}
	l.TLS, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("harness: key pair: %v", err)
	}
	return l
}
