package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// hostileIdP is an OpenID Provider the test controls: discovery, a JWKS
// with its own key, and a token endpoint that returns whatever ID token
// the test mints. It checks PKCE like a real provider would, so every
// case also proves the RP sent the right verifier.
type hostileIdP struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	mu       sync.Mutex
	mint     func(nonce string) string
	nonce    string
	verified bool // the last exchange carried the right code_verifier
	lastChal string
}

func newHostileIdP(t *testing.T) *hostileIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileIdP{key: key}
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                h.srv.URL,
			"authorization_endpoint":                h.srv.URL + "/authorize",
			"token_endpoint":                        h.srv.URL + "/token",
			"jwks_uri":                              h.srv.URL + "/jwks",
			"userinfo_endpoint":                     h.srv.URL + "/userinfo",
			"id_token_signing_alg_values_supported": []string{"RS256", "none", "HS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		h.mu.Lock()
		defer h.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if r.PostForm.Get("code_verifier") == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != h.lastChal {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"PKCE verification failed"}`))
			return
		}
		h.verified = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "opaque-access-token", "token_type": "Bearer", "expires_in": 300,
			"id_token": h.mint(h.nonce),
		})
	})
	return h
}

// sign makes a compact JWS over claims with key (RS256, kid k1).
func sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unsignedJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(claims)
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

func hmacJWT(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

type hostileRP struct {
	rp  *RelyingParty
	fin *recorder
	st  *memStore
	mux *http.ServeMux
}

func newHostileRP(t *testing.T, idp *hostileIdP, mod func(*Options)) *hostileRP {
	t.Helper()
	e := &hostileRP{fin: &recorder{}, st: newMemStore(), mux: http.NewServeMux()}
	o := Options{
		PublicURL: "https://rp.hostile.test", Issuer: idp.srv.URL, ClientID: "rp-client", ClientSecret: "rp-secret-0123456789-0123456789ab",
		Preset: PresetOkta, Store: e.st, Finisher: e.fin,
	}
	if mod != nil {
		mod(&o)
	}
	rp, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := rp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rp.Routes(e.mux)
	e.rp = rp
	return e
}

// begin runs /oidc/login and returns the state, the binding cookie and
// tells the IdP the nonce and PKCE challenge it was given.
func (e *hostileRP) begin(t *testing.T, idp *hostileIdP, returnTo string) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://rp.hostile.test"+e.rp.LoginURL(returnTo), nil))
	if w.Code != http.StatusFound {
		_, _, reasons := e.fin.take()
		t.Fatalf("login: %d %q", w.Code, reasons)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request lacks PKCE S256, nonce or state: %s", loc)
	}
	idp.mu.Lock()
	idp.nonce, idp.lastChal, idp.verified = q.Get("nonce"), q.Get("code_challenge"), false
	idp.mu.Unlock()
	var ck *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == e.rp.bindCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || !strings.HasPrefix(ck.Name, "__Host-") {
		t.Fatalf("binding cookie %+v", ck)
	}
	return q.Get("state"), ck
}

func (e *hostileRP) callback(t *testing.T, query string, ck *http.Cookie) (int, string, []string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://rp.hostile.test/oidc/callback?"+query, nil)
	if ck != nil {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, req)
	_, returnTo, reasons := e.fin.take()
	if len(reasons) > 1 {
		t.Fatalf("Fail called %d times", len(reasons))
	}
	if len(reasons) == 1 {
		return w.Code, reasons[0], returnTo
	}
	return w.Code, "", returnTo
}

func TestHostileIDTokens(t *testing.T) {
	idp := newHostileIdP(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	claims := func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{
			"iss": idp.srv.URL, "aud": "rp-client", "sub": "00u-alice", "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"preferred_username": "alice@example.test", "email": "alice@example.test", "groups": []string{"CC-Agents"},
		}
	}
	with := func(k string, v any) func(string) string {
		return func(n string) string {
			c := claims(n)
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return sign(t, idp.key, c)
		}
	}
	cases := []struct {
		name string
		mint func(nonce string) string
		want string
	}{
		{"valid", func(n string) string { return sign(t, idp.key, claims(n)) }, ""},
		{"wrong nonce", func(string) string { return sign(t, idp.key, claims("another-sign-ins-nonce")) }, "nonce does not match"},
		{"no nonce", with("nonce", nil), "nonce does not match"},
		{"alg none", func(n string) string { return unsignedJWT(claims(n)) }, "ID token refused"},
		{"HS256 with the client secret", func(n string) string {
			return hmacJWT(t, "rp-secret-0123456789-0123456789ab", claims(n))
		}, "ID token refused"},
		{"wrong issuer", with("iss", "https://evil-issuer.test"), "issued by a different provider"},
		{"wrong audience", with("aud", "someone-else"), "expected audience"},
		{"several audiences without azp", with("aud", []string{"rp-client", "someone-else"}), "several audiences"},
		{"expired", with("exp", time.Now().Add(-10*time.Minute).Unix()), "token is expired"},
		{"signed by another key", func(n string) string { return sign(t, other, claims(n)) }, "failed to verify signature"},
		{"no subject", with("sub", ""), "no subject"},
		{"issued in the future", with("iat", time.Now().Add(10*time.Minute).Unix()), "issued in the future"},
		{"issued within the skew", with("iat", time.Now().Add(30*time.Second).Unix()), ""},
		{"no iat", with("iat", nil), "no iat"},
		{"claims nested too deep", with("nest", deepClaim(20)), "nest deeper than 8"},
		{"claims nested as deep as allowed", with("nest", deepClaim(7)), ""},
		// x/oauth2 would read up to 1 MB; dirbridge's own cap is lower.
		{"token response too large", with("pad", strings.Repeat("A", DefaultMaxResponseBytes)), "response too large"},
	}
	e := newHostileRP(t, idp, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp.mu.Lock()
			idp.mint = c.mint
			idp.mu.Unlock()
			state, ck := e.begin(t, idp, "/after")
			code, reason, returnTo := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck)
			idp.mu.Lock()
			verified := idp.verified
			idp.mu.Unlock()
			if !verified {
				t.Fatalf("the token endpoint did not see the right PKCE verifier (reason %q)", reason)
			}
			if c.want == "" {
				if code != http.StatusOK || reason != "" || returnTo[0] != "/after" {
					t.Fatalf("refused: %d %q %q", code, reason, returnTo)
				}
				return
			}
			t.Logf("refused: %s", reason)
			if code != http.StatusForbidden || !strings.Contains(reason, c.want) || !strings.HasPrefix(reason, "oidc: ") {
				t.Fatalf("%d %q; want a refusal containing %q", code, reason, c.want)
			}
		})
	}
}

// deepClaim returns a value that nests n levels deep.
func deepClaim(n int) any {
	var v any = "bottom"
	for i := 1; i < n; i++ {
		v = map[string]any{"d": v}
	}
	return v
}

func TestLimitedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length up front: the cap must hold while streaming.
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		max     int64
		wantErr bool
	}{{99, true}, {100, false}, {1000, false}} {
		resp, err := limitedClient(srv.Client(), tc.max).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if gotErr := errors.Is(err, errResponseTooLarge); gotErr != tc.wantErr || (!tc.wantErr && len(b) != 100) {
			t.Errorf("limit %d: read %d bytes, err %v", tc.max, len(b), err)
		}
	}
}

func TestHostileCallbacks(t *testing.T) {
	idp := newHostileIdP(t)
	idp.mint = func(n string) string {
		return sign(t, idp.key, map[string]any{"iss": idp.srv.URL, "aud": "rp-client", "sub": "s", "nonce": n,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
	}
	e := newHostileRP(t, idp, nil)

	t.Run("state mismatch", func(t *testing.T) {
		_, ck := e.begin(t, idp, "/")
		code, reason, _ := e.callback(t, "code=abc&state=forged-state", ck)
		if code != http.StatusForbidden || !strings.Contains(reason, "state matches no pending sign-in") {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("no state", func(t *testing.T) {
		code, reason, _ := e.callback(t, "code=abc", nil)
		if code != http.StatusForbidden || !strings.Contains(reason, "without state") {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("state from another browser", func(t *testing.T) {
		state, _ := e.begin(t, idp, "/")
		code, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state), &http.Cookie{Name: e.rp.bindCookie, Value: "attacker"})
		if code != http.StatusForbidden || !strings.Contains(reason, "another browser") {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("state used twice", func(t *testing.T) {
		state, ck := e.begin(t, idp, "/")
		if code, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck); code != http.StatusOK {
			t.Fatalf("first: %d %q", code, reason)
		}
		code, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck)
		if code != http.StatusForbidden || !strings.Contains(reason, "state matches no pending sign-in") {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("two tabs", func(t *testing.T) {
		// Both sign-ins started in one browser complete, in either order.
		state1, ck := e.begin(t, idp, "/one")
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "https://rp.hostile.test/oidc/login?return_to=%2Ftwo", nil)
		req.AddCookie(ck)
		e.mux.ServeHTTP(w, req)
		loc, _ := url.Parse(w.Header().Get("Location"))
		state2 := loc.Query().Get("state")
		for _, c := range w.Result().Cookies() {
			if c.Name == ck.Name && c.Value != ck.Value {
				t.Fatalf("second sign-in replaced the binding cookie")
			}
		}
		idp.mu.Lock()
		idp.nonce, idp.lastChal = loc.Query().Get("nonce"), loc.Query().Get("code_challenge")
		idp.mu.Unlock()
		if code, reason, rt := e.callback(t, "code=abc&state="+url.QueryEscape(state2), ck); code != http.StatusOK || rt[0] != "/two" {
			t.Fatalf("second tab: %d %q", code, reason)
		}
		// The first tab's state is still pending and its binding still
		// holds (this test IdP remembers only the last PKCE challenge, so
		// the exchange fails there, after the binding check).
		_, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state1), ck)
		if strings.Contains(reason, "another browser") || strings.Contains(reason, "no pending sign-in") {
			t.Fatalf("first tab: %q", reason)
		}
	})
	t.Run("missing PKCE verifier", func(t *testing.T) {
		state, ck := e.begin(t, idp, "/")
		val, err := e.st.TakeEphemeral(context.Background(), storeStates, state)
		if err != nil {
			t.Fatal(err)
		}
		var rec record
		_ = json.Unmarshal(val, &rec)
		rec.Verifier = ""
		val, _ = json.Marshal(rec)
		_ = e.st.PutEphemeral(context.Background(), storeStates, state, val, time.Now().Add(time.Minute))
		code, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck)
		if code != http.StatusForbidden || !strings.Contains(reason, "no PKCE verifier") {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		state, ck := e.begin(t, idp, "/")
		code, reason, _ := e.callback(t, "error=access_denied&error_description=user+cancelled&state="+url.QueryEscape(state), ck)
		if code != http.StatusForbidden || !strings.Contains(reason, `provider returned error "access_denied": user cancelled`) {
			t.Fatalf("%d %q", code, reason)
		}
	})
	t.Run("open redirect return_to", func(t *testing.T) {
		for _, rt := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
			state, ck := e.begin(t, idp, rt)
			code, reason, returnTo := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck)
			if code != http.StatusOK || len(returnTo) != 1 || returnTo[0] != "/" {
				t.Errorf("return_to %q: %d %q -> %q", rt, code, reason, returnTo)
			}
		}
	})
}

func TestOptionsRefuseWeakAlgorithms(t *testing.T) {
	for _, alg := range []string{"none", "HS256"} {
		_, err := New(Options{PublicURL: "https://rp.test", Issuer: "https://idp.test", ClientID: "c",
			AllowedAlgs: []string{alg}, Store: newMemStore(), Finisher: &recorder{}})
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("alg %s: err = %v", alg, err)
		}
	}
}

func TestOverageDetection(t *testing.T) {
	for name, c := range map[string]struct {
		claims map[string]any
		want   bool
	}{
		"distributed groups":      {map[string]any{"_claim_names": map[string]any{"groups": "src1"}}, true},
		"hasgroups":               {map[string]any{"hasgroups": true}, true},
		"other distributed claim": {map[string]any{"_claim_names": map[string]any{"roles": "src1"}}, false},
		"plain groups":            {map[string]any{"groups": []any{"a"}}, false},
		"no groups at all":        {map[string]any{}, false},
	} {
		if got := overage(c.claims, "groups"); got != c.want {
			t.Errorf("%s: overage = %v, want %v", name, got, c.want)
		}
	}
}

func TestHostileEntraTenant(t *testing.T) {
	idp := newHostileIdP(t)
	idp.mint = func(n string) string {
		return sign(t, idp.key, map[string]any{"iss": idp.srv.URL, "aud": "rp-client", "sub": "s", "nonce": n,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
			"tid": "another-tenant", "oid": "o", "preferred_username": "x@other.test"})
	}
	e := newHostileRP(t, idp, func(o *Options) { o.Preset = PresetAzureAD; o.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47" })
	state, ck := e.begin(t, idp, "/")
	code, reason, _ := e.callback(t, "code=abc&state="+url.QueryEscape(state), ck)
	if code != http.StatusForbidden || !strings.Contains(reason, `token tenant "another-tenant" is not the configured tenant`) {
		t.Fatalf("%d %q", code, reason)
	}
}

func TestClaimsFromMapAndDefaults(t *testing.T) {
	c, err := ClaimsFromMap(map[string]string{"upn": "upn_custom", "immutable_id": "onprem_immutable_id"})
	if err != nil || c.UPN != "upn_custom" || c.ImmutableID != "onprem_immutable_id" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ClaimsFromMap(map[string]string{"roles": "x"}); err == nil {
		t.Fatal("unknown key accepted")
	}
	rp, err := New(Options{PublicURL: "https://sso.example.com", Preset: PresetAzureAD, TenantID: "t-1", ClientID: "c",
		Claims: c, Label: "Sign in with Entra ID", Store: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	if rp.opts.Issuer != "https://login.microsoftonline.com/t-1/v2.0" || rp.claims.UPN != "upn_custom" || rp.claims.Groups != "groups" {
		t.Errorf("issuer %q claims %+v", rp.opts.Issuer, rp.claims)
	}
	if rp.Name() != "Sign in with Entra ID" || rp.CallbackURL() != "https://sso.example.com/oidc/callback" || rp.bindCookie != "__Host-dirbridge_oidc_oidc" {
		t.Errorf("name %q callback %q cookie %q", rp.Name(), rp.CallbackURL(), rp.bindCookie)
	}
}
