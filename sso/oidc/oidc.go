// Package oidc is dirbridge's OpenID Connect relying party: the
// authorization code flow with PKCE (S256), state and nonce, built on
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2, with claim presets
// for Entra ID (Azure AD) and Okta.
//
// State, nonce, PKCE verifier and return URL live in one short-lived
// server-side record (store PutEphemeral, key = state), so every replica
// can finish a sign-in another started and a state is good for exactly
// one callback (TakeEphemeral). A browser-binding cookie, whose hash the
// record holds, makes sure the callback arrives in the browser that
// started the sign-in (login CSRF).
package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/internal/token"
	"github.com/dirbridge/dirbridge/store"
)

// Store is the part of store.Store the RP uses.
type Store interface {
	PutEphemeral(ctx context.Context, namespace, key string, value []byte, expires time.Time) error
	TakeEphemeral(ctx context.Context, namespace, key string) ([]byte, error)
}

// storeStates is the store namespace of sign-in records.
const storeStates = "oidc-state"

// Defaults.
const (
	DefaultStateTTL  = 10 * time.Minute
	DefaultClockSkew = time.Minute
	// DefaultGraphBaseURL is Microsoft Graph, where an Entra groups
	// overage is resolved when GraphGroups is on.
	DefaultGraphBaseURL = "https://graph.microsoft.com"
)

// Options configures an RP. The daemon converts its configuration into
// this; tests build it directly.
type Options struct {
	// Name identifies the method in cookie names and logs; default "oidc".
	Name string
	// Label is the sign-in button text (Name() returns it); default Name.
	Label string
	// PublicURL is the daemon's external base URL; the callback is
	// PublicURL/oidc/callback.
	PublicURL string

	// Issuer is the OpenID Provider's issuer URL; discovery reads
	// Issuer/.well-known/openid-configuration. For Entra it is the
	// tenant's issuer, https://login.microsoftonline.com/<tenant-id>/v2.0,
	// derived from TenantID when empty.
	Issuer string
	// RedirectURL is the callback URL registered at the provider; default
	// PublicURL/oidc/callback. The callback route is served at its path.
	RedirectURL  string
	ClientID     string
	ClientSecret string
	// Scopes requested besides openid; default profile and email (plus
	// groups for okta).
	Scopes []string

	// Preset is azuread, okta or generic (default).
	Preset string
	// Claims overrides the preset's claim names field by field.
	Claims Claims
	// TenantID, for azuread, is the tenant the tid claim must name;
	// empty accepts the issuer's tenant only through the issuer check.
	TenantID string

	// AllowedAlgs are the ID token signature algorithms accepted; default
	// RS256. "none" and HMAC algorithms are refused.
	AllowedAlgs []string
	// UserInfo also reads the userinfo endpoint and fills claims the ID
	// token lacks.
	UserInfo bool
	// GraphGroups resolves an Entra groups overage through Microsoft Graph
	// (GraphBaseURL/v1.0/me/getMemberObjects) with the access token. Off
	// by default: the Identity then carries GroupsOverage.
	GraphGroups  bool
	GraphBaseURL string

	// HTTPClient talks to the provider; default a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// StateTTL is how long a sign-in may take at the provider.
	StateTTL time.Duration
	// ClockSkew is allowed on the ID token's expiry.
	ClockSkew time.Duration
	// AllowedRedirectHosts are hosts (host[:port]) a return URL may point
	// to besides relative paths and the public URL's host.
	AllowedRedirectHosts []string

	Store Store
	// Finisher is the finish step. It may be left nil here and set with
	// SetFinisher before serving: the sso.Service that finishes is itself
	// built from its methods.
	Finisher sso.Finisher
	Logger   *zap.Logger
	// Now is the clock for state records and token checks; default time.Now.
	Now func() time.Time
}

// RelyingParty is an OIDC RP. It implements sso.RedirectMethod.
type RelyingParty struct {
	opts     Options
	claims   Claims
	scopes   []string
	callback string
	// callbackPath is where the callback route is served.
	callbackPath string
	allowHosts   []string
	log          *zap.Logger
	bindCookie   string
	secure       bool
	provider     atomic.Pointer[providerState]
	graphClient  *http.Client
}

