package saml

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// idpEnv is the SimpleSAMLphp IdP and the SPs registered with it, shared
// by the package's tests (starting PHP per test would cost seconds each).
type idpEnv struct {
	idp *harness.SimpleSAMLphp
	// azure requests persistent NameIDs, signs its requests; okta asks for
	// e-mail NameIDs; enc is an azure SP the IdP encrypts assertions for
	// (SimpleSAMLphp 1.x encrypts with AES-128-CBC only, so enc allows CBC);
	// cbc is one that keeps the default, GCM only.
	azure, okta, enc, cbc *spEnv
}

type spEnv struct {
	sp  *ServiceProvider
	srv *httptest.Server
	fin *recorder
	st  *memStore
}

var env *idpEnv

const (
	adeleOID  = "5f7a4a0e-7c52-4b7e-9d0e-2a1f0c3b6a11"
	tenantID  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	groupA    = "0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c"
	groupB    = "1c7e4d4f-2b6e-405f-8d9b-7a2e3f4b5c6d"
	meganOID  = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	graphLink = "https://graph.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/users/9a8b7c6d/getMemberObjects"
)

func TestMain(m *testing.M) {
	mtb := &harness.MainTB{}
	code := func() int {
		defer mtb.Close()
		env = startIdPEnv(mtb)
		return m.Run()
	}()
	os.Exit(code)
}

