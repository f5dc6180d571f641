package saml

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Metadata carries the IdP's signing keys: over plain HTTP anyone on the
// path could substitute them. Only loopback may use http.
func TestMetadataURLMustBeHTTPS(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://idp.example.com/metadata", false},
		{"http://10.1.2.3/metadata", false},
		{"https://idp.example.com/metadata", true},
		{"http://127.0.0.1:8080/metadata", true},
		{"http://localhost:8080/metadata", true},
	} {
		_, err := New(Options{PublicURL: hostileSP, IDPMetadataURL: tc.url, Store: newMemStore(nil)})
		if tc.ok && err != nil {
			t.Errorf("%s refused: %v", tc.url, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "must be an https URL")) {
			t.Errorf("%s: %v, want a refusal", tc.url, err)
		}
	}
}

// withCert adds a second signing certificate to an IdP's metadata, as an
// attacker substituting metadata would.
func withCert(t *testing.T, meta []byte, extra *testIdP) []byte {
	t.Helper()
	var ed crewsaml.EntityDescriptor
	if err := xml.Unmarshal(meta, &ed); err != nil {
		t.Fatal(err)
	}
	kd := &ed.IDPSSODescriptors[0].KeyDescriptors[0]
	kd.KeyInfo.X509Data.X509Certificates = append(kd.KeyInfo.X509Data.X509Certificates,
		crewsaml.X509Certificate{Data: base64.StdEncoding.EncodeToString(extra.cert.Raw)})
	b, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With a pinned signing-certificate fingerprint, metadata must carry that
// certificate at start and on every refresh; a refresh naming only
// another key is refused (the last good copy stays), and an extra
// unpinned certificate in metadata is not trusted.
func TestPinnedIdPCertificate(t *testing.T) {
	pinClock(t, pinnedNow)
	idp, attacker := newTestIdP(t), newTestIdP(t)
	pin := sha256.Sum256(idp.cert.Raw)

	// Inline metadata without the pinned certificate: refused at New.
	_, err := New(Options{PublicURL: hostileSP, IDPMetadata: attacker.metadata(t), Store: newMemStore(nil),
		IDPCertSHA256: [][sha256.Size]byte{pin}})
	if err == nil || !strings.Contains(err.Error(), "no signing certificate matches sso.saml.idp_cert_sha256") {
		t.Fatalf("unpinned inline metadata: %v", err)
	}

	// Metadata with both certificates: only the pinned one is trusted.
	e := newHostileSP(t, idp, nil, func(o *Options) {
		o.IDPMetadata = withCert(t, idp.metadata(t), attacker)
		o.IDPCertSHA256 = [][sha256.Size]byte{pin}
	})
	good := baseFixture(pinnedNow)
	if code, reason := e.post(t, response(t, good, signedAssertion(t, good, idp.key, idp.cert)), "", e.pend(t, reqID)); reason != "" {
		t.Fatalf("pinned key refused (%d): %s", code, reason)
	}
	forged := baseFixture(pinnedNow)
	forged.AssertionID = "_forged"
	code, reason := e.post(t, response(t, forged, signedAssertion(t, forged, attacker.key, attacker.cert)), "", e.pend(t, reqID))
	if code != http.StatusForbidden || !strings.Contains(reason, "cannot validate signature") {
		t.Fatalf("unpinned key in metadata: %d %q", code, reason)
	}

	// A refresh to metadata naming only the attacker's key is refused.
	var swapped atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if swapped.Load() {
			_, _ = w.Write(attacker.metadata(t))
			return
		}
		_, _ = w.Write(idp.metadata(t))
	}))
	defer srv.Close()
	core, logs := observer.New(zap.WarnLevel)
	sp, err := New(Options{PublicURL: hostileSP, IDPMetadataURL: srv.URL, MetadataRefresh: 20 * time.Millisecond,
		Store: newMemStore(nil), Finisher: &recorder{}, Logger: zap.New(core), IDPCertSHA256: [][sha256.Size]byte{pin}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	swapped.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("IdP metadata refresh failed; keeping the last good copy").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("substituted metadata was not refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	msg := logs.FilterMessage("IdP metadata refresh failed; keeping the last good copy").All()[0].ContextMap()["error"]
	if s, _ := msg.(string); !strings.Contains(s, "no signing certificate matches") {
		t.Errorf("refresh error %v", msg)
	}
	got := sp.idp.Load().IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data
	if got != base64.StdEncoding.EncodeToString(idp.cert.Raw) {
		t.Fatal("the pinned metadata was replaced")
	}
}
