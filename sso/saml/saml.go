// Package saml is dirbridge's SAML 2.0 service provider: SP metadata,
// SP-initiated sign-in over the HTTP-Redirect binding and the assertion
// consumer service (HTTP-POST). It wraps github.com/crewjam/saml in its own
// type and adds what crewjam v0.5.1 lacks: a guard that screens responses
// before crewjam parses them, server-side one-time request and assertion
// IDs shared by every replica through the store, an injectable clock for
// its own checks, and claim presets for Entra ID (Azure AD) and Okta.
//
// crewjam keeps its clock and randomness in package variables
// (saml.TimeNow, saml.RandReader); production code here never touches them.
// crewjam's own checks therefore run on the real clock with its fixed 180 s
// skew (saml.MaxClockSkew) and a 90 s limit on a response's age
// (saml.MaxIssueDelay); this package's checks add the configured skew on
// Options.Now, so the effective skew is the smaller of the two.
//
// Request tracking: every AuthnRequest ID is stored with PutEphemeral
// (namespace "saml-request") for RequestTTL, together with the return URL
// and a hash of a browser-binding cookie. The ACS takes it with
// TakeEphemeral, so a request ID answers exactly one response on any
// replica, and a response is accepted only in the browser that started the
// sign-in (login CSRF). crewjam's 90 s tracking cookie is not used.
// Assertion IDs are remembered with RecordOnce (namespace "saml-assertion")
// until the assertion expires, which refuses replays of IdP-initiated
// responses too.
package saml

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/internal/token"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// Store is the part of store.Store the SP uses: one-time IDs and
// short-lived request records, shared by every replica.
type Store interface {
	RecordOnce(ctx context.Context, namespace, key string, expires time.Time) error
	PutEphemeral(ctx context.Context, namespace, key string, value []byte, expires time.Time) error
	TakeEphemeral(ctx context.Context, namespace, key string) ([]byte, error)
}

// Store namespaces.
const (
	storeRequests   = "saml-request"
	storeAssertions = "saml-assertion"
)

// Defaults.
const (
	DefaultClockSkew        = 2 * time.Minute
	DefaultRequestTTL       = 10 * time.Minute
	DefaultMaxResponseBytes = 512 << 10
	DefaultMaxXMLDepth      = 32
	DefaultMetadataRefresh  = time.Hour
	// maxClockSkew is crewjam's own fixed allowance; a larger configured
	// skew could never take effect.
	maxClockSkew = 180 * time.Second
)

// Options configures a ServiceProvider. The daemon converts its
// configuration into this; tests build it directly.
type Options struct {
	// Name identifies the method in cookie names and logs; default "saml".
	Name string
	// Label is the sign-in button text (Name() returns it); default Name.
	Label string
	// PublicURL is the daemon's external base URL
	// (https://sso.example.com); the SP's endpoints live under
	// PublicURL/saml/.
	PublicURL string
	// EntityID defaults to PublicURL/saml/metadata.
	EntityID string

	// Preset is azuread, okta or generic (default).
	Preset string
	// Attributes overrides the preset's attribute names field by field.
	Attributes Attributes
	// NameIDFormat overrides the preset's requested NameID format: a URN
	// or one of email, persistent, transient, unspecified.
	NameIDFormat string

	// Exactly one of IDPMetadataURL, IDPMetadataFile or IDPMetadata.
	IDPMetadataURL  string
	IDPMetadataFile string
	IDPMetadata     []byte
	// MetadataRefresh is how often URL (or file) metadata is reloaded.
	MetadataRefresh time.Duration
	// IDPCertSHA256 pins the IdP's signing certificates by SHA-256
	// fingerprint: metadata, at start and on every refresh, must carry a
	// signing certificate matching one of them, and only matching
	// certificates are trusted. Empty trusts the metadata's certificates.
	IDPCertSHA256 [][sha256.Size]byte
	// HTTPClient fetches metadata; default a client with a 30 s timeout.
	HTTPClient *http.Client

	// Key and Certificate are the SP's key pair: they sign AuthnRequests
	// and decrypt encrypted assertions. Optional unless SignRequests is set
	// or the IdP encrypts.
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	// SignRequests signs AuthnRequests with RSA-SHA256.
	SignRequests bool

	// AllowIDPInitiated accepts unsolicited responses (off by default).
	AllowIDPInitiated bool
	// RequireEncryption refuses assertions that were not encrypted to the
	// SP key.
	RequireEncryption bool
	// AllowCBCEncryption accepts assertions encrypted with AES-CBC. By
	// default only AES-GCM data encryption (and always only RSA-OAEP key
	// transport) is decrypted: CBC without a MAC gives padding oracles to
	// whoever can post ciphertexts. SimpleSAMLphp 1.x encrypts with
	// AES-128-CBC and cannot be told otherwise.
	AllowCBCEncryption bool
	// ClockSkew is allowed on NotBefore/NotOnOrAfter; default 2 min, at
	// most 180 s (crewjam's own fixed allowance).
	ClockSkew time.Duration
	// RequestTTL is how long a sign-in may take at the IdP.
	RequestTTL time.Duration
	// MaxResponseBytes caps the ACS request body.
	MaxResponseBytes int64
	// MaxXMLDepth caps element nesting in a response.
	MaxXMLDepth int
	// AllowedRedirectHosts are hosts (host[:port]) a return URL may point
	// to besides relative paths and the public URL's host.
	AllowedRedirectHosts []string

	Store Store
	// Finisher is the finish step. It may be left nil here and set with
	// SetFinisher before serving: the sso.Service that finishes is itself
	// built from its methods.
	Finisher sso.Finisher
	Logger   *zap.Logger
	// Now is the clock for this package's own checks; default time.Now.
	Now func() time.Time
}

