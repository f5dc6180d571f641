package sso

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// PasswordHasher hashes and verifies local passwords (argon2id, bounded in
// concurrency: *password.Hasher from internal/password satisfies it).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify returns nil on a match and an error wrapping
	// password.ErrMismatch on a wrong password. Any other error — a
	// malformed hash, a cancelled context — is no verdict.
	Verify(ctx context.Context, encoded, password string) error
}

// PasswordChecker checks a directory user's password by binding as them
// (*ldap.Source from sync/ldap satisfies it). Its errors, told apart with
// errors.Is: directory.ErrInvalidCredentials is a wrong password (counts
// toward lock-out); directory.ErrPasswordExpired and
// directory.ErrMustChangePassword mean the password was right but must be
// changed (the change path); directory.ErrUnavailable (or a network or
// context error) is an outage, which never counts; anything else is a
// refusal (disabled, account expired, locked in AD, ...) shown as the
// generic failure and audited with its reason.
//
// LookupAccount reads the account's live state for a sign-in that proves
// nothing to the directory (a client certificate): directory.ErrNoSuchUser
// when no entry with the account's anchor has its name, an outage as for
// Authenticate.
type PasswordChecker interface {
	Authenticate(ctx context.Context, acct directory.Account, password string) (directory.User, error)
	LookupAccount(ctx context.Context, acct directory.Account) (directory.User, error)
}

// PasswordChanger writes a user's new password to their directory
// (*ldap.Source: AD unicodePwd delete/add, LDAP Password Modify).
// directory.ErrInvalidCredentials means a wrong old password;
// directory.ErrPasswordPolicy carries the directory's refusal, shown to the
// user.
type PasswordChanger interface {
	ChangePassword(ctx context.Context, acct directory.Account, oldPassword, newPassword string) error
}

// Provisioner creates a local user just in time for an IdP identity that
// matched nobody (mapping the IdP's groups through the mapping rules).
// nil in Options means JIT creation is off, the default.
type Provisioner interface {
	Provision(ctx context.Context, id Identity) (store.User, error)
}

// Throttle limits password attempts per source IP (token bucket), slowing
// password spraying across many usernames.
type Throttle struct {
	PerMinute float64 // 0 disables the throttle
	Burst     int
	// IPv6Prefix is the prefix length IPv6 sources are keyed by, here and
	// in the reset limiter (default 64); IPv4 sources by address.
	IPv6Prefix int
	// Shared keeps the throttle's and the reset limiter's counters in the
	// store (its ephemeral table) rather than in memory, so replicas that
	// share a PostgreSQL database share one budget.
	Shared bool
}

// Cookie configures the session cookie and timeouts.
type Cookie struct {
	// Name defaults to dirbridge_session; over HTTPS it is prefixed __Host-.
	Name            string
	IdleTimeout     time.Duration // default 30m
	AbsoluteTimeout time.Duration // default 12h
}

