package oidc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// Real flows against oidc-provider (npm) with an Entra-like and an
// Okta-like issuer, shared by the package's tests.

const (
	tenantID   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraPath  = "/" + tenantID + "/v2.0"
	oktaPath   = "/oauth2/default"
	groupA     = "0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c"
	groupB     = "1c7e4d4f-2b6e-405f-8d9b-7a2e3f4b5c6d"
	adeleOID   = "5f7a4a0e-7c52-4b7e-9d0e-2a1f0c3b6a11"
	meganOID   = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	graphWinds = "https://graph.windows.net/" + tenantID + "/users/" + meganOID + "/getMemberObjects"
)

type rpEnv struct {
	rp  *RelyingParty
	srv *httptest.Server
	fin *recorder
}

var (
	op                       *harness.OIDCProvider
	azureRP, oktaRP, graphRP *rpEnv
	graphCalls               atomic.Int32
	graphAuth                atomic.Value
)

func TestMain(m *testing.M) {
	mtb := &harness.MainTB{}
	code := func() int {
		defer mtb.Close()
		startProvider(mtb)
		return m.Run()
	}()
	os.Exit(code)
}

func startProvider(t *harness.MainTB) {
	// A stand-in for Microsoft Graph: the RP must call the configured base
	// URL, never the graph.windows.net endpoint the token names.
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		graphCalls.Add(1)
		graphAuth.Store(r.Header.Get("Authorization"))
		if r.Method != http.MethodPost || r.URL.Path != "/v1.0/me/getMemberObjects" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"value": []string{groupA, groupB, "g-3"}})
	}))
	t.Cleanup(graph.Close)

	newRP := func(name string) *rpEnv {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return &rpEnv{srv: srv, fin: &recorder{}}
	}
	azureRP, oktaRP, graphRP = newRP("azure"), newRP("okta"), newRP("graph")

	op = harness.StartOIDCProvider(t, harness.OIDCProviderOptions{Issuers: []harness.OIDCIssuer{
		{
			Prefix: entraPath,
			Clients: []harness.OIDCClient{{ID: "dirbridge-entra", Secret: "entra-secret",
				RedirectURIs: []string{azureRP.srv.URL + "/oidc/callback", graphRP.srv.URL + "/oidc/callback"}}},
			Scopes: map[string][]string{
				"openid":  {"oid", "tid"},
				"profile": {"name", "given_name", "family_name", "preferred_username", "upn", "groups"},
				"email":   {"email"},
			},
			Users: map[string]map[string]any{
				"adele": {"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "oid": adeleOID, "tid": tenantID,
					"preferred_username": "adele.vance@contoso.test", "upn": "adele.vance@contoso.test",
					"email": "adele.vance@contoso.test", "name": "Adele Vance", "given_name": "Adele", "family_name": "Vance",
					"groups": []string{groupA, groupB}},
				"megan": {"sub": "BBBBBBBBBBBBBBBBBBBBBBkzqFVrSaSaFHy782bbtaQ", "oid": meganOID, "tid": tenantID,
					"preferred_username": "megan.bowen@contoso.test", "email": "megan.bowen@contoso.test", "name": "Megan Bowen",
					"_claim_names":   map[string]string{"groups": "src1"},
					"_claim_sources": map[string]any{"src1": map[string]string{"endpoint": graphWinds}}},
			},
		},
		{
			Prefix: oktaPath,
			Clients: []harness.OIDCClient{{ID: "dirbridge-okta", Secret: "okta-secret",
				RedirectURIs: []string{oktaRP.srv.URL + "/oidc/callback"}}},
			Scopes: map[string][]string{
				"profile": {"name", "given_name", "family_name", "preferred_username"},
				"email":   {"email", "email_verified"},
				"groups":  {"groups"},
			},
			Users: map[string]map[string]any{
				"olivia": {"sub": "00u1olivia2Okta5d7", "preferred_username": "olivia@example.test",
					"email": "olivia@example.test", "email_verified": true, "name": "Olivia Okta",
					"given_name": "Olivia", "family_name": "Okta", "groups": []string{"Everyone", "CC-Agents"}},
			},
		},
	}})

	mount := func(e *rpEnv, o Options) {
		o.PublicURL = e.srv.URL
		o.Store = newMemStore()
		o.Finisher = e.fin
		rp, err := New(o)
		if err != nil {
			t.Fatalf("new RP: %v", err)
		}
		mux := e.srv.Config.Handler.(*http.ServeMux)
		rp.Routes(mux)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := rp.Start(ctx); err != nil {
			t.Fatalf("start RP: %v\n%s", err, op.Log())
		}
		e.rp = rp
	}
	mount(azureRP, Options{Name: "entra", Issuer: op.Issuer(entraPath), ClientID: "dirbridge-entra", ClientSecret: "entra-secret",
		Preset: PresetAzureAD, TenantID: tenantID})
	mount(graphRP, Options{Name: "entra", Issuer: op.Issuer(entraPath), ClientID: "dirbridge-entra", ClientSecret: "entra-secret",
		Preset: PresetAzureAD, TenantID: tenantID, GraphGroups: true, GraphBaseURL: graph.URL})
	mount(oktaRP, Options{Name: "okta", Issuer: op.Issuer(oktaPath), ClientID: "dirbridge-okta", ClientSecret: "okta-secret",
		Preset: PresetOkta, UserInfo: true})
}