// providerState is what discovery produced.
type providerState struct {
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

var _ sso.RedirectMethod = (*RelyingParty)(nil)

// New checks opts and builds the RP. Discovery happens in Start.
func New(opts Options) (*RelyingParty, error) {
	var errs []error
	if opts.Name == "" {
		opts.Name = "oidc"
	}
	if opts.Label == "" {
		opts.Label = opts.Name
	}
	if opts.Issuer == "" && opts.Preset == PresetAzureAD && opts.TenantID != "" {
		opts.Issuer = "https://login.microsoftonline.com/" + opts.TenantID + "/v2.0"
	}
	pub, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q must be an absolute URL", opts.PublicURL))
		pub = &url.URL{}
	}
	if u, err := url.Parse(opts.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("issuer %q must be an absolute URL", opts.Issuer))
	}
	if opts.ClientID == "" {
		errs = append(errs, errors.New("client ID is required"))
	}
	claims, extraScopes, err := presetClaims(opts.Preset)
	if err != nil {
		errs = append(errs, err)
	}
	claims = claims.merge(opts.Claims)
	if len(opts.AllowedAlgs) == 0 {
		opts.AllowedAlgs = []string{gooidc.RS256}
	}
	for _, a := range opts.AllowedAlgs {
		if strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS") {
			errs = append(errs, fmt.Errorf("ID token algorithm %q is not allowed (asymmetric signatures only)", a))
		}
	}
	if opts.StateTTL <= 0 {
		opts.StateTTL = DefaultStateTTL
	}
	if opts.ClockSkew == 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.ClockSkew < 0 || opts.ClockSkew > 5*time.Minute {
		errs = append(errs, fmt.Errorf("clock skew %s out of range (0 to 5m)", opts.ClockSkew))
	}
	if opts.GraphBaseURL == "" {
		opts.GraphBaseURL = DefaultGraphBaseURL
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	graphClient := limitedClient(opts.HTTPClient, maxGraphResponseBytes)
	opts.HTTPClient = limitedClient(opts.HTTPClient, DefaultMaxResponseBytes)
	if opts.Store == nil {
		errs = append(errs, errors.New("a store is required (sign-in state records)"))
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("oidc: %w", errors.Join(errs...))
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = pub.JoinPath("oidc", "callback").String()
	}
	cb, err := url.Parse(opts.RedirectURL)
	if err != nil || cb.Scheme == "" || cb.Host == "" || cb.Path == "" {
		return nil, fmt.Errorf("oidc: redirect URL %q must be an absolute URL with a path", opts.RedirectURL)
	}
	scopes := []string{gooidc.ScopeOpenID}
	if len(opts.Scopes) > 0 {
		scopes = append(scopes, opts.Scopes...)
	} else {
		scopes = append(scopes, "profile", "email")
		scopes = append(scopes, extraScopes...)
	}
	rp := &RelyingParty{
		opts:        opts,
		claims:      claims,
		scopes:      scopes,
		callback:    opts.RedirectURL,
		allowHosts:  append([]string{pub.Host}, opts.AllowedRedirectHosts...),
		log:         opts.Logger.Named("oidc").With(zap.String("method", opts.Name)),
		secure:      pub.Scheme == "https",
		graphClient: graphClient,
	}
	// Test peers on the same host use _session and _interaction; cookies
	// ignore ports, so this name is dirbridge's own.
	rp.callbackPath = cb.Path
	rp.bindCookie = "dirbridge_oidc_" + token.CookieSafe(opts.Name)
	if rp.secure {
		rp.bindCookie = "__Host-" + rp.bindCookie
	}
	return rp, nil
}

// SetFinisher sets the finish step; call it before Start and before
// serving requests.
func (rp *RelyingParty) SetFinisher(f sso.Finisher) { rp.opts.Finisher = f }

// Name is the method's label on the login page.
func (rp *RelyingParty) Name() string { return rp.opts.Label }

// CallbackURL is the redirect URI to register at the provider.
func (rp *RelyingParty) CallbackURL() string { return rp.callback }