// ServiceProvider is a SAML 2.0 SP. It implements sso.RedirectMethod.
type ServiceProvider struct {
	opts       Options
	attrs      Attributes
	nameIDFmt  string
	entityID   string
	acsURL     url.URL
	metaURL    url.URL
	allowHosts []string
	log        *zap.Logger
	// bindCookie names the browser-binding cookie; unique to dirbridge so
	// no other server on the same host (cookies ignore ports) clobbers it.
	bindCookie string
	secure     bool

	// idp is the IdP's current metadata; replaced whole on refresh so a
	// request never sees half an update.
	idp atomic.Pointer[crewsaml.EntityDescriptor]
}

var _ sso.RedirectMethod = (*ServiceProvider)(nil)

// New checks opts and builds the SP. It does no network I/O: IdP metadata
// is loaded by Start (or at once from IDPMetadata bytes).
func New(opts Options) (*ServiceProvider, error) {
	var errs []error
	if opts.Name == "" {
		opts.Name = "saml"
	}
	if opts.Label == "" {
		opts.Label = opts.Name
	}
	pub, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q must be an absolute URL", opts.PublicURL))
		pub = &url.URL{}
	}
	attrs, nameIDFmt, err := presetAttributes(opts.Preset)
	if err != nil {
		errs = append(errs, err)
	}
	attrs = attrs.merge(opts.Attributes)
	if opts.NameIDFormat != "" {
		f, err := nameIDFormat(opts.NameIDFormat)
		if err != nil {
			errs = append(errs, err)
		}
		nameIDFmt = f
	}
	if opts.RequireEncryption && opts.Key == nil {
		errs = append(errs, errors.New("requiring encrypted assertions needs the SP key and certificate"))
	}
	if opts.IDPMetadataURL != "" {
		if err := policy.SecureFetchURL(opts.IDPMetadataURL); err != nil {
			errs = append(errs, fmt.Errorf("IdP metadata URL %w (plain http only on loopback: metadata carries the signing keys)", err))
		}
	}
	n := 0
	for _, s := range []bool{opts.IDPMetadataURL != "", opts.IDPMetadataFile != "", len(opts.IDPMetadata) > 0} {
		if s {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, errors.New("exactly one of IdP metadata URL, file or inline metadata is required"))
	}
	if opts.SignRequests && (opts.Key == nil || opts.Certificate == nil) {
		errs = append(errs, errors.New("signing requests needs the SP key and certificate"))
	}
	if (opts.Key == nil) != (opts.Certificate == nil) {
		errs = append(errs, errors.New("SP key and certificate go together"))
	}
	if opts.ClockSkew == 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.ClockSkew < 0 || opts.ClockSkew > maxClockSkew {
		errs = append(errs, fmt.Errorf("clock skew %s out of range (0 to %s)", opts.ClockSkew, maxClockSkew))
	}
	if opts.RequestTTL <= 0 {
		opts.RequestTTL = DefaultRequestTTL
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxXMLDepth <= 0 {
		opts.MaxXMLDepth = DefaultMaxXMLDepth
	}
	if opts.MetadataRefresh <= 0 {
		opts.MetadataRefresh = DefaultMetadataRefresh
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("a store is required (one-time request and assertion IDs)"))
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("saml: %w", errors.Join(errs...))
	}
	sp := &ServiceProvider{
		opts:       opts,
		attrs:      attrs,
		nameIDFmt:  nameIDFmt,
		acsURL:     *pub.JoinPath("saml", "acs"),
		metaURL:    *pub.JoinPath("saml", "metadata"),
		allowHosts: append([]string{pub.Host}, opts.AllowedRedirectHosts...),
		log:        opts.Logger.Named("saml").With(zap.String("method", opts.Name)),
		secure:     pub.Scheme == "https",
	}
	sp.entityID = opts.EntityID
	if sp.entityID == "" {
		sp.entityID = sp.metaURL.String()
	}
	sp.bindCookie = "dirbridge_saml_" + token.CookieSafe(opts.Name)
	if sp.secure {
		sp.bindCookie = "__Host-" + sp.bindCookie
	}
	if len(opts.IDPMetadata) > 0 {
		ed, err := parseIDPMetadata(opts.IDPMetadata, opts.IDPCertSHA256)
		if err != nil {
			return nil, fmt.Errorf("saml: IdP metadata: %w", err)
		}
		sp.idp.Store(ed)
	}
	return sp, nil
}