// signIn follows the whole redirect chain: RP login -> provider ->
// automated interaction (login_hint) -> provider -> RP callback.
func signIn(t *testing.T, e *rpEnv, login, returnTo string) (*http.Response, string) {
	t.Helper()
	u := e.srv.URL + e.rp.LoginURL(returnTo)
	if strings.Contains(u, "?") {
		u += "&login_hint=" + url.QueryEscape(login)
	} else {
		u += "?login_hint=" + url.QueryEscape(login)
	}
	resp, err := browser(t).Get(u)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(body)
}

func TestOIDCProviderEntraUser(t *testing.T) {
	resp, body := signIn(t, azureRP, "adele", "/queue")
	ids, returnTo, reasons := azureRP.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("%s %q refusals %q\n%s", resp.Status, body, reasons, op.Log())
	}
	id := ids[0]
	if id.Method != "oidc" || id.Issuer != op.Issuer(entraPath) || id.Subject != "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ" {
		t.Errorf("method/issuer/subject = %q %q %q", id.Method, id.Issuer, id.Subject)
	}
	if id.Username != "adele.vance@contoso.test" || id.UPN != "adele.vance@contoso.test" || id.Email != "adele.vance@contoso.test" {
		t.Errorf("username/upn/email = %q %q %q", id.Username, id.UPN, id.Email)
	}
	if id.FirstName != "Adele" || id.LastName != "Vance" || id.DisplayName != "Adele Vance" {
		t.Errorf("names %q %q %q", id.FirstName, id.LastName, id.DisplayName)
	}
	if !slices.Equal(id.Groups, []string{groupA, groupB}) || id.GroupsOverage {
		t.Errorf("groups %q overage %v", id.Groups, id.GroupsOverage)
	}
	if id.Claims["oid"] != adeleOID || id.Claims["tid"] != tenantID {
		t.Errorf("oid/tid = %v %v", id.Claims["oid"], id.Claims["tid"])
	}
	if returnTo[0] != "/queue" {
		t.Errorf("returnTo %q", returnTo[0])
	}
}

func TestOIDCProviderEntraGroupsOverage(t *testing.T) {
	before := graphCalls.Load()
	resp, body := signIn(t, azureRP, "megan", "")
	ids, _, reasons := azureRP.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("%s %q refusals %q\n%s", resp.Status, body, reasons, op.Log())
	}
	if !ids[0].GroupsOverage || len(ids[0].Groups) != 0 {
		t.Errorf("overage %v groups %q: an overage must read as unknown groups", ids[0].GroupsOverage, ids[0].Groups)
	}
	if _, ok := ids[0].Claims["_claim_names"]; !ok {
		t.Errorf("the token carried no _claim_names; the test proves nothing: %v", ids[0].Claims)
	}
	// preferred_username is not a UPN (for a guest it is whatever their
	// home account says): without a upn claim there is no UPN to match.
	if ids[0].UPN != "" {
		t.Errorf("UPN taken from preferred_username: %q", ids[0].UPN)
	}
	if want := tenantID + "/" + meganOID; ids[0].LinkSubject != want {
		t.Errorf("link subject %q, want tenant/oid %q", ids[0].LinkSubject, want)
	}
	if graphCalls.Load() != before {
		t.Errorf("Graph was called with GraphGroups off")
	}
}

