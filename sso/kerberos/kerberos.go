// Package kerberos is Kerberos sign-in for domain-joined browsers: SPNEGO
// (RFC 4559) on /kerberos/login and, when configured, on /login itself.
// The AP-REQ in the browser's Negotiate token is checked with gokrb5
// against the service account's keytab — service principal, ticket times,
// clock skew, replay, client realm, the PAC's server signature — and its
// client principal is resolved to the synced directory user (resolve.go).
// The sign-in then ends in the sso.Finisher like every other method:
// policy, session, audit with method "kerberos". A browser that does not
// negotiate gets the normal sign-in page as the body of the 401 challenge.
package kerberos

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/types"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso"
)

// Finisher is the sso.Service as this method needs it: the one finish
// step, and the sign-in page as the body of a challenge.
type Finisher interface {
	sso.Finisher
	// LoginPage writes the sign-in page with status, never redirecting.
	LoginPage(w http.ResponseWriter, r *http.Request, status int)
	// Unavailable audits a sign-in our own outage stopped (the store did
	// not answer) and answers 503, so the person tries again.
	Unavailable(w http.ResponseWriter, r *http.Request, method, issuer string, err error)
}

// Options configures a Method.
type Options struct {
	// Label is the sign-in button text (default "Windows").
	Label string
	// Keytab holds the service principal's keys.
	Keytab *keytab.Keytab
	// ServicePrincipal is HTTP/host@REALM; tickets for any other service
	// are refused even when the keytab holds its key.
	ServicePrincipal string
	// Realms maps each accepted client realm (any case) to the directory
	// (store.User.Source) whose users it resolves to.
	Realms map[string]string
	// MaxClockSkew bounds the authenticator's and the ticket's times
	// (default 5m, Kerberos' own default).
	MaxClockSkew time.Duration
	// Users reads the store (store.Store satisfies it).
	Users Users
	// Replay, when set, remembers authenticators (store.Store satisfies
	// it), so a token replayed to any replica sharing the store is
	// refused; nil keeps gokrb5's replay cache, which this process alone
	// sees.
	Replay Recorder
	// Finisher is the sso.Service; SetFinisher sets it after New.
	Finisher Finisher
	Logger   *zap.Logger
}

// Recorder remembers a key once (store.Store.RecordOnce): ErrConflict
// (store.ErrConflict) when the key is remembered and not yet expired, any
// other error an outage.
type Recorder interface {
	RecordOnce(ctx context.Context, namespace, key string, expires time.Time) error
}

// Method is Kerberos SPNEGO sign-in: an sso.RedirectMethod (its button
// leads to /kerberos/login) and an sso.Negotiator (/login).
type Method struct {
	opts   Options
	spn    types.PrincipalName
	realm  string // the service principal's realm
	realms map[string]string
	log    *zap.Logger
	// replay is gokrb5's process-wide replay cache, used when
	// Options.Replay is nil.
	replay *service.Cache
	// pacLog receives gokrb5's notes on PAC buffers it skips.
	pacLog *log.Logger
}

var (
	_ sso.RedirectMethod = (*Method)(nil)
	_ sso.Negotiator     = (*Method)(nil)
)

