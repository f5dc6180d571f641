// Package admin is dirbridge's REST API under /api/v1: API keys and the
// bearer tokens they exchange for, privilege checks, users, profiles, the
// audit log and sync control.
//
// Every endpoint is declared once, in the route table (routes.go); the
// ServeMux registrations and the OpenAPI document served at
// /api/v1/openapi.json are both generated from it, so they cannot drift.
//
// Every mutating call writes an audit event. A successful change writes its
// event in the same store transaction as the change (both or neither); a
// refused or failed call is recorded by the request wrapper afterwards.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/clientip"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// SyncRequest asks the sync engine for one run.
type SyncRequest struct {
	Directory             string
	Full                  bool
	DryRun                bool
	AllowMassDeactivation bool
	// Actor is the administrator asking, for the run's audit trail.
	Actor string
}

// SyncTrigger starts sync runs; the sync engine implements it.
type SyncTrigger interface {
	// Trigger starts a run in the background and returns its id without
	// waiting for it. When a run of that directory is already going it
	// returns that run's id (single flight). Errors mean no run started.
	Trigger(ctx context.Context, req SyncRequest) (runID string, err error)
}

// Options configure a Server. Store is required; everything else has a
// default.
type Options struct {
	Store  store.Store
	Logger *zap.Logger
	// Now is the clock; tests inject one to expire tokens.
	Now func() time.Time
	// Privileges is the catalogue (built-in plus the application's
	// privileges); defaults to the built-ins only.
	Privileges *privilege.Catalogue
	// Directories lists the configured directory names (for stats, sync).
	Directories []string
	// Sync starts runs; nil means POST /api/v1/sync answers 501.
	Sync SyncTrigger
	// Hasher hashes administrator-reset passwords; defaults to
	// password.DefaultParams with NumCPU concurrent hashes.
	Hasher *password.Hasher
	// TrustedProxies are peers whose X-Forwarded-For is believed for the
	// source IP recorded in audit events.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// TokenTTL is how long a bearer token lives, used or not (api.token_ttl;
	// default TokenTTL, 2 hours).
	TokenTTL time.Duration
	// Mappings hold each directory's mapping by directory name, for
	// creating local users from imported entries; a directory without one
	// answers 501 there.
	Mappings map[string]DirectoryMapping
	// Passwords changes passwords beyond the store: the caller's own
	// change (POST /api/v1/me/password) and resets of directory users;
	// nil means both answer 501. The sign-in service provides it.
	Passwords PasswordChanger
	// PasswordHistory is policy.password.history: how many earlier local
	// passwords an administrator's reset keeps for the history rule.
	PasswordHistory int
	// Usernames is policy.username, checked wherever the API chooses a
	// local username (a user template's username when creating from an
	// entry).
	Usernames policy.UsernamePolicy
	// UserTemplates are the config's mapping.user_templates by name, for
	// POST /api/v1/users and bulk generation.
	UserTemplates map[string]UserTemplate
	// TimeZone is where expiry "days left" are counted (expiry.time_zone);
	// nil means UTC.
	TimeZone *time.Location
	// Inviter mails new local users their set-password link; nil means
	// users are created without one (invite: false).
	Inviter Inviter
	// Provisioning lists the configured SCIM provisioning sources by
	// name, whose bearer tokens the API issues.
	Provisioning []string
	// SignInPolicies returns the sign-in policies in force, asked at each
	// GET /api/v1/policy so a reload shows at once; nil means that route
	// answers 501.
	SignInPolicies func() SignInPolicies
	// NextSyncs returns, by directory name, when its scheduled syncs run
	// next after now (the sync scheduler's schedule); nil, or a directory
	// left out, shows none.
	NextSyncs func(now time.Time) map[string]NextSync
	// Groups holds, by directory name, the config's imported groups and
	// the directory's live group search, for the import-group routes; a
	// directory left out has no configured groups and cannot be searched.
	Groups map[string]DirectoryGroups
}

// NextSync is when a directory's scheduled syncs run next; a zero time
// means that schedule is off.
type NextSync struct {
	Incremental, Full time.Time
}

