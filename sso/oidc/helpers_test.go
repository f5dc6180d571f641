package oidc

import (
	"context"
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
	_, _ = w.Write([]byte("signed in"))
}

func (f *recorder) Fail(w http.ResponseWriter, _ *http.Request, method, _ string, reason string) {
	f.mu.Lock()
	f.reasons = append(f.reasons, method+": "+reason)
	f.mu.Unlock()
	http.Error(w, "sign-in failed", http.StatusForbidden)
}

func (f *recorder) take() (ids []sso.Identity, returnTo, reasons []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids, returnTo, reasons = f.ids, f.returnTo, f.reasons
	f.ids, f.returnTo, f.reasons = nil, nil, nil
	return ids, returnTo, reasons
}

// memStore is the two store calls the RP makes, following store.Store's
// documented contract (the real backends are held to it by
// store/storetest).
type memStore struct {
	mu  sync.Mutex
	eph map[string]ephEntry
}

type ephEntry struct {
	val     []byte
	expires time.Time
}

func newMemStore() *memStore { return &memStore{eph: map[string]ephEntry{}} }

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
	if !ok || !time.Now().Before(e.expires) {
		return nil, store.ErrNotFound
	}
	return e.val, nil
}

func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}
