package saml

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// TestServiceEndToEnd signs an Azure-shaped SimpleSAMLphp user in through
// the real sso.Service over a SQLite store: the SP's assertion becomes a
// session for the matching local user, with that user's profile.
func TestServiceEndToEnd(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dirbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutProfile(ctx, store.Profile{Name: "Agent", Privileges: []string{"handle_calls"}}); err != nil {
			return err
		}
		return tx.CreateUser(ctx, &store.User{
			Username: "avance", DisplayName: "Adele Vance", Email: "adele.vance@contoso.test",
			UPN: "adele.vance@contoso.test", State: store.StateActive, Source: "corp", Anchor: "b64-guid-adele",
			Profile: "Agent",
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	// The Service serves the SP's routes; the SP needs the Service as its
	// finisher; the IdP needs the SP's metadata: build in that order.
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	key, cert := keyPair(t, "dirbridge e2e SP", time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	sp, err := New(Options{
		PublicURL: srv.URL, Preset: PresetAzureAD, Label: "Sign in with Entra ID",
		IDPMetadataURL: "https://placeholder.invalid/", Key: key, Certificate: cert, SignRequests: true,
		Store: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sso.New(sso.Options{Store: st, PublicURL: srv.URL, Enforce: true, Methods: []sso.RedirectMethod{sp}, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	sp.SetFinisher(svc)
	handler = svc

	meta, err := sp.MetadataXML()
	if err != nil {
		t.Fatal(err)
	}
	idp := harness.StartSimpleSAMLphp(t, harness.SimpleSAMLphpOptions{
		Users: []harness.SAMLUser{{Username: "adele", Password: "adele-pw", Attributes: map[string][]string{
			AzureObjectID: {adeleOID}, AzureName: {"adele.vance@contoso.test"}, AzureEmail: {"adele.vance@contoso.test"},
			AzureGroups: {groupA},
		}}},
		SPs:     []harness.SAMLSP{{Metadata: meta, ValidateRequests: true}},
		NameIDs: []harness.SAMLNameIDRule{{Format: NameIDPersistent, Attribute: AzureObjectID}},
	})
	sp.opts.IDPMetadataURL = idp.MetadataURL
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := sp.Start(runCtx); err != nil {
		t.Fatal(err)
	}

	c := browser(t)
	// /login with SSO enforced and one method goes straight to the IdP.
	post, err := idp.SAMLResponse(ctx, c, srv.URL+"/login?return_to=%2Fqueue", "adele", "adele-pw")
	if err != nil {
		t.Fatalf("IdP sign-in: %v\n%s", err, idp.Log())
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := post.Post(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/queue" {
		t.Fatalf("ACS answered %s (Location %q): %.500s", resp.Status, resp.Header.Get("Location"), body)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/me", nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me sso.Me
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/me: %s %v", resp.Status, err)
	}
	if me.Username != "avance" || me.Profile != "Agent" || me.Method != sso.MethodSAML {
		t.Errorf("signed in as %+v", me)
	}

	events, err := st.ListAudit(ctx, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if strings.Contains(e.Action, "login") || strings.Contains(e.Action, "sign") {
			found = true
		}
	}
	if !found {
		t.Errorf("no sign-in audit event among %+v", events)
	}
}