func startIdPEnv(t *harness.MainTB) *idpEnv {
	e := &idpEnv{}
	// The SPs' URLs must exist before their metadata, and their metadata
	// before the IdP: start the listeners first and mount handlers after.
	newSP := func(name, preset string, sign bool) *spEnv {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		key, cert := keyPair(t, "dirbridge test SP "+name, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
		fin := &recorder{}
		st := newMemStore(nil)
		sp, err := New(Options{
			Name:            name,
			PublicURL:       srv.URL,
			Preset:          preset,
			IDPMetadataURL:  "https://placeholder.invalid/", // replaced below once the IdP runs
			Key:             key,
			Certificate:     cert,
			SignRequests:    sign,
			Store:           st,
			Finisher:        fin,
			MetadataRefresh: time.Hour,
		})
		if err != nil {
			t.Fatalf("new SP: %v", err)
		}
		sp.Routes(mux)
		return &spEnv{sp: sp, srv: srv, fin: fin, st: st}
	}
	e.azure = newSP("azure", PresetAzureAD, true)
	e.okta = newSP("okta", PresetOkta, false)
	e.enc = newSP("enc", PresetAzureAD, false)
	e.enc.sp.opts.RequireEncryption = true
	e.enc.sp.opts.AllowCBCEncryption = true
	e.cbc = newSP("cbc", PresetAzureAD, false)
	meta := func(s *spEnv) []byte {
		b, err := s.sp.MetadataXML()
		if err != nil {
			t.Fatalf("SP metadata: %v", err)
		}
		return b
	}
	e.idp = harness.StartSimpleSAMLphp(t, harness.SimpleSAMLphpOptions{
		Users: []harness.SAMLUser{
			{Username: "adele", Password: "adele-pw", Attributes: map[string][]string{
				AzureObjectID:    {adeleOID},
				AzureTenantID:    {tenantID},
				AzureName:        {"adele.vance@contoso.test"},
				AzureEmail:       {"adele.vance@contoso.test"},
				AzureGivenName:   {"Adele"},
				AzureSurname:     {"Vance"},
				AzureDisplayName: {"Adele Vance"},
				AzureGroups:      {groupA, groupB},
			}},
			{Username: "megan", Password: "megan-pw", Attributes: map[string][]string{
				AzureObjectID:   {meganOID},
				AzureName:       {"megan.bowen@contoso.test"},
				AzureEmail:      {"megan.bowen@contoso.test"},
				AzureGroupsLink: {graphLink},
			}},
			{Username: "olivia", Password: "olivia-pw", Attributes: map[string][]string{
				"email":     {"olivia.okta@example.test"},
				"login":     {"olivia.okta@example.test"},
				"firstName": {"Olivia"},
				"lastName":  {"Okta"},
				"groups":    {"CC-Agents", "CC-Supervisors"},
			}},
		},
		SPs: []harness.SAMLSP{
			{Metadata: meta(e.azure), ValidateRequests: true},
			{Metadata: meta(e.okta)},
			{Metadata: meta(e.enc), EncryptAssertions: true},
			{Metadata: meta(e.cbc), EncryptAssertions: true},
		},
		NameIDs: []harness.SAMLNameIDRule{
			{Format: NameIDPersistent, Attribute: AzureObjectID},
			{Format: NameIDEmail, Attribute: "email"},
		},
	})
	for _, s := range []*spEnv{e.azure, e.okta, e.enc, e.cbc} {
		s.sp.opts.IDPMetadataURL = e.idp.MetadataURL
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := s.sp.Start(ctx); err != nil {
			t.Fatalf("start SP: %v", err)
		}
	}
	return e
}

func signIn(t *testing.T, s *spEnv, user, pass, returnTo string) (*http.Response, string) {
	t.Helper()
	ctx := context.Background()
	c := browser(t)
	post, err := env.idp.SAMLResponse(ctx, c, s.srv.URL+s.sp.LoginURL(returnTo), user, pass)
	if err != nil {
		t.Fatalf("IdP sign-in: %v\nIdP log:\n%s", err, env.idp.Log())
	}
	resp, err := post.Post(ctx, c)
	if err != nil {
		t.Fatalf("post to ACS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(body)
}

func TestSimpleSAMLphpAzureUser(t *testing.T) {
	s := env.azure
	resp, body := signIn(t, s, "adele", "adele-pw", "/app/queue?tab=2")
	ids, returnTo, reasons := s.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("status %s, body %q, refusals %q", resp.Status, body, reasons)
	}
	id := ids[0]
	if id.Method != "saml" || id.Issuer != env.idp.EntityID {
		t.Errorf("method/issuer = %q/%q", id.Method, id.Issuer)
	}
	if id.NameID != adeleOID || id.Subject != adeleOID {
		t.Errorf("NameID %q Subject %q, want the object ID (persistent NameID)", id.NameID, id.Subject)
	}
	if id.Username != "adele.vance@contoso.test" || id.UPN != "adele.vance@contoso.test" || id.Email != "adele.vance@contoso.test" {
		t.Errorf("username/upn/email = %q/%q/%q", id.Username, id.UPN, id.Email)
	}
	if id.FirstName != "Adele" || id.LastName != "Vance" || id.DisplayName != "Adele Vance" {
		t.Errorf("names = %q %q %q", id.FirstName, id.LastName, id.DisplayName)
	}
	if !slices.Equal(id.Groups, []string{groupA, groupB}) || id.GroupsOverage {
		t.Errorf("groups = %q overage=%v", id.Groups, id.GroupsOverage)
	}
	if returnTo[0] != "/app/queue?tab=2" {
		t.Errorf("returnTo = %q", returnTo[0])
	}
	if id.Claims["nameid_format"] != NameIDPersistent {
		t.Errorf("nameid format = %v", id.Claims["nameid_format"])
	}
}

func TestSimpleSAMLphpAzureGroupsOverage(t *testing.T) {
	s := env.azure
	resp, body := signIn(t, s, "megan", "megan-pw", "")
	ids, returnTo, reasons := s.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("status %s, body %q, refusals %q", resp.Status, body, reasons)
	}
	if !ids[0].GroupsOverage || len(ids[0].Groups) != 0 {
		t.Errorf("overage=%v groups=%q, want overage and no groups", ids[0].GroupsOverage, ids[0].Groups)
	}
	if returnTo[0] != "/" {
		t.Errorf("returnTo = %q", returnTo[0])
	}
}

func TestSimpleSAMLphpOktaUser(t *testing.T) {
	s := env.okta
	resp, body := signIn(t, s, "olivia", "olivia-pw", "/")
	ids, _, reasons := s.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("status %s, body %q, refusals %q", resp.Status, body, reasons)
	}
	id := ids[0]
	if id.NameID != "olivia.okta@example.test" || id.Email != "olivia.okta@example.test" || id.Username != "olivia.okta@example.test" {
		t.Errorf("nameid/email/username = %q/%q/%q", id.NameID, id.Email, id.Username)
	}
	if id.FirstName != "Olivia" || id.LastName != "Okta" {
		t.Errorf("names = %q %q", id.FirstName, id.LastName)
	}
	if !slices.Equal(id.Groups, []string{"CC-Agents", "CC-Supervisors"}) {
		t.Errorf("groups = %q", id.Groups)
	}
	if id.Claims["nameid_format"] != NameIDEmail {
		t.Errorf("nameid format = %v", id.Claims["nameid_format"])
	}
}