// SetFinisher sets the finish step; call it before Start and before
// serving requests.
func (sp *ServiceProvider) SetFinisher(f sso.Finisher) { sp.opts.Finisher = f }

// Name is the method's label on the login page.
func (sp *ServiceProvider) Name() string { return sp.opts.Label }

// EntityID is the SP's entity ID (the audience assertions must name).
func (sp *ServiceProvider) EntityID() string { return sp.entityID }

// ACSURL is where the IdP posts responses.
func (sp *ServiceProvider) ACSURL() string { return sp.acsURL.String() }

// Routes registers GET /saml/metadata, GET /saml/login and POST /saml/acs.
func (sp *ServiceProvider) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /saml/metadata", sp.serveMetadata)
	mux.HandleFunc("GET /saml/login", sp.serveLogin)
	mux.HandleFunc("POST /saml/acs", sp.serveACS)
}

// LoginURL is the path that starts an SP-initiated sign-in.
func (sp *ServiceProvider) LoginURL(returnTo string) string {
	if returnTo == "" {
		return "/saml/login"
	}
	return "/saml/login?" + url.Values{"return_to": {returnTo}}.Encode()
}

// crew builds a crewjam SP for one request from the current IdP metadata.
// A fresh value per request keeps per-request settings (IdP-initiated or
// not) out of shared state; the struct is small.
func (sp *ServiceProvider) crew(idp *crewsaml.EntityDescriptor) *crewsaml.ServiceProvider {
	c := &crewsaml.ServiceProvider{
		EntityID:          sp.entityID,
		MetadataURL:       sp.metaURL,
		AcsURL:            sp.acsURL,
		IDPMetadata:       idp,
		AuthnNameIDFormat: crewsaml.NameIDFormat(sp.nameIDFmt),
		HTTPClient:        sp.opts.HTTPClient,
	}
	if sp.opts.Key != nil {
		c.Key = sp.opts.Key
		c.Certificate = sp.opts.Certificate
	}
	if sp.opts.SignRequests {
		// crewjam defaults to RSA-SHA1 when asked to sign.
		c.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return c
}

// MetadataXML renders the SP metadata (what /saml/metadata serves).
func (sp *ServiceProvider) MetadataXML() ([]byte, error) {
	ed := sp.crew(nil).Metadata()
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: marshal SP metadata: %w", err)
	}
	return out, nil
}