// Options configures a Service.
type Options struct {
	Store  store.Store
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PublicURL is the externally visible base URL (https://sso.example.com);
	// it decides Secure/__Host- cookies and builds the login URL.
	PublicURL string
	// Enforce makes SSO the only way in except the bypass path.
	Enforce bool
	// Methods are the configured IdPs (sso/saml, sso/oidc).
	Methods []RedirectMethod

	// Hasher hashes and verifies local users' passwords.
	Hasher PasswordHasher
	// Directories check directory users' passwords, by User.Source.
	Directories map[string]PasswordChecker
	// Changers write directory users' new passwords, by User.Source.
	Changers map[string]PasswordChanger
	// Password is the local password policy; the zero value asks for at
	// least 9 characters, keeps no history and never expires.
	Password policy.PasswordPolicy

	// MatchKeys is the order IdP identities are matched to local users:
	// upn, email, immutable_id, username, nameid (the default, in that order).
	MatchKeys []string
	// JIT creates unknown IdP users; nil (the default) refuses them.
	JIT Provisioner
	// IdleDeactivation, when positive, deactivates users that exist only
	// through an IdP (store.SourceIdP) once they have not signed in there
	// for this long (checked hourly by Run; see deactivateIdle).
	IdleDeactivation time.Duration

	// Catalogue resolves effective privileges, the application's included;
	// nil means the built-in privileges only.
	Catalogue *privilege.Catalogue
	// IPRules are the IP authorisation rules, applied to every method.
	IPRules []policy.IPRule
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Lockout        policy.LockoutPolicy
	Throttle       Throttle
	// ExpiryWarnDays is the password-expiry warning window (default 7;
	// negative never warns).
	ExpiryWarnDays int
	// DirectoryWarnDays overrides ExpiryWarnDays for the users of a
	// directory, by User.Source (directories[].password_warning_days);
	// 0 there means the default, negative never warns.
	DirectoryWarnDays map[string]int
	// TimeZone is where "days left" are counted (default UTC).
	TimeZone *time.Location
	// ConcurrentLicences refuses the N+1th simultaneously signed-in user;
	// 0 means unlimited.
	ConcurrentLicences int

	Cookie Cookie
	// VerifyCacheTTL is how long /auth/verify trusts a session it read
	// (default 2s): the longest a revocation on another replica takes to
	// bite. Logout on this replica is immediate.
	VerifyCacheTTL time.Duration
	// AllowedReturnHosts are hosts besides PublicURL's that return URLs
	// may point at (the applications behind forward auth).
	AllowedReturnHosts []string
	// ResetMailer enables the forgotten-password flow for local users
	// (/password/forgot); nil means off. ResetTTL is how long a link
	// works (default 30 minutes).
	ResetMailer ResetMailer
	ResetTTL    time.Duration
	// ResetPerHour bounds reset requests per source address and per
	// account name (policy.password_reset.per_hour); 0 means no bound
	// besides Throttle. Over it, the answer is the same and no mail goes.
	ResetPerHour int
	// ClientCert enables certificate sign-in at /login/certificate; nil
	// means off.
	ClientCert *ClientCert
	// Registerer receives the sign-in metrics; nil means none.
	Registerer prometheus.Registerer
}

// Service is the sign-in surface: an http.Handler serving /login,
// /logout, /auth/verify, /api/v1/me, /password/change and the redirect
// methods' endpoints, and the one Finisher those methods end in.
//
// Inside, it is split by domain, each part mounting its own routes (as
// dex's server/ is): sessions (session.go: cookie, session reads, forward
// auth, /api/v1/me, logout), passwords (password.go: the login form, the
// open and bypass paths, lock-out), changes (change.go, reset.go: the
// change form, forgotten password, reset link), certs (cert.go) and the
// finisher (finish.go: resolve, the gate's verdict, the session
// transaction). What they share — configuration, store, pages, audit,
// refusals — is the core. The Service itself keeps the public API and
// the lifecycle (New, Run, reloads).
type Service struct {
	*core
	mux   *http.ServeMux
	sess  *sessions
	fin   *finisher
	pw    *passwords
	chg   *changes
	certs *certs
	// started is set once Run has started every method.
	started atomic.Bool
}

// core is what every part of the Service shares.
type core struct {
	opts      Options
	store     store.Store
	log       *zap.Logger
	now       func() time.Time
	public    *url.URL
	secure    bool
	cookie    string
	pages     *template.Template
	cache     *sessionCache
	throttle  *ipThrottle
	resets    *resetLimiter
	metrics   *metrics
	allowed   []string
	dummyHash string
	// timer pads refused password sign-ins (timing.go).
	timer failureTimer
	// ipRules is Options.IPRules, replaced whole by SetIPRules (SIGHUP)
	// while sign-ins read it.
	ipRules atomic.Pointer[[]policy.IPRule]
	// pol are the reloadable policies (policies.go), replaced whole.
	pol atomic.Pointer[Policies]
	// negotiator, when set, answers GET /login (negotiate.go).
	negotiator Negotiator
	// revoke checks client certificates' revocation; nil when off.
	revoke *revocation
}

var _ Finisher = (*Service)(nil)

// New checks opts, applies defaults and builds the Service.
func New(opts Options) (*Service, error) {
	var problems []string
	if opts.Store == nil {
		problems = append(problems, "store is required")
	}
	if opts.Hasher == nil {
		problems = append(problems, "hasher is required")
	}
	pub, err := url.Parse(opts.PublicURL)
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		problems = append(problems, fmt.Sprintf("public URL %q must be an absolute http(s) URL", opts.PublicURL))
	} else if pub.Scheme != "https" && pub.Scheme != "http" {
		problems = append(problems, fmt.Sprintf("public URL %q: scheme must be http or https", opts.PublicURL))
	}
	for _, k := range opts.MatchKeys {
		if !validMatchKey(k) {
			problems = append(problems, fmt.Sprintf("match key %q is not one of upn, email, immutable_id, username, nameid", k))
		}
	}
	if opts.ClientCert != nil && opts.ClientCert.CAs == nil {
		problems = append(problems, "client certificate sign-in needs CAs")
	}
	if opts.ClientCert != nil {
		for _, k := range opts.ClientCert.MapBy {
			if k != "upn" && k != "email" && k != "cn" {
				problems = append(problems, fmt.Sprintf("client certificate map_by %q is not one of upn, email, cn", k))
			}
		}
	}
	revoke, err := newRevocation(opts.ClientCert)
	if err != nil {
		problems = append(problems, "client certificate revocation: "+err.Error())
	}
	if opts.ConcurrentLicences < 0 {
		problems = append(problems, "concurrent licences must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sso: %s", strings.Join(problems, "; "))
	}

	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.MatchKeys) == 0 {
		opts.MatchKeys = []string{KeyUPN, KeyEmail, KeyImmutableID, KeyUsername, KeyNameID}
	}
	if opts.TimeZone == nil {
		opts.TimeZone = time.UTC
	}
	if opts.ExpiryWarnDays == 0 {
		opts.ExpiryWarnDays = 7
	}
	if opts.Cookie.Name == "" {
		opts.Cookie.Name = "dirbridge_session"
	}
	if opts.Cookie.IdleTimeout <= 0 {
		opts.Cookie.IdleTimeout = 30 * time.Minute
	}
	if opts.Cookie.AbsoluteTimeout <= 0 {
		opts.Cookie.AbsoluteTimeout = 12 * time.Hour
	}
	if opts.VerifyCacheTTL == 0 {
		opts.VerifyCacheTTL = 2 * time.Second
	}

	s := &Service{core: &core{
		opts:    opts,
		store:   opts.Store,
		log:     opts.Logger.Named("sso"),
		now:     opts.Now,
		public:  pub,
		secure:  pub.Scheme == "https",
		cache:   newSessionCache(),
		allowed: append([]string{pub.Host}, opts.AllowedReturnHosts...),
	}}
	s.cookie = opts.Cookie.Name
	s.sess = &sessions{core: s.core}
	s.fin = &finisher{core: s.core, sess: s.sess}
	s.pw = &passwords{core: s.core, sess: s.sess, fin: s.fin}
	s.chg = &changes{core: s.core, sess: s.sess, fin: s.fin, pw: s.pw}
	s.fin.offerChange = s.chg.offerChange
	s.certs = &certs{core: s.core, fin: s.fin}
	s.revoke = revoke
	s.SetIPRules(opts.IPRules)
	var usernames policy.UsernamePolicy
	if j, ok := opts.JIT.(*JIT); ok {
		usernames = j.Usernames
	}
	s.pol.Store(&Policies{Password: opts.Password, Lockout: opts.Lockout, Usernames: usernames, ResetTTL: opts.ResetTTL})
	if s.secure {
		// __Host- pins the cookie to this host, Path=/ and Secure: no
		// sibling subdomain can set or overwrite it.
		s.cookie = "__Host-" + opts.Cookie.Name
	}
	s.throttle = newIPThrottle(opts.Throttle, opts.Now)
	s.resets = newResetLimiter(opts.ResetPerHour, opts.Throttle.IPv6Prefix, opts.Now)
	if opts.Throttle.Shared {
		s.shareLimits()
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("sso: %w", err)
	}
	if s.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("sso: %w", err)
	}
	// A hash to verify against when the user is unknown or locked, so the
	// answer takes as long as for a real wrong password.
	hashStart := time.Now()
	if s.dummyHash, err = opts.Hasher.Hash(context.Background(), "dirbridge-timing-equaliser"); err != nil {
		return nil, fmt.Errorf("sso: prepare dummy hash: %w", err)
	}
	// Hashing costs about what verifying does: the first estimate of a
	// local check, before any sign-in.
	s.timer.observe(kindLocal, time.Since(hashStart))
	s.routes()
	return s, nil
}