func TestSimpleSAMLphpEncryptedAssertion(t *testing.T) {
	s := env.enc
	resp, body := signIn(t, s, "adele", "adele-pw", "/")
	ids, _, reasons := s.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("status %s, body %q, refusals %q", resp.Status, body, reasons)
	}
	if ids[0].Claims["encrypted"] != true {
		t.Errorf("assertion was not encrypted: the test proves nothing")
	}
	if ids[0].UPN != "adele.vance@contoso.test" {
		t.Errorf("upn = %q", ids[0].UPN)
	}
}

// SimpleSAMLphp 1.x encrypts with AES-128-CBC; an SP that keeps the
// default (AES-GCM only) refuses the response before decrypting it and
// says what to change.
func TestSimpleSAMLphpCBCRefusedByDefault(t *testing.T) {
	s := env.cbc
	resp, body := signIn(t, s, "adele", "adele-pw", "/")
	ids, _, reasons := s.fin.take()
	if resp.StatusCode != http.StatusForbidden || len(ids) != 0 || len(reasons) != 1 {
		t.Fatalf("status %s, body %q, identities %d, refusals %q", resp.Status, body, len(ids), reasons)
	}
	if !strings.Contains(reasons[0], "aes128-cbc") || !strings.Contains(reasons[0], "allow_cbc_encryption") {
		t.Errorf("refusal %q does not name the algorithm and the option", reasons[0])
	}
}

// A real response posted a second time is refused: its request was
// answered, and the store remembers.
func TestSimpleSAMLphpReplay(t *testing.T) {
	s := env.okta
	ctx := context.Background()
	c := browser(t)
	post, err := env.idp.SAMLResponse(ctx, c, s.srv.URL+s.sp.LoginURL("/"), "olivia", "olivia-pw")
	if err != nil {
		t.Fatalf("IdP sign-in: %v", err)
	}
	for i, want := range []int{http.StatusOK, http.StatusForbidden} {
		resp, err := post.Post(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("post %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	_, _, reasons := s.fin.take()
	if len(reasons) != 1 || !strings.Contains(reasons[0], "matches no pending request") {
		t.Errorf("refusals = %q", reasons)
	}
}

// A response from another browser (no binding cookie) is refused: an
// attacker cannot sign a victim into the attacker's account.
func TestSimpleSAMLphpOtherBrowser(t *testing.T) {
	s := env.okta
	ctx := context.Background()
	post, err := env.idp.SAMLResponse(ctx, browser(t), s.srv.URL+s.sp.LoginURL("/"), "olivia", "olivia-pw")
	if err != nil {
		t.Fatalf("IdP sign-in: %v", err)
	}
	resp, err := post.Post(ctx, browser(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_, _, reasons := s.fin.take()
	if resp.StatusCode != http.StatusForbidden || len(reasons) != 1 || !strings.Contains(reasons[0], "binding cookie") {
		t.Errorf("status %d, refusals %q", resp.StatusCode, reasons)
	}
}

func TestSimpleSAMLphpWrongPassword(t *testing.T) {
	_, err := env.idp.SAMLResponse(context.Background(), browser(t), env.okta.srv.URL+env.okta.sp.LoginURL("/"), "olivia", "nope")
	if err == nil {
		t.Fatal("wrong password produced a SAMLResponse")
	}
}

func TestOpenRedirectReturnTo(t *testing.T) {
	s := env.okta
	resp, body := signIn(t, s, "olivia", "olivia-pw", "https://evil.example/steal")
	_, returnTo, reasons := s.fin.take()
	if resp.StatusCode != http.StatusOK || len(returnTo) != 1 {
		t.Fatalf("status %s %q refusals %q", resp.Status, body, reasons)
	}
	if returnTo[0] != "/" {
		t.Errorf("returnTo = %q, want /", returnTo[0])
	}
}