func (sp *ServiceProvider) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	out, err := sp.MetadataXML()
	if err != nil {
		sp.log.Error("render SP metadata", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(out)
}

// pending is the server-side record of one AuthnRequest.
type pending struct {
	ReturnTo string    `json:"return_to"`
	Binding  string    `json:"binding"` // sha256 of the browser-binding cookie, base64
	IssuedAt time.Time `json:"issued_at"`
}

func (sp *ServiceProvider) fail(w http.ResponseWriter, r *http.Request, issuer, reason string) {
	sp.log.Warn("SAML sign-in refused", zap.String("reason", reason), zap.String("remote", r.RemoteAddr))
	sp.opts.Finisher.Fail(w, r, sso.MethodSAML, issuer, reason)
}

func (sp *ServiceProvider) serveLogin(w http.ResponseWriter, r *http.Request) {
	idp := sp.idp.Load()
	if idp == nil {
		sp.fail(w, r, "", "IdP metadata not loaded yet")
		return
	}
	returnTo := sso.SafeReturnTo(r.URL.Query().Get("return_to"), sp.allowHosts)
	c := sp.crew(idp)
	dest := c.GetSSOBindingLocation(crewsaml.HTTPRedirectBinding)
	if dest == "" {
		sp.fail(w, r, idp.EntityID, "IdP metadata has no HTTP-Redirect SingleSignOnService")
		return
	}
	req, err := c.MakeAuthenticationRequest(dest, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		sp.fail(w, r, idp.EntityID, fmt.Sprintf("make AuthnRequest: %v", err))
		return
	}
	binding, err := token.Binding(r, sp.bindCookie)
	if err != nil {
		sp.fail(w, r, idp.EntityID, fmt.Sprintf("random: %v", err))
		return
	}
	now := sp.opts.Now()
	rec, _ := json.Marshal(pending{ReturnTo: returnTo, Binding: token.Hash(binding), IssuedAt: now})
	if err := sp.opts.Store.PutEphemeral(r.Context(), storeRequests, req.ID, rec, now.Add(sp.opts.RequestTTL)); err != nil {
		sp.log.Error("store SAML request", zap.Error(err))
		sp.fail(w, r, idp.EntityID, fmt.Sprintf("store request: %v", err))
		return
	}
	// No RelayState: the return URL lives in the server-side record, so
	// nothing the browser carries back can redirect it.
	u, err := req.Redirect("", c)
	if err != nil {
		sp.fail(w, r, idp.EntityID, fmt.Sprintf("encode AuthnRequest: %v", err))
		return
	}
	http.SetCookie(w, sp.cookie(binding, int(sp.opts.RequestTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// cookie makes the browser-binding cookie. The IdP posts to the ACS from
// its own origin, a cross-site POST: over HTTPS the cookie must be
// SameSite=None (and so Secure) to come along. Over plain HTTP (tests,
// loopback) SameSite is left unset.
func (sp *ServiceProvider) cookie(value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     sp.bindCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
	}
	if sp.secure {
		c.Secure = true
		c.SameSite = http.SameSiteNoneMode
	}
	return c
}

// serveACS finishes a sign-in the IdP posted back. Each stage returns the
// reason it refuses, which fail logs and audits; the order matters: the
// guard screens the XML before any parser sees it, the request record is
// taken before the signature is checked (so a request ID answers at most
// one response), and no attribute is read before crewjam and check have
// verified the signature, conditions and replay.
func (sp *ServiceProvider) serveACS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	idp := sp.idp.Load()
	if idp == nil {
		sp.fail(w, r, "", "IdP metadata not loaded yet")
		return
	}
	issuer := idp.EntityID
	raw, g, reason := sp.screenResponse(w, r, idp)
	if reason != "" {
		sp.fail(w, r, issuer, reason)
		return
	}
	returnTo, possible, reason := sp.answeredRequest(r, g)
	if reason != "" {
		sp.fail(w, r, issuer, reason)
		return
	}

	c := sp.crew(idp)
	// With no request to answer, crewjam must not demand one; a solicited
	// response is matched against exactly its request ID.
	c.AllowIDPInitiated = g.InResponseTo == ""
	a, err := parseWithCrewjam(c, raw, possible)
	if err != nil {
		sp.fail(w, r, issuer, err.Error())
		return
	}
	expires, err := sp.check(a, g.InResponseTo, issuer)
	if err != nil {
		sp.fail(w, r, issuer, err.Error())
		return
	}
	if err := sp.opts.Store.RecordOnce(ctx, storeAssertions, issuer+"\x00"+a.ID, expires); err != nil {
		if errors.Is(err, store.ErrConflict) {
			sp.fail(w, r, issuer, fmt.Sprintf("assertion %q was already used (replay)", a.ID))
			return
		}
		sp.log.Error("record SAML assertion ID", zap.Error(err))
		sp.fail(w, r, issuer, fmt.Sprintf("record assertion ID: %v", err))
		return
	}
	id := identity(a, issuer, sp.attrs)
	if id.Subject == "" {
		sp.fail(w, r, issuer, "assertion names no subject (empty NameID and subject attribute)")
		return
	}
	id.Claims["encrypted"] = g.Encrypted
	sp.opts.Finisher.Finish(w, r, id, returnTo)
}

// screenResponse reads the posted SAMLResponse (bounded in size) and runs
// the guard over it: it returns the decoded response and what the guard
// read from it, or the reason to refuse. Nothing here trusts the response;
// it only refuses early what no valid response would be.
func (sp *ServiceProvider) screenResponse(w http.ResponseWriter, r *http.Request, idp *crewsaml.EntityDescriptor) ([]byte, guardResult, string) {
	issuer := idp.EntityID
	r.Body = http.MaxBytesReader(w, r.Body, sp.opts.MaxResponseBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, guardResult{}, fmt.Sprintf("SAML response larger than %d bytes", sp.opts.MaxResponseBytes)
		}
		return nil, guardResult{}, fmt.Sprintf("malformed ACS form: %v", err)
	}
	if r.PostForm.Get("SAMLart") != "" {
		return nil, guardResult{}, "artifact binding is not supported"
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		return nil, guardResult{}, "SAMLResponse missing or not base64"
	}
	gopts := guardOptions{maxDepth: sp.opts.MaxXMLDepth, allowCBC: sp.opts.AllowCBCEncryption}
	if sp.opts.Key != nil {
		gopts.key = sp.opts.Key
	}
	// The metadata was refused without a signing certificate, so an error
	// here leaves idpCerts empty and a signed encrypted response refused.
	gopts.idpCerts, _ = signingCerts(idp)
	g, err := guard(raw, gopts)
	if err != nil {
		return nil, guardResult{}, "response refused before parsing: " + err.Error()
	}
	if sp.opts.RequireEncryption && !g.Encrypted {
		return nil, guardResult{}, "assertion is not encrypted and encryption is required"
	}
	if g.Issuer != "" && g.Issuer != issuer {
		return nil, guardResult{}, fmt.Sprintf("response issuer %q is not the configured IdP %q", g.Issuer, issuer)
	}
	if g.Destination != sp.acsURL.String() {
		return nil, guardResult{}, fmt.Sprintf("response Destination %q is not this ACS %q", g.Destination, sp.acsURL.String())
	}
	return raw, g, ""
}

// answeredRequest finds which request the response answers. A solicited
// response's request record is taken (deleted) before anything else, so a
// request ID answers at most one response, on any replica, and it must
// arrive in the browser that started the sign-in. It returns where to go
// after sign-in and the request IDs crewjam may accept (nil for an
// IdP-initiated response), or the reason to refuse.
func (sp *ServiceProvider) answeredRequest(r *http.Request, g guardResult) (returnTo string, possible []string, reason string) {
	if g.InResponseTo == "" {
		if !sp.opts.AllowIDPInitiated {
			return "", nil, "unsolicited response (no InResponseTo) and IdP-initiated sign-in is disabled"
		}
		// IdP-initiated: RelayState is the only return URL there is.
		return sso.SafeReturnTo(r.PostForm.Get("RelayState"), sp.allowHosts), nil, ""
	}
	val, err := sp.opts.Store.TakeEphemeral(r.Context(), storeRequests, g.InResponseTo)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, fmt.Sprintf("InResponseTo %q matches no pending request (unknown, expired or already answered)", g.InResponseTo)
	}
	if err != nil {
		sp.log.Error("take SAML request", zap.Error(err))
		return "", nil, fmt.Sprintf("look up request: %v", err)
	}
	var p pending
	if err := json.Unmarshal(val, &p); err != nil {
		return "", nil, fmt.Sprintf("corrupt request record: %v", err)
	}
	if !token.Bound(r, sp.bindCookie, p.Binding) {
		return "", nil, "response arrived in a browser that did not start this sign-in (binding cookie missing or wrong)"
	}
	// The cookie stays: another tab of this browser may be signing in
	// with the same binding; it expires with RequestTTL.
	return p.ReturnTo, []string{g.InResponseTo}, ""
}

// parseWithCrewjam runs crewjam's verification (signature, decryption,
// issuer, destination, request ID, its own time checks) and turns its
// opaque error into the private reason. A panic inside crewjam (it has
// dereferenced nil on malformed assertions before) is a refusal, not a
// crash.
func parseWithCrewjam(c *crewsaml.ServiceProvider, raw []byte, possible []string) (a *crewsaml.Assertion, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("SAML library failed on the response: %v", p)
		}
	}()
	a, err = c.ParseXMLResponse(raw, possible, c.AcsURL)
	if err != nil {
		var ire *crewsaml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			var bad crewsaml.ErrBadStatus
			if errors.As(ire.PrivateErr, &bad) {
				return nil, fmt.Errorf("IdP returned status %s", bad.Status)
			}
			return nil, fmt.Errorf("response invalid: %w", ire.PrivateErr)
		}
		return nil, fmt.Errorf("response invalid: %w", err)
	}
	return a, nil
}

