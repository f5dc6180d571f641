package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestLoginRedirectIsSignedAndAsksForPresetNameID(t *testing.T) {
	idp := newTestIdP(t)
	key, cert := keyPair(t, "sp", certFrom, certTo)
	for _, c := range []struct {
		preset, format string
		sign           bool
	}{
		{PresetAzureAD, NameIDPersistent, true},
		{PresetOkta, NameIDEmail, false},
	} {
		e := newHostileSP(t, idp, nil, func(o *Options) {
			o.Preset, o.SignRequests, o.Key, o.Certificate = c.preset, c.sign, key, cert
			o.Now = time.Now
		})
		mux := http.NewServeMux()
		e.sp.Routes(mux)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, hostileSP+"/saml/login?return_to=%2Fqueue", nil))
		if w.Code != http.StatusFound {
			t.Fatalf("%s: status %d", c.preset, w.Code)
		}
		loc, _ := url.Parse(w.Header().Get("Location"))
		q := loc.Query()
		if c.sign != (q.Get("SigAlg") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256") || c.sign != (q.Get("Signature") != "") {
			t.Errorf("%s: SigAlg %q Signature set %v", c.preset, q.Get("SigAlg"), q.Get("Signature") != "")
		}
		if q.Get("RelayState") != "" {
			t.Errorf("%s: RelayState %q sent; the return URL stays server-side", c.preset, q.Get("RelayState"))
		}
		raw, _ := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
		xmlReq, _ := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
		if !strings.Contains(string(xmlReq), `Format="`+c.format+`"`) {
			t.Errorf("%s: AuthnRequest does not ask for %s: %s", c.preset, c.format, xmlReq)
		}
		var ck *http.Cookie
		for _, k := range w.Result().Cookies() {
			if k.Name == "__Host-dirbridge_saml_saml" {
				ck = k
			}
		}
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteNoneMode {
			t.Errorf("%s: binding cookie %+v", c.preset, ck)
		}
	}
}