// Routes registers GET /oidc/login and GET /oidc/callback (or the
// RedirectURL's path).
func (rp *RelyingParty) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /oidc/login", rp.serveLogin)
	mux.HandleFunc("GET "+rp.callbackPath, rp.serveCallback)
}

// LoginURL is the path that starts a sign-in.
func (rp *RelyingParty) LoginURL(returnTo string) string {
	if returnTo == "" {
		return "/oidc/login"
	}
	return "/oidc/login?" + url.Values{"return_to": {returnTo}}.Encode()
}

// Start runs discovery against the issuer. go-oidc checks that the
// discovered issuer is the configured one. ctx also bounds later key-set
// fetches (keys are re-read when a token names an unknown key).
func (rp *RelyingParty) Start(ctx context.Context) error {
	if rp.opts.Finisher == nil {
		return fmt.Errorf("oidc %s: no finisher set", rp.opts.Name)
	}
	cctx := gooidc.ClientContext(ctx, rp.opts.HTTPClient)
	p, err := gooidc.NewProvider(cctx, rp.opts.Issuer)
	if err != nil {
		return fmt.Errorf("oidc %s: discovery: %w", rp.opts.Name, err)
	}
	skew := rp.opts.ClockSkew
	now := rp.opts.Now
	st := &providerState{
		provider: p,
		oauth: oauth2.Config{
			ClientID:     rp.opts.ClientID,
			ClientSecret: rp.opts.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  rp.callback,
			Scopes:       rp.scopes,
		},
		verifier: p.VerifierContext(cctx, &gooidc.Config{
			ClientID: rp.opts.ClientID,
			// Always explicit: left empty, go-oidc would take whatever the
			// discovery document offers.
			SupportedSigningAlgs: rp.opts.AllowedAlgs,
			// go-oidc has no leeway on exp; checking against a clock set
			// back by the skew gives one.
			Now: func() time.Time { return now().Add(-skew) },
		}),
	}
	rp.provider.Store(st)
	rp.log.Info("OIDC provider discovered", zap.String("issuer", rp.opts.Issuer))
	return nil
}

// record is the server-side state of one sign-in.
type record struct {
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to"`
	Binding  string    `json:"binding"`
	IssuedAt time.Time `json:"issued_at"`
}

func (rp *RelyingParty) fail(w http.ResponseWriter, r *http.Request, reason string) {
	rp.log.Warn("OIDC sign-in refused", zap.String("reason", reason), zap.String("remote", r.RemoteAddr))
	rp.opts.Finisher.Fail(w, r, sso.MethodOIDC, rp.opts.Issuer, reason)
}