// Server serves /api/v1. It is safe for concurrent use.
type Server struct {
	store   store.Store
	log     *zap.Logger
	now     func() time.Time
	privs   *privilege.Catalogue
	dirs    []string
	sync    SyncTrigger
	hasher  *password.Hasher
	proxies []netip.Prefix
	maxBody int64
	ttl     time.Duration
	mux     *http.ServeMux
	routes  []route

	// mappings: see Options.Mappings.
	mappings map[string]DirectoryMapping
	// passwords and history: see Options.Passwords, PasswordHistory.
	passwords PasswordChanger
	// pol holds the reloadable policies (SetPolicies).
	pol       atomic.Pointer[Policies]
	templates map[string]UserTemplate
	timeZone  *time.Location
	inviter   Inviter
	// provisioning: see Options.Provisioning.
	provisioning []string
	// signInPolicies: see Options.SignInPolicies.
	signInPolicies func() SignInPolicies
	nextSyncs      func(now time.Time) map[string]NextSync
	// groups: see Options.Groups.
	groups map[string]DirectoryGroups
}

// Policies are the administration policies a configuration reload
// (SIGHUP) replaces: policy.username for names an administrator chooses,
// policy.password.history for administrator resets.
type Policies struct {
	Usernames       policy.UsernamePolicy
	PasswordHistory int
}

// SetPolicies replaces the running policies.
func (s *Server) SetPolicies(p Policies) { s.pol.Store(&p) }

func (s *Server) policies() *Policies { return s.pol.Load() }

// New builds a Server from opts.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("admin: a store is required")
	}
	s := &Server{
		store:   opts.Store,
		log:     opts.Logger,
		now:     opts.Now,
		privs:   opts.Privileges,
		dirs:    slices.Clone(opts.Directories),
		sync:    opts.Sync,
		hasher:  opts.Hasher,
		proxies: opts.TrustedProxies,
		maxBody: opts.MaxBodyBytes,
		ttl:     opts.TokenTTL,

		mappings:     opts.Mappings,
		passwords:    opts.Passwords,
		templates:    opts.UserTemplates,
		timeZone:     opts.TimeZone,
		inviter:      opts.Inviter,
		provisioning: slices.Clone(opts.Provisioning),

		signInPolicies: opts.SignInPolicies,
		nextSyncs:      opts.NextSyncs,
		groups:         opts.Groups,
	}
	s.SetPolicies(Policies{Usernames: opts.Usernames, PasswordHistory: opts.PasswordHistory})
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("admin")
	if s.now == nil {
		s.now = time.Now
	}
	if s.privs == nil {
		c, err := privilege.NewCatalogue(nil)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		s.privs = c
	}
	if s.ttl <= 0 {
		s.ttl = TokenTTL
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.hasher == nil {
		h, err := password.NewHasher(password.DefaultParams, 0)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		s.hasher = h
	}
	s.routes = routeTable()
	s.mux = http.NewServeMux()
	paths := map[string]bool{}
	for i := range s.routes {
		rt := &s.routes[i]
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		if !paths[rt.Path] {
			paths[rt.Path] = true
			// A method-less pattern for the same path catches the other
			// methods, so a wrong method gets a JSON 405 instead of the
			// mux's plain-text one.
			s.mux.HandleFunc(rt.Path, s.methodNotAllowed)
		}
	}
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errf(http.StatusNotFound, CodeRouteNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// ServeHTTP serves every /api/v1 path; mount the Server at "/api/v1/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range s.routes {
		if matchPath(rt.Path, r.URL.Path) {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) == 0 {
		writeError(w, errf(http.StatusNotFound, CodeRouteNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, errf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
}

// matchPath matches a concrete path against a pattern with {wildcards}.
func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// caller is the authenticated principal of one request, plus what the
// handler wants recorded in the audit event.
type caller struct {
	User  store.User
	Privs privilege.Set
	// MayGrant is the caller's profile's may_grant list (nil: the caller
	// may grant what it holds).
	MayGrant []string
	KeyID    string
	IP       string
	Request  *http.Request

	// Audit bookkeeping, filled by handlers.
	target  string
	details map[string]any
	audited bool
}

func (c *caller) actor() string {
	if c == nil || c.User.Username == "" {
		return "anonymous"
	}
	return c.User.Username
}

func (c *caller) has(p string) bool { return c.User.Superuser || c.Privs.Has(p) }

// grantable is what c may grant (its privileges when nothing narrowed it).
func (c *caller) grantable() privilege.Set { return privilege.Grantable(c.Privs, c.MayGrant) }

// profilePowerByName is profilePower of the profile called name, falling
// back to known privileges when it cannot be read (the grant check then
// still covers what the profile holds).
func (s *Server) profilePowerByName(r *http.Request, rd store.Reader, name string, known map[string][]string) []string {
	if name == "" {
		return nil
	}
	p, err := rd.GetProfile(r.Context(), name)
	if err != nil {
		return known[name]
	}
	return profilePower(p)
}

// profilePower is what holding profile p hands over: its privileges and
// what it lets its holders grant.
func profilePower(p store.Profile) []string {
	return append(slices.Clone(p.Privileges), p.MayGrant...)
}

func (c *caller) detail(k string, v any) {
	if c.details == nil {
		c.details = map[string]any{}
	}
	c.details[k] = v
}

// wrap authenticates, authorises, runs the handler, turns its error into a
// JSON response and audits mutating calls the handler did not audit itself.
func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &caller{IP: s.sourceIP(r), Request: r}
		err := s.authorize(r, rt, c)
		if err == nil {
			err = rt.handler(s, w, r, c)
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = s.internal(r, rt, err)
			}
			writeError(w, ae)
			if rt.mutating() && !c.audited {
				outcome := store.OutcomeFailure
				if ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized || c.details["out_of_scope"] == true {
					// Out of scope answers 404 (scope must not leak who
					// exists) but was a refusal all the same.
					outcome = store.OutcomeDenied
				}
				reason := ae.E.Code + ": " + ae.E.Message
				if aerr := s.auditFailure(r.Context(), c, rt.Action, outcome, reason); aerr != nil {
					s.log.Error("write audit event", zap.String("action", rt.Action), zap.Error(aerr))
				}
			}
		}
	})
}