func (s *Service) routes() {
	mux := http.NewServeMux()
	// Cross-origin protection guards our own state-changing forms only: the
	// SAML ACS is a legitimate cross-site POST from the IdP.
	cop := http.NewCrossOriginProtection()
	s.sess.routes(mux, cop)
	s.pw.routes(mux, cop)
	s.chg.routes(mux, cop)
	s.certs.routes(mux)
	for _, m := range s.opts.Methods {
		m.Routes(mux)
	}
	s.mux = mux
}

// AddMethod adds a redirect method after New, for methods that need the
// Service as their Finisher when they are built (sso/saml, sso/oidc):
//
//	svc, _ := sso.New(opts)
//	sp, _ := saml.New(saml.Options{Finisher: svc, ...})
//	svc.AddMethod(sp)
//
// Call it before the Service serves requests and before Run.
func (s *Service) AddMethod(m RedirectMethod) {
	s.opts.Methods = append(s.opts.Methods, m)
	m.Routes(s.mux)
}

// Started reports whether Run has started every redirect method (IdP
// metadata loaded, discovery done): readiness for the daemon's /readyz.
// A Service without redirect methods has nothing to start.
func (s *Service) Started() bool { return s.started.Load() || len(s.opts.Methods) == 0 }

// SetIPRules replaces the IP authorisation rules; sign-ins already past
// the check are not affected. Safe while serving (the daemon's reload).
func (s *Service) SetIPRules(rules []policy.IPRule) {
	rules = slices.Clone(rules)
	s.ipRules.Store(&rules)
}