func (rp *RelyingParty) serveLogin(w http.ResponseWriter, r *http.Request) {
	st := rp.provider.Load()
	if st == nil {
		rp.fail(w, r, "OIDC discovery has not completed")
		return
	}
	state, err1 := token.New()
	nonce, err2 := token.New()
	binding, err3 := token.Binding(r, rp.bindCookie)
	if err := errors.Join(err1, err2, err3); err != nil {
		rp.fail(w, r, fmt.Sprintf("random: %v", err))
		return
	}
	verifier := oauth2.GenerateVerifier()
	now := rp.opts.Now()
	rec, _ := json.Marshal(record{
		Nonce:    nonce,
		Verifier: verifier,
		ReturnTo: sso.SafeReturnTo(r.URL.Query().Get("return_to"), rp.allowHosts),
		Binding:  token.Hash(binding),
		IssuedAt: now,
	})
	if err := rp.opts.Store.PutEphemeral(r.Context(), storeStates, state, rec, now.Add(rp.opts.StateTTL)); err != nil {
		rp.log.Error("store OIDC state", zap.Error(err))
		rp.fail(w, r, fmt.Sprintf("store state: %v", err))
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)}
	if hint := r.URL.Query().Get("login_hint"); hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	http.SetCookie(w, rp.cookie(binding, int(rp.opts.StateTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, st.oauth.AuthCodeURL(state, opts...), http.StatusFound)
}

// cookie makes the browser-binding cookie. The callback is a top-level
// GET navigation, so SameSite=Lax lets it through.
func (rp *RelyingParty) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     rp.bindCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   rp.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// serveCallback finishes a sign-in the provider sent back. Each stage
// returns the reason it refuses, which fail logs and audits; the stages run
// in this order so nothing reads a claim before the state, the browser
// binding, the token's signature and the nonce have all been checked.
func (rp *RelyingParty) serveCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := rp.provider.Load()
	if st == nil {
		rp.fail(w, r, "OIDC discovery has not completed")
		return
	}
	rec, code, reason := rp.pendingSignIn(r)
	if reason != "" {
		rp.fail(w, r, reason)
		return
	}
	tok, idt, reason := rp.verifiedIDToken(ctx, st, code, rec)
	if reason != "" {
		rp.fail(w, r, reason)
		return
	}
	claims, reason := rp.idTokenClaims(idt, tok)
	if reason != "" {
		rp.fail(w, r, reason)
		return
	}
	if rp.opts.UserInfo && st.provider.UserInfoEndpoint() != "" {
		if reason := rp.addUserInfo(ctx, st, tok, idt.Subject, claims); reason != "" {
			rp.fail(w, r, reason)
			return
		}
	}
	id := identity(claims, idt.Issuer, idt.Subject, rp.claims)
	if rp.opts.TenantID != "" && rp.claims.TenantID != "" {
		if tid, _ := claims[rp.claims.TenantID].(string); tid != rp.opts.TenantID {
			rp.fail(w, r, fmt.Sprintf("token tenant %q is not the configured tenant %q", tid, rp.opts.TenantID))
			return
		}
	}
	if id.GroupsOverage && rp.opts.GraphGroups {
		rp.resolveOverage(ctx, tok.AccessToken, &id)
	}
	rp.opts.Finisher.Finish(w, r, id, rec.ReturnTo)
}

// pendingSignIn takes the callback's state out of the store (once: a
// replayed callback finds nothing) and checks that this browser started
// the sign-in, before anything else in the request is believed. It returns
// the state's record and the authorization code, or the reason to refuse.
func (rp *RelyingParty) pendingSignIn(r *http.Request) (rec record, code, reason string) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return record{}, "", "callback without state"
	}
	val, err := rp.opts.Store.TakeEphemeral(r.Context(), storeStates, state)
	if errors.Is(err, store.ErrNotFound) {
		return record{}, "", "state matches no pending sign-in (unknown, expired or already used)"
	}
	if err != nil {
		rp.log.Error("take OIDC state", zap.Error(err))
		return record{}, "", fmt.Sprintf("look up state: %v", err)
	}
	if err := json.Unmarshal(val, &rec); err != nil {
		return record{}, "", fmt.Sprintf("corrupt state record: %v", err)
	}
	if !token.Bound(r, rp.bindCookie, rec.Binding) {
		return record{}, "", "state was issued to another browser (binding cookie missing or wrong)"
	}
	// The cookie stays: another tab of this browser may be signing in with
	// the same binding; it expires with StateTTL.
	if e := q.Get("error"); e != "" {
		return record{}, "", fmt.Sprintf("provider returned error %q: %s", e, q.Get("error_description"))
	}
	code = q.Get("code")
	if code == "" {
		return record{}, "", "callback without code"
	}
	if rec.Verifier == "" {
		// Never exchange a code without PKCE: the verifier is what ties the
		// code to this sign-in.
		return record{}, "", "state record has no PKCE verifier"
	}
	if rec.Nonce == "" {
		return record{}, "", "state record has no nonce"
	}
	return rec, code, ""
}

