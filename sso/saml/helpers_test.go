package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// recorder is a Finisher that remembers what it was given.
type recorder struct {
	mu       sync.Mutex
	ids      []sso.Identity
	returnTo []string
	reasons  []string
}

func (f *recorder) Finish(w http.ResponseWriter, _ *http.Request, id sso.Identity, returnTo string) {
	f.mu.Lock()
	f.ids = append(f.ids, id)
	f.returnTo = append(f.returnTo, returnTo)
	f.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("signed in"))
}

func (f *recorder) Fail(w http.ResponseWriter, _ *http.Request, method, _ string, reason string) {
	f.mu.Lock()
	f.reasons = append(f.reasons, method+": "+reason)
	f.mu.Unlock()
	http.Error(w, "sign-in failed", http.StatusForbidden)
}

// last returns the latest identity or refusal and clears the record.
func (f *recorder) take() (ids []sso.Identity, returnTo, reasons []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids, returnTo, reasons = f.ids, f.returnTo, f.reasons
	f.ids, f.returnTo, f.reasons = nil, nil, nil
	return ids, returnTo, reasons
}

// memStore is the three store calls the SP makes, for tests that exercise
// the SP's own logic. It follows store.Store's documented contract; the
// real backends are tested against that contract in store/storetest.
type memStore struct {
	mu   sync.Mutex
	once map[string]time.Time
	eph  map[string]ephEntry
	now  func() time.Time
}

type ephEntry struct {
	val     []byte
	expires time.Time
}

func newMemStore(now func() time.Time) *memStore {
	if now == nil {
		now = time.Now
	}
	return &memStore{once: map[string]time.Time{}, eph: map[string]ephEntry{}, now: now}
}

func (m *memStore) RecordOnce(_ context.Context, ns, key string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ns + "\x00" + key
	if exp, ok := m.once[k]; ok && m.now().Before(exp) {
		return store.ErrConflict
	}
	m.once[k] = expires
	return nil
}

func (m *memStore) PutEphemeral(_ context.Context, ns, key string, value []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eph[ns+"\x00"+key] = ephEntry{val: value, expires: expires}
	return nil
}

func (m *memStore) TakeEphemeral(_ context.Context, ns, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ns + "\x00" + key
	e, ok := m.eph[k]
	delete(m.eph, k)
	if !ok || !m.now().Before(e.expires) {
		return nil, store.ErrNotFound
	}
	return e.val, nil
}

// browser is an HTTP client with a cookie jar, like a browser.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// fataler is what keyPair needs of a *testing.T or a harness.MainTB.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// keyPair makes an RSA key and a self-signed certificate valid over
// [from, to].
func keyPair(t fataler, cn string, from, to time.Time) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("key pair: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("key pair: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("key pair: %v", err)
	}
	return key, cert
}