// IPRules returns the IP authorisation rules in force.
func (s *Service) IPRules() []policy.IPRule { return slices.Clone(*s.ipRules.Load()) }

// warnDays is the expiry warning window for u: its directory's, else the
// global one.
func (s *core) warnDays(u store.User) int {
	if d, ok := s.opts.DirectoryWarnDays[u.Source]; ok && d != 0 {
		return d
	}
	return s.opts.ExpiryWarnDays
}

// ServeHTTP serves the sign-in endpoints. The daemon mounts the Service at
// "/" of its public mux and registers "GET /api/v1/me" to it as well, so
// the admin API's "/api/v1/" does not shadow it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Run starts the redirect methods (metadata, discovery) and removes expired
// sessions every few minutes until ctx ends. A method that fails to start
// is an error: the daemon should not serve a login button that cannot work.
func (s *Service) Run(ctx context.Context) error {
	for _, m := range s.opts.Methods {
		if err := m.Start(ctx); err != nil {
			return fmt.Errorf("sso: start %s: %w", m.Name(), err)
		}
	}
	s.started.Store(true)
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	var idleChecked time.Time
	for {
		if s.opts.IdleDeactivation > 0 && s.now().Sub(idleChecked) >= time.Hour {
			idleChecked = s.now()
			if _, err := s.DeactivateIdle(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("idle deactivation of IdP-only users", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

func (s *Service) sweep(ctx context.Context) {
	var n int
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredSessions(ctx, s.now())
		return err
	})
	if err != nil {
		s.log.Warn("remove expired sessions", zap.Error(err))
		return
	}
	if n > 0 {
		s.log.Debug("removed expired sessions", zap.Int("count", n))
	}
	s.cache.prune(s.now(), s.opts.VerifyCacheTTL)
	s.throttle.prune()
	s.resets.prune()
}

// loginURL is the absolute login URL carrying returnTo.
func (s *core) loginURL(returnTo string) string {
	u := *s.public
	u.Path = strings.TrimSuffix(u.Path, "/") + "/login"
	if returnTo != "" && returnTo != "/" {
		u.RawQuery = url.Values{"return_to": {returnTo}}.Encode()
	}
	return u.String()
}