// verifiedIDToken exchanges the code (with the PKCE verifier) and returns
// the tokens once the ID token's signature, issuer, audience, expiry, issue
// time and nonce all check out, or the reason to refuse.
func (rp *RelyingParty) verifiedIDToken(ctx context.Context, st *providerState, code string, rec record) (*oauth2.Token, *gooidc.IDToken, string) {
	xctx := context.WithValue(ctx, oauth2.HTTPClient, rp.opts.HTTPClient)
	tok, err := st.oauth.Exchange(xctx, code, oauth2.VerifierOption(rec.Verifier))
	if err != nil {
		return nil, nil, fmt.Sprintf("code exchange failed: %s", exchangeReason(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, "token response has no id_token"
	}
	idt, err := st.verifier.Verify(gooidc.ClientContext(ctx, rp.opts.HTTPClient), raw)
	if err != nil {
		return nil, nil, fmt.Sprintf("ID token refused: %v", err)
	}
	// go-oidc checks exp and nbf, not iat: a token minted in the future
	// is a forged or replayed-ahead token, or a provider clock gone wrong.
	if idt.IssuedAt.IsZero() {
		return nil, nil, "ID token has no iat"
	}
	if limit := rp.opts.Now().Add(rp.opts.ClockSkew); idt.IssuedAt.After(limit) {
		return nil, nil, fmt.Sprintf("ID token issued in the future (iat %s, more than %s ahead)", idt.IssuedAt.UTC().Format(time.RFC3339), rp.opts.ClockSkew)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(rec.Nonce)) != 1 {
		return nil, nil, "ID token nonce does not match this sign-in"
	}
	return tok, idt, ""
}

// idTokenClaims decodes the verified ID token's claims and checks what
// go-oidc leaves to the caller: nesting depth, azp with several
// audiences, a subject, and at_hash against the access token.
func (rp *RelyingParty) idTokenClaims(idt *gooidc.IDToken, tok *oauth2.Token) (map[string]any, string) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Sprintf("ID token claims: %v", err)
	}
	if claimsDepth(claims, maxClaimsDepth) > maxClaimsDepth {
		return nil, fmt.Sprintf("ID token claims nest deeper than %d levels", maxClaimsDepth)
	}
	if len(idt.Audience) > 1 {
		// With several audiences, azp must name us (OIDC Core 3.1.3.7).
		if azp, _ := claims["azp"].(string); azp != rp.opts.ClientID {
			return nil, fmt.Sprintf("ID token has several audiences and azp %q is not this client", azp)
		}
	}
	if idt.Subject == "" {
		return nil, "ID token has no subject"
	}
	if idt.AccessTokenHash != "" && tok.AccessToken != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Sprintf("access token does not match at_hash: %v", err)
		}
	}
	return claims, ""
}

// addUserInfo adds the userinfo endpoint's claims to claims, where the ID
// token has none of that name: the signed ID token wins over the userinfo
// answer. The answer must be about the ID token's subject. It returns the
// reason to refuse, or "".
func (rp *RelyingParty) addUserInfo(ctx context.Context, st *providerState, tok *oauth2.Token, subject string, claims map[string]any) string {
	ui, err := st.provider.UserInfo(gooidc.ClientContext(ctx, rp.opts.HTTPClient), oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Sprintf("userinfo: %v", err)
	}
	if ui.Subject != subject {
		return fmt.Sprintf("userinfo subject %q is not the ID token's", ui.Subject)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return fmt.Sprintf("userinfo claims: %v", err)
	}
	if claimsDepth(extra, maxClaimsDepth) > maxClaimsDepth {
		return fmt.Sprintf("userinfo claims nest deeper than %d levels", maxClaimsDepth)
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return ""
}

// resolveOverage reads the groups a token left out (Entra ID's groups
// overage) through Microsoft Graph. The sign-in still succeeds with the
// groups unknown when Graph fails; the finish step decides what an overage
// means, and the claims record why.
func (rp *RelyingParty) resolveOverage(ctx context.Context, accessToken string, id *sso.Identity) {
	groups, err := rp.graphGroups(ctx, accessToken)
	if err != nil {
		rp.log.Warn("resolve groups overage through Graph", zap.Error(err))
		id.Claims["graph_error"] = err.Error()
		return
	}
	id.Groups = groups
	id.GroupsOverage = false
	id.Claims["groups_source"] = "graph"
}

// exchangeReason keeps the provider's error code and description, never
// the response body (it may echo secrets).
func exchangeReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Sprintf("%s: %s", re.ErrorCode, re.ErrorDescription)
		}
		if re.Response != nil {
			return re.Response.Status
		}
	}
	return err.Error()
}