// New checks opts and builds the Method.
func New(opts Options) (*Method, error) {
	var problems []string
	if opts.Keytab == nil {
		problems = append(problems, "a keytab is required")
	}
	if opts.Users == nil {
		problems = append(problems, "users (the store) are required")
	}
	spn, realm, err := ParseServicePrincipal(opts.ServicePrincipal)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(opts.Realms) == 0 {
		problems = append(problems, "at least one realm is required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("kerberos: %s", strings.Join(problems, "; "))
	}
	if opts.Label == "" {
		opts.Label = "Windows"
	}
	if opts.MaxClockSkew <= 0 {
		opts.MaxClockSkew = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	realms := make(map[string]string, len(opts.Realms))
	for r, d := range opts.Realms {
		realms[strings.ToUpper(r)] = d
	}
	lg := opts.Logger.Named("kerberos")
	return &Method{
		opts: opts, spn: spn, realm: realm, realms: realms, log: lg,
		replay: service.GetReplayCache(opts.MaxClockSkew),
		pacLog: zap.NewStdLog(lg.Named("pac")),
	}, nil
}

// ParseServicePrincipal splits HTTP/host@REALM into gokrb5's name and the
// realm (upper-cased: Kerberos realms are, by convention, and AD's are).
func ParseServicePrincipal(s string) (types.PrincipalName, string, error) {
	name, realm, ok := strings.Cut(s, "@")
	svc, host, _ := strings.Cut(name, "/")
	if !ok || realm == "" || svc == "" || host == "" || strings.Contains(host, "/") {
		return types.PrincipalName{}, "", fmt.Errorf("service principal %q must look like HTTP/host@REALM", s)
	}
	return types.NewPrincipalName(2, name), strings.ToUpper(realm), nil // 2: NT-SRV-INST
}

// SetFinisher sets the finish step (the sso.Service, built after the
// Method).
func (m *Method) SetFinisher(f Finisher) { m.opts.Finisher = f }

// Name is the method's label on the login page.
func (m *Method) Name() string { return m.opts.Label }

// Routes registers GET /kerberos/login.
func (m *Method) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /kerberos/login", m.ServeNegotiate)
}

// LoginURL is /kerberos/login with returnTo.
func (m *Method) LoginURL(returnTo string) string {
	if returnTo == "" {
		return "/kerberos/login"
	}
	return "/kerberos/login?" + url.Values{"return_to": {returnTo}}.Encode()
}

// Start has nothing to fetch: the keytab was read at build time.
func (m *Method) Start(context.Context) error { return nil }

// issuer names the realm in IdP links and audit records.
func issuer(realm string) string { return "kerberos:" + strings.ToUpper(realm) }

// ServeNegotiate answers a sign-in request (RFC 4559): without an
// Authorization: Negotiate header, a 401 challenge whose body is the
// sign-in page; with one, the ticket is checked and the person signed in
// or refused with the reason audited.
func (m *Method) ServeNegotiate(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get("return_to")
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Negotiate") {
		w.Header().Set("WWW-Authenticate", "Negotiate")
		m.opts.Finisher.LoginPage(w, r, http.StatusUnauthorized)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(raw) == 0 {
		m.refuse(w, r, "", &Refusal{Code: CodeMalformed, Detail: "the Negotiate token is not base64"})
		return
	}
	if isNTLM(raw) {
		// A browser outside the domain (or without a ticket) offers NTLM
		// inside Negotiate. That is no sign-in attempt: show the page,
		// without a new challenge that would make it ask for a password.
		m.log.Debug("Negotiate carried NTLM, not Kerberos: showing the sign-in page")
		m.opts.Finisher.LoginPage(w, r, http.StatusOK)
		return
	}
	t, ref := m.Accept(r.Context(), raw)
	if ref != nil {
		m.refuse(w, r, t.Realm, ref)
		return
	}
	u, key, ref := resolve(r.Context(), m.opts.Users, m.realms, t)
	if ref != nil {
		m.refuse(w, r, t.Realm, ref)
		return
	}
	m.opts.Finisher.Finish(w, r, sso.Identity{
		Method: sso.MethodKerberos, Issuer: issuer(t.Realm), Subject: t.Principal(),
		LinkSubject: t.SID, UPN: firstNonEmpty(t.UPN, u.UPN), Username: u.Username, UserID: u.ID,
		Claims: t.claims(key),
	}, returnTo)
}

// refuse audits a refused ticket through the finisher; the person sees
// the generic refusal page, the audit log the reason.
// A refusal for our own outage is not the ticket's fault: it answers 503
// ("try again"), not the refusal page.
func (m *Method) refuse(w http.ResponseWriter, r *http.Request, realm string, ref *Refusal) {
	iss := "kerberos"
	if realm != "" {
		iss = issuer(realm)
	}
	if ref.Code == CodeUnavailable {
		m.opts.Finisher.Unavailable(w, r, sso.MethodKerberos, iss, ref)
		return
	}
	m.log.Warn("kerberos sign-in refused", zap.String("code", ref.Code))
	m.opts.Finisher.Fail(w, r, sso.MethodKerberos, iss, ref.Error())
}

// isNTLM reports whether a Negotiate token is NTLMSSP rather than SPNEGO.
func isNTLM(b []byte) bool { return strings.HasPrefix(string(b), "NTLMSSP\x00") }

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