func TestOIDCProviderEntraOverageResolvedThroughGraph(t *testing.T) {
	before := graphCalls.Load()
	resp, body := signIn(t, graphRP, "megan", "")
	ids, _, reasons := graphRP.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("%s %q refusals %q", resp.Status, body, reasons)
	}
	if graphCalls.Load() != before+1 {
		t.Fatalf("graph calls %d -> %d", before, graphCalls.Load())
	}
	if a, _ := graphAuth.Load().(string); !strings.HasPrefix(a, "Bearer ") || len(a) < 20 {
		t.Errorf("graph Authorization %q", a)
	}
	if ids[0].GroupsOverage || !slices.Equal(ids[0].Groups, []string{groupA, groupB, "g-3"}) {
		t.Errorf("overage %v groups %q", ids[0].GroupsOverage, ids[0].Groups)
	}
}

func TestOIDCProviderOktaUser(t *testing.T) {
	resp, body := signIn(t, oktaRP, "olivia", "")
	ids, returnTo, reasons := oktaRP.fin.take()
	if resp.StatusCode != http.StatusOK || len(ids) != 1 {
		t.Fatalf("%s %q refusals %q\n%s", resp.Status, body, reasons, op.Log())
	}
	id := ids[0]
	if id.Subject != "00u1olivia2Okta5d7" || id.Username != "olivia@example.test" || id.Email != "olivia@example.test" {
		t.Errorf("subject/username/email = %q %q %q", id.Subject, id.Username, id.Email)
	}
	if !slices.Equal(id.Groups, []string{"Everyone", "CC-Agents"}) || id.GroupsOverage {
		t.Errorf("groups %q overage %v", id.Groups, id.GroupsOverage)
	}
	if id.FirstName != "Olivia" || id.LastName != "Okta" {
		t.Errorf("names %q %q", id.FirstName, id.LastName)
	}
	if returnTo[0] != "/" {
		t.Errorf("returnTo %q", returnTo[0])
	}
}

// A callback replayed (same code and state) is refused: the state was
// used up by the first.
func TestOIDCProviderCallbackReplay(t *testing.T) {
	c := browser(t)
	var callback string
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/oidc/callback" && callback == "" {
			callback = req.URL.String()
		}
		return nil
	}
	resp, err := c.Get(oktaRP.srv.URL + oktaRP.rp.LoginURL("") + "?login_hint=olivia")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || callback == "" {
		t.Fatalf("first sign-in: %s", resp.Status)
	}
	resp, err = c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	ids, _, reasons := oktaRP.fin.take()
	if resp.StatusCode != http.StatusForbidden || len(ids) != 1 || len(reasons) != 1 || !strings.Contains(reasons[0], "state matches no pending sign-in") {
		t.Fatalf("replay: %s ids %d refusals %q", resp.Status, len(ids), reasons)
	}
}

// A code exchanged with a verifier other than the one the challenge was
// made from is refused by the provider, and the RP says so.
func TestOIDCProviderWrongPKCEVerifier(t *testing.T) {
	c := browser(t)
	var callback *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/oidc/callback" {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(oktaRP.srv.URL + "/oidc/login?login_hint=olivia")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if callback == nil {
		t.Fatalf("no callback: %s", resp.Status)
	}
	// Swap the stored verifier for another before the callback arrives.
	st := oktaRP.rp.opts.Store.(*memStore)
	state := callback.Query().Get("state")
	val, err := st.TakeEphemeral(context.Background(), storeStates, state)
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	_ = json.Unmarshal(val, &rec)
	rec.Verifier = "a-different-verifier-a-different-verifier-0123456789"
	val, _ = json.Marshal(rec)
	_ = st.PutEphemeral(context.Background(), storeStates, state, val, rec.IssuedAt.Add(DefaultStateTTL))
	resp, err = c.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_, _, reasons := oktaRP.fin.take()
	if resp.StatusCode != http.StatusForbidden || len(reasons) != 1 || !strings.Contains(reasons[0], "code exchange failed: invalid_grant") {
		t.Fatalf("%s refusals %q", resp.Status, reasons)
	}
}