// internal logs an unexpected error and hides its details from the client.
func (s *Server) internal(r *http.Request, rt *route, err error) *apiError {
	switch {
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return errf(499, CodeUnavailable, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return errf(http.StatusServiceUnavailable, CodeUnavailable, "the store did not answer in time; retry later")
	}
	s.log.Error("request failed", zap.String("route", rt.Name), zap.String("path", r.URL.Path), zap.Error(err))
	return errf(http.StatusInternalServerError, CodeInternal, "internal error; see the server log")
}

func (s *Server) authorize(r *http.Request, rt *route, c *caller) error {
	if rt.Public {
		return nil
	}
	if id, ok := r.Context().Value(asUserKey{}).(string); ok {
		// ServeAs: the console has already authenticated its user by the
		// browser session; read it afresh and check it like a token's.
		return s.authorizeUser(r.Context(), rt, c, id, "")
	}
	tok, ok := bearer(r)
	if !ok {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token; exchange an API key at POST /api/v1/tokens")
	}
	if looksLike(tok, KeyPrefix) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "an API key is not a bearer token; exchange it at POST /api/v1/tokens")
	}
	ctx := r.Context()
	t, err := s.store.GetToken(ctx, HashSecret(tok))
	if errors.Is(err, store.ErrNotFound) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "invalid or revoked token")
	}
	if err != nil {
		return fmt.Errorf("look up token: %w", err)
	}
	now := s.now()
	if !now.Before(t.ExpiresAt) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "token expired at %s; exchange the API key again", t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	// Tokens of a revoked key are deleted on revocation; checking the key
	// as well keeps revocation immediate even if that delete was missed.
	k, err := s.store.GetAPIKey(ctx, t.KeyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.RevokedAt.IsZero()) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "invalid or revoked token")
	}
	if err != nil {
		return fmt.Errorf("look up api key: %w", err)
	}
	return s.authorizeUser(ctx, rt, c, t.UserID, k.ID)
}

// authorizeUser finishes authorize for the user with id userID (acting
// through API key keyID, or "" for a browser session): the user must be
// usable and hold one of the route's privileges.
func (s *Server) authorizeUser(ctx context.Context, rt *route, c *caller, userID, keyID string) error {
	now := s.now()
	u, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "invalid or revoked token")
	}
	if err != nil {
		return fmt.Errorf("look up token user: %w", err)
	}
	if reason := unusable(u, now); reason != "" {
		c.User = u
		return errf(http.StatusUnauthorized, CodeUnauthorized, "token user %s %s", u.Username, reason)
	}
	privs, mayGrant, err := s.holdings(ctx, s.store, u)
	if err != nil {
		return err
	}
	c.User, c.Privs, c.KeyID = u, privs, keyID
	c.MayGrant = mayGrant
	if len(rt.Privs) > 0 && !slices.ContainsFunc(rt.Privs, c.has) {
		return errf(http.StatusForbidden, CodeForbidden, "%s requires privilege %s", rt.Name, strings.Join(rt.Privs, " or "))
	}
	return nil
}

