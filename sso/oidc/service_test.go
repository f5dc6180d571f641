package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// TestServiceEndToEnd signs an Okta-shaped oidc-provider user in through
// the real sso.Service over a SQLite store, which also holds the RP's
// state records: the ID token becomes a session for the matching local
// user, with that user's profile.
func TestServiceEndToEnd(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dirbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutProfile(ctx, store.Profile{Name: "Supervisor", Privileges: []string{"monitor_calls"}}); err != nil {
			return err
		}
		return tx.CreateUser(ctx, &store.User{
			Username: "olivia", DisplayName: "Olivia Okta", Email: "olivia.e2e@example.test",
			State: store.StateActive, Source: "corp", Anchor: "b64-guid-olivia", Profile: "Supervisor",
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)

	p := harness.StartOIDCProvider(t, harness.OIDCProviderOptions{Issuers: []harness.OIDCIssuer{{
		Prefix:  oktaPath,
		Clients: []harness.OIDCClient{{ID: "e2e", Secret: "e2e-secret", RedirectURIs: []string{srv.URL + "/oidc/callback"}}},
		Scopes:  map[string][]string{"profile": {"preferred_username", "name"}, "email": {"email", "email_verified"}, "groups": {"groups"}},
		Users: map[string]map[string]any{"olivia": {"sub": "00u-e2e", "preferred_username": "olivia.e2e@example.test",
			"email": "olivia.e2e@example.test", "email_verified": true, "groups": []string{"CC-Supervisors"}}},
	}}})
	rp, err := New(Options{PublicURL: srv.URL, Issuer: p.Issuer(oktaPath), ClientID: "e2e", ClientSecret: "e2e-secret",
		Preset: PresetOkta, Label: "Sign in with Okta", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sso.New(sso.Options{Store: st, PublicURL: srv.URL, Methods: []sso.RedirectMethod{rp}, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	rp.SetFinisher(svc)
	handler = svc
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := rp.Start(runCtx); err != nil {
		t.Fatal(err)
	}

	c := browser(t)
	var landed *url.URL
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == mustHost(t, srv.URL) && req.URL.Path == "/queue" {
			landed = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(srv.URL + rp.LoginURL("/queue") + "&login_hint=olivia")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if landed == nil {
		t.Fatalf("sign-in did not land on /queue: %s\n%s", resp.Status, p.Log())
	}
	resp, err = c.Get(srv.URL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me sso.Me
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/me: %s %v", resp.Status, err)
	}
	if me.Username != "olivia" || me.Profile != "Supervisor" || me.Method != sso.MethodOIDC {
		t.Errorf("signed in as %+v", me)
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