// check applies this package's own rules to a verified assertion, on
// Options.Now with the configured skew, and returns until when its ID must
// be remembered. crewjam accepts a missing Audience or SubjectConfirmation;
// these checks do not.
func (sp *ServiceProvider) check(a *crewsaml.Assertion, inResponseTo, issuer string) (time.Time, error) {
	now := sp.opts.Now()
	skew := sp.opts.ClockSkew
	if a.ID == "" {
		return time.Time{}, errors.New("assertion has no ID")
	}
	if a.Issuer.Value != issuer {
		return time.Time{}, fmt.Errorf("assertion issuer %q is not the configured IdP %q", a.Issuer.Value, issuer)
	}
	cond := a.Conditions
	if cond == nil {
		return time.Time{}, errors.New("assertion has no Conditions")
	}
	if !cond.NotBefore.IsZero() && now.Add(skew).Before(cond.NotBefore) {
		return time.Time{}, fmt.Errorf("assertion not valid before %s (now %s, skew %s)", cond.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	if cond.NotOnOrAfter.IsZero() {
		return time.Time{}, errors.New("assertion Conditions has no NotOnOrAfter")
	}
	if !now.Add(-skew).Before(cond.NotOnOrAfter) {
		return time.Time{}, fmt.Errorf("assertion expired at %s (now %s, skew %s)", cond.NotOnOrAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	audOK := false
	var auds []string
	for _, ar := range cond.AudienceRestrictions {
		auds = append(auds, ar.Audience.Value)
		if ar.Audience.Value == sp.entityID {
			audOK = true
		}
	}
	if !audOK {
		return time.Time{}, fmt.Errorf("assertion audience %q does not include this SP %q", auds, sp.entityID)
	}
	if a.Subject == nil || len(a.Subject.SubjectConfirmations) == 0 {
		return time.Time{}, errors.New("assertion has no SubjectConfirmation")
	}
	expires := cond.NotOnOrAfter
	bearer := false
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.Method != bearerMethod {
			continue
		}
		d := sc.SubjectConfirmationData
		if d == nil {
			return time.Time{}, errors.New("bearer SubjectConfirmation has no SubjectConfirmationData")
		}
		if d.Recipient != sp.acsURL.String() {
			return time.Time{}, fmt.Errorf("SubjectConfirmationData Recipient %q is not this ACS %q", d.Recipient, sp.acsURL.String())
		}
		if d.InResponseTo != inResponseTo {
			return time.Time{}, fmt.Errorf("SubjectConfirmationData InResponseTo %q does not match the response's %q", d.InResponseTo, inResponseTo)
		}
		if d.NotOnOrAfter.IsZero() {
			return time.Time{}, errors.New("SubjectConfirmationData has no NotOnOrAfter")
		}
		if !now.Add(-skew).Before(d.NotOnOrAfter) {
			return time.Time{}, fmt.Errorf("SubjectConfirmationData expired at %s", d.NotOnOrAfter.UTC().Format(time.RFC3339))
		}
		if d.NotOnOrAfter.After(expires) {
			expires = d.NotOnOrAfter
		}
		bearer = true
	}
	if !bearer {
		return time.Time{}, errors.New("assertion has no bearer SubjectConfirmation")
	}
	return expires.Add(skew), nil
}

// nameIDFormat expands the short names configuration uses.
func nameIDFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case "email":
		return NameIDEmail, nil
	case "persistent":
		return NameIDPersistent, nil
	case "transient":
		return NameIDTransient, nil
	case "unspecified":
		return NameIDUnspecified, nil
	}
	if strings.HasPrefix(s, "urn:") {
		return s, nil
	}
	return "", fmt.Errorf("unknown NameID format %q (want email, persistent, transient, unspecified or a URN)", s)
}