func TestMetadataEndpoint(t *testing.T) {
	idp := newTestIdP(t)
	key, cert := keyPair(t, "sp", certFrom, certTo)
	e := newHostileSP(t, idp, nil, func(o *Options) {
		o.Preset, o.SignRequests, o.Key, o.Certificate = PresetAzureAD, true, key, cert
	})
	mux := http.NewServeMux()
	e.sp.Routes(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, hostileSP+"/saml/metadata", nil))
	body := w.Body.String()
	for _, want := range []string{
		`entityID="` + hostileAud + `"`,
		`Location="` + hostileACS + `"`,
		NameIDPersistent,
		`AuthnRequestsSigned="true"`,
		`WantAssertionsSigned="true"`,
		`use="encryption"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metadata lacks %s:\n%s", want, body)
		}
	}
}

func TestMetadataRefreshKeepsLastGoodCopy(t *testing.T) {
	first, second := newTestIdP(t), newTestIdP(t)
	var mode atomic.Int32 // 0 first, 1 failing, 2 second
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			_, _ = w.Write(first.metadata(t))
		case 1:
			http.Error(w, "down", http.StatusBadGateway)
		default:
			_, _ = w.Write(second.metadata(t))
		}
	}))
	defer srv.Close()
	core, logs := observer.New(zap.WarnLevel)
	sp, err := New(Options{
		PublicURL: hostileSP, IDPMetadataURL: srv.URL, MetadataRefresh: 20 * time.Millisecond,
		Store: newMemStore(nil), Finisher: &recorder{}, Logger: zap.New(core),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := func() string {
		return sp.idp.Load().IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data
	}
	want1 := base64.StdEncoding.EncodeToString(first.cert.Raw)
	if got() != want1 {
		t.Fatal("first metadata not loaded")
	}
	mode.Store(1)
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("IdP metadata refresh failed; keeping the last good copy").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no warning about the failed refresh")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got() != want1 {
		t.Fatal("a failed refresh dropped the metadata")
	}
	mode.Store(2)
	want2 := base64.StdEncoding.EncodeToString(second.cert.Raw)
	for got() != want2 {
		if time.Now().After(deadline) {
			t.Fatal("new metadata never loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetadataFromFileAndStartErrors(t *testing.T) {
	idp := newTestIdP(t)
	file := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(file, idp.metadata(t), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := New(Options{PublicURL: hostileSP, IDPMetadataFile: file, Store: newMemStore(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no finisher") {
		t.Fatalf("Start without a finisher: %v", err)
	}
	sp.SetFinisher(&recorder{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sp.Start(ctx); err != nil || sp.idp.Load().EntityID != hostileIdP {
		t.Fatalf("Start: %v", err)
	}

	bad, err := New(Options{PublicURL: hostileSP, IDPMetadataFile: filepath.Join(t.TempDir(), "missing.xml"), Store: newMemStore(nil), Finisher: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(ctx); err == nil {
		t.Fatal("missing metadata file started")
	}
	doctype := filepath.Join(t.TempDir(), "dtd.xml")
	_ = os.WriteFile(doctype, append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), idp.metadata(t)...), 0o600)
	bad, _ = New(Options{PublicURL: hostileSP, IDPMetadataFile: doctype, Store: newMemStore(nil), Finisher: &recorder{}})
	if err := bad.Start(ctx); err == nil || !strings.Contains(err.Error(), "DOCTYPE") {
		t.Fatalf("DOCTYPE metadata: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	_, err := New(Options{PublicURL: "not a url", Preset: "adfs", ClockSkew: time.Hour, SignRequests: true})
	if err == nil {
		t.Fatal("bad options accepted")
	}
	for _, want := range []string{"public URL", `unknown preset "adfs"`, "exactly one of IdP metadata", "signing requests needs", "clock skew", "a store is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestParseKeyPair(t *testing.T) {
	key, cert := keyPair(t, "sp", certFrom, certTo)
	other, _ := keyPair(t, "other", certFrom, certTo)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, keyPEM := range map[string][]byte{
		"pkcs1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"pkcs8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	} {
		k, c, err := ParseKeyPair(certPEM, keyPEM)
		if err != nil || !k.Equal(key) || !c.Equal(cert) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, _, err := ParseKeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched pair: %v", err)
	}
}

func TestRequireEncryptionRefusesPlainAssertions(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	key, cert := keyPair(t, "sp", certFrom, certTo)
	e := newHostileSP(t, idp, nil, func(o *Options) { o.RequireEncryption, o.Key, o.Certificate = true, key, cert })
	f := baseFixture(pinnedNow)
	code, reason := e.post(t, response(t, f, signedAssertion(t, f, idp.key, idp.cert)), "", e.pend(t, reqID))
	if code != http.StatusForbidden || !strings.Contains(reason, "not encrypted and encryption is required") {
		t.Fatalf("%d %q", code, reason)
	}
}

func TestAttributesFromMap(t *testing.T) {
	a, err := AttributesFromMap(map[string]string{"upn": "userPrincipalName", "groups": "memberOf"})
	if err != nil || a.UPN != "userPrincipalName" || a.Groups != "memberOf" {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := AttributesFromMap(map[string]string{"roles": "x"}); err == nil {
		t.Fatal("unknown key accepted")
	}
	sp, err := New(Options{PublicURL: hostileSP, Preset: PresetAzureAD, Attributes: a, NameIDFormat: "email",
		IDPMetadata: newTestIdP(t).metadata(t), Store: newMemStore(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if sp.attrs.UPN != "userPrincipalName" || sp.attrs.Email != AzureEmail || sp.nameIDFmt != NameIDEmail {
		t.Errorf("merged attributes %+v, NameID format %s", sp.attrs, sp.nameIDFmt)
	}
}

// Two sign-ins started in one browser share the binding cookie, so the
// first tab's response is still accepted after the second tab started.
func TestTwoTabsShareTheBinding(t *testing.T) {
	e := newHostileSP(t, newTestIdP(t), nil, func(o *Options) { o.Now = time.Now })
	mux := http.NewServeMux()
	e.sp.Routes(mux)
	login := func(ck *http.Cookie) *http.Cookie {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, hostileSP+"/saml/login", nil)
		if ck != nil {
			req.AddCookie(ck)
		}
		mux.ServeHTTP(w, req)
		for _, c := range w.Result().Cookies() {
			if c.Name == e.sp.bindCookie {
				return c
			}
		}
		t.Fatal("no binding cookie")
		return nil
	}
	first := login(nil)
	if second := login(first); second.Value != first.Value {
		t.Fatal("the second sign-in replaced the binding cookie")
	}
	if other := login(&http.Cookie{Name: e.sp.bindCookie, Value: "short"}); other.Value == "short" {
		t.Fatal("a malformed binding cookie was reused")
	}
}