// unusable says why a user may not act at all, or "" when it may.
func unusable(u store.User, now time.Time) string {
	switch {
	case u.State != store.StateActive:
		return "is inactive"
	case u.Emergency && !u.ExpiresAt.IsZero() && !now.Before(u.ExpiresAt):
		return "(emergency account) has expired"
	case !u.AccountExpiresAt.IsZero() && !now.Before(u.AccountExpiresAt):
		return "has expired"
	}
	return ""
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// effective is what u holds (package privilege decides: superuser, custom
// set, profile, nothing).
func (s *Server) effective(ctx context.Context, rd store.Reader, u store.User) (privilege.Set, error) {
	privs, _, err := s.holdings(ctx, rd, u)
	return privs, err
}

// holdings is what u holds and, when its profile says so, the privileges
// it may grant to others (nil: what it holds).
func (s *Server) holdings(ctx context.Context, rd store.Reader, u store.User) (privilege.Set, []string, error) {
	var prof *store.Profile
	if u.Profile != "" && !u.Superuser && u.CustomPrivileges == nil {
		p, err := rd.GetProfile(ctx, u.Profile)
		switch {
		case err == nil:
			prof = &p
		case errors.Is(err, store.ErrNotFound):
			// A dangling profile name grants nothing rather than failing.
		default:
			return nil, nil, fmt.Errorf("privileges of %s: profile %q: %w", u.Username, u.Profile, err)
		}
	}
	var mayGrant []string
	if prof != nil {
		mayGrant = prof.MayGrant
	}
	return s.privs.Effective(u, prof), mayGrant, nil
}

// checkGrant refuses to let c hand out privileges it may not grant: those
// it does not hold itself, or with a may_grant profile those not listed,
// unless it holds grant_all (a superuser holds every privilege).
func (s *Server) checkGrant(c *caller, privs []string, field string) error {
	missing := privilege.CanGrant(c.grantable(), privilege.NewSet(privs...))
	if len(missing) == 0 {
		return nil
	}
	c.detail("missing_privileges", []string(missing))
	e := errf(http.StatusForbidden, CodeEscalation, "you may not grant: %s", missing)
	e.E.Field = field
	return e
}

// sourceIP is the client address by the one rule of internal/clientip:
// the peer, or the right-most untrusted X-Forwarded-For hop (over every
// header line) when the peer is a trusted proxy. A peer that is no address
// at all (a test's pipe, a unix socket) is recorded as given.
func (s *Server) sourceIP(r *http.Request) string {
	if a := clientip.FromRequest(r, s.proxies); a.IsValid() {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit records a successful change inside tx, so the change and its
// record commit together.
func (s *Server) audit(ctx context.Context, tx store.Tx, c *caller, action string) error {
	e := &store.AuditEvent{
		Time: s.now().UTC(), Actor: c.actor(), Action: action, Target: c.target,
		Outcome: store.OutcomeSuccess, SourceIP: c.IP, Details: c.details,
	}
	if err := tx.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	c.audited = true
	return nil
}

func (s *Server) auditFailure(ctx context.Context, c *caller, action, outcome, reason string) error {
	// The request context may be cancelled already; the record must still
	// be written.
	ctx = context.WithoutCancel(ctx)
	return s.store.Tx(ctx, func(tx store.Tx) error {
		return tx.AppendAudit(ctx, &store.AuditEvent{
			Time: s.now().UTC(), Actor: c.actor(), Action: action, Target: c.target,
			Outcome: outcome, Reason: reason, SourceIP: c.IP, Details: c.details,
		})
	})
}

// tx runs fn in a transaction whose success is audited as action.
func (s *Server) tx(ctx context.Context, c *caller, action string, fn func(store.Tx) error) error {
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, action)
	})
	if err != nil {
		c.audited = false // rolled back with the change
	}
	return err
}

// storeErr maps store sentinels to API errors.
func storeErr(err error, kind, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(kind, name)
	case errors.Is(err, store.ErrConflict):
		return errf(http.StatusConflict, CodeConflict, "%s %q: conflicting change (taken, or changed meanwhile); reload and retry", kind, name)
	}
	return err
}

func (s *Server) known(name string) bool {
	_, ok := s.privs.Lookup(name)
	return ok
}
