package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/oidc"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/sso/saml"
	"github.com/dirbridge/dirbridge/store"
)

// PublicURL is server.public_url, or — when it is unset — a URL on the
// listen address (https when dirbridge terminates TLS). The fallback is
// fine for a first start on one host and wrong behind a proxy; fellBack
// tells the caller to warn.
func PublicURL(cfg *config.Config) (url string, fellBack bool) {
	if cfg.Server.PublicURL != "" {
		return strings.TrimSuffix(cfg.Server.PublicURL, "/"), false
	}
	host := cfg.Server.Listen
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	scheme := "http"
	if cfg.Server.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + host, true
}

// IPRules parses policy.ip_rules (Validate has checked them; a rule that
// still fails to parse is an error, never skipped: skipping a deny rule
// would open what it closes).
func IPRules(cfg *config.Config) ([]policy.IPRule, error) {
	out := make([]policy.IPRule, 0, len(cfg.Policy.IPRules))
	for i, r := range cfg.Policy.IPRules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("rule %d", i+1)
		}
		pr, err := policy.ParseIPRule(name, r.IsActive(), r.Effect, r.Addresses, r.Profiles, r.Units)
		if err != nil {
			return nil, fmt.Errorf("policy.ip_rules[%d]: %w", i, err)
		}
		out = append(out, pr)
	}
	return out, nil
}

// PasswordPolicy is policy.password for local users.
func PasswordPolicy(cfg *config.Config) policy.PasswordPolicy {
	p := cfg.Policy.Password
	return policy.PasswordPolicy{MinLength: p.MinLength, MinLetters: p.MinLetters, MinDigits: p.MinDigits, MinOther: p.MinOther,
		History: p.History, ValidityDays: p.ValidityDays, NeverExpireUsers: slices.Clone(p.NeverExpireUsers)}
}

// ClientCert is certificate sign-in from policy.client_cert; nil when it
// is off.
func ClientCert(cfg *config.Config) (*sso.ClientCert, error) {
	cc := cfg.Policy.ClientCert
	if !cc.Enabled {
		return nil, nil
	}
	pool, err := certPool(cc.CAFile)
	if err != nil {
		return nil, fmt.Errorf("policy.client_cert.ca_file: %w", err)
	}
	out := &sso.ClientCert{CAs: pool, MapBy: []string{cc.MapBy}, Header: cc.Header, CRLFiles: cc.CRLFiles}
	if cc.OCSP {
		out.OCSP = &sso.OCSP{Timeout: cc.OCSPTimeout}
	}
	return out, nil
}

// ServerTLS is the listener's TLS configuration from server.tls; nil when
// dirbridge does not terminate TLS. When client-certificate sign-in is on
// (or server.tls.client_ca_file is set) the handshake asks for a client
// certificate and verifies any given against that CA; not giving one is
// fine, since most visitors sign in otherwise. sso re-checks the chain
// with its own clock and maps it to a user.
func ServerTLS(cfg *config.Config) (*tls.Config, error) {
	t := cfg.Server.TLS
	if !t.Enabled() {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	caFile := t.ClientCAFile
	if cfg.Policy.ClientCert.Enabled && cfg.Policy.ClientCert.CAFile != "" {
		caFile = cfg.Policy.ClientCert.CAFile
	}
	if caFile != "" {
		pool, err := certPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate CA: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

func certPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, errors.New("no CA file configured")
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// DirectoryWarnDays is every directory's password_warning_days, by name.
func DirectoryWarnDays(cfg *config.Config) map[string]int {
	out := make(map[string]int, len(cfg.Directories))
	for _, d := range cfg.Directories {
		out[d.Name] = d.PasswordWarningDays
	}
	return out
}

// SSOOptions converts the config's sign-in settings into sso.Options. The
// caller adds what has runtime state: Store, Logger, Hasher, Directories,
// Changers, Catalogue, Registerer and (with ResetMailer) the mailer.
func SSOOptions(cfg *config.Config) (sso.Options, error) {
	pub, _ := PublicURL(cfg)
	rules, err := IPRules(cfg)
	if err != nil {
		return sso.Options{}, err
	}
	cc, err := ClientCert(cfg)
	if err != nil {
		return sso.Options{}, err
	}
	loc, err := cfg.Expiry.Location()
	if err != nil {
		return sso.Options{}, fmt.Errorf("expiry.time_zone %q: %w", cfg.Expiry.TimeZone, err)
	}
	s := cfg.SSO
	opts := sso.Options{
		PublicURL:        pub,
		Enforce:          s.Enforce,
		Password:         PasswordPolicy(cfg),
		MatchKeys:        slices.Clone(s.MatchBy),
		IdleDeactivation: s.IdleDeactivation,
		IPRules:          rules,
		TrustedProxies:   cfg.Server.TrustedProxyPrefixes(),
		Lockout:          policy.LockoutPolicy{MaxAttempts: cfg.Policy.Lockout.MaxAttempts, Within: cfg.Policy.Lockout.Within, LockFor: cfg.Policy.Lockout.LockFor},
		Throttle: sso.Throttle{PerMinute: cfg.Policy.Throttle.PerMinute, Burst: cfg.Policy.Throttle.Burst,
			IPv6Prefix: cfg.Policy.Throttle.IPv6Prefix,
			// Replicas share PostgreSQL, so they share the counters too;
			// SQLite has one daemon and keeps them in memory.
			Shared: cfg.Store.Driver == config.DriverPostgres},
		DirectoryWarnDays:  DirectoryWarnDays(cfg),
		TimeZone:           loc,
		ConcurrentLicences: cfg.Licenses.Concurrent,
		Cookie: sso.Cookie{Name: s.Sessions.CookieName, IdleTimeout: s.Sessions.IdleTimeout,
			AbsoluteTimeout: s.Sessions.AbsoluteTimeout},
		VerifyCacheTTL:     s.Sessions.VerifyCache,
		AllowedReturnHosts: slices.Clone(s.AllowedRedirectHosts),
		ResetTTL:           cfg.Policy.PasswordReset.TokenTTL,
		ResetPerHour:       cfg.Policy.PasswordReset.PerHour,
		ClientCert:         cc,
	}
	return opts, nil
}

// SAML builds the SAML service provider from sso.saml; nil when it is not
// configured. Its finish step is set when the sso.Service exists
// (SetFinisher); IdP metadata is fetched when the Service runs.
func SAML(cfg *config.Config, st saml.Store, logger *zap.Logger) (*saml.ServiceProvider, error) {
	c := cfg.SSO.SAML
	if c == nil {
		return nil, nil
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	pub, _ := PublicURL(cfg)
	attrs, err := saml.AttributesFromMap(c.Claims)
	if err != nil {
		return nil, fmt.Errorf("sso.saml.claims: %w", err)
	}
	attrs.EmailVerified = c.EmailVerified
	opts := saml.Options{
		Label:                c.Label,
		PublicURL:            pub,
		EntityID:             c.EntityID,
		Preset:               c.Preset,
		Attributes:           attrs,
		NameIDFormat:         c.NameIDFormat,
		IDPMetadataURL:       c.IDPMetadataURL,
		IDPMetadataFile:      c.IDPMetadataFile,
		MetadataRefresh:      c.MetadataRefresh,
		SignRequests:         c.SignRequests,
		AllowIDPInitiated:    c.AllowIDPInitiated,
		RequireEncryption:    c.RequireEncryption,
		AllowCBCEncryption:   c.AllowCBCEncryption,
		ClockSkew:            c.ClockSkew,
		AllowedRedirectHosts: slices.Clone(cfg.SSO.AllowedRedirectHosts),
		Store:                st,
		Logger:               logger,
	}
	for i, f := range c.IDPCertSHA256 {
		fp, err := policy.ParseSHA256Fingerprint(f)
		if err != nil {
			return nil, fmt.Errorf("sso.saml.idp_cert_sha256[%d]: %w", i, err)
		}
		opts.IDPCertSHA256 = append(opts.IDPCertSHA256, fp)
	}
	if c.CertFile != "" || c.KeyFile != "" {
		certPEM, err := os.ReadFile(c.CertFile)
		if err != nil {
			return nil, fmt.Errorf("sso.saml.cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sso.saml.key_file: %w", err)
		}
		if opts.Key, opts.Certificate, err = saml.ParseKeyPair(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("sso.saml: %w", err)
		}
	}
	sp, err := saml.New(opts)
	if err != nil {
		return nil, fmt.Errorf("sso.saml: %w", err)
	}
	return sp, nil
}

// SAMLMetadata is the SP metadata dirbridge serves at /saml/metadata, made
// from the config alone (no store, no IdP): what an IdP administrator
// needs before the daemon can start against their IdP.
func SAMLMetadata(cfg *config.Config) ([]byte, error) {
	if cfg.SSO.SAML == nil {
		return nil, errors.New("sso.saml is not configured")
	}
	sp, err := SAML(cfg, refuseStore{}, nil)
	if err != nil {
		return nil, err
	}
	return sp.MetadataXML()
}

// refuseStore backs an SP that only renders metadata.
type refuseStore struct{}

var errNoStore = errors.New("no store: metadata only")

func (refuseStore) RecordOnce(context.Context, string, string, time.Time) error { return errNoStore }
func (refuseStore) PutEphemeral(context.Context, string, string, []byte, time.Time) error {
	return errNoStore
}
func (refuseStore) TakeEphemeral(context.Context, string, string) ([]byte, error) {
	return nil, errNoStore
}

// OIDC builds the OpenID Connect relying party from sso.oidc; nil when it
// is not configured. Discovery happens when the sso.Service runs.
func OIDC(cfg *config.Config, st oidc.Store, logger *zap.Logger) (*oidc.RelyingParty, error) {
	c := cfg.SSO.OIDC
	if c == nil {
		return nil, nil
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	pub, _ := PublicURL(cfg)
	claims, err := oidc.ClaimsFromMap(c.Claims)
	if err != nil {
		return nil, fmt.Errorf("sso.oidc.claims: %w", err)
	}
	// oidc always asks for openid; the config's default list names it
	// too, and a scope sent twice is untidy at best.
	scopes := slices.DeleteFunc(slices.Clone(c.Scopes), func(s string) bool { return s == "openid" })
	rp, err := oidc.New(oidc.Options{
		Label:                c.Label,
		PublicURL:            pub,
		Issuer:               c.Issuer,
		RedirectURL:          c.RedirectURL,
		ClientID:             c.ClientID,
		ClientSecret:         c.ClientSecret.Value(),
		Scopes:               scopes,
		Preset:               c.Preset,
		Claims:               claims,
		TenantID:             c.TenantID,
		AllowedAlgs:          slices.Clone(c.AllowedAlgs),
		UserInfo:             c.Userinfo,
		GraphGroups:          c.GraphGroups,
		GraphBaseURL:         c.GraphURL,
		AllowedRedirectHosts: slices.Clone(cfg.SSO.AllowedRedirectHosts),
		Store:                st,
		Logger:               logger,
	})
	if err != nil {
		return nil, fmt.Errorf("sso.oidc: %w", err)
	}
	return rp, nil
}

// SSODeps are the runtime parts of the sign-in service the config cannot
// describe.
type SSODeps struct {
	Store       store.Store
	Logger      *zap.Logger
	Hasher      sso.PasswordHasher
	Directories map[string]sso.PasswordChecker
	Changers    map[string]sso.PasswordChanger
	// Extend, when set, adjusts the options last (catalogue, metrics).
	Extend func(*sso.Options)
}

// SSO builds the sign-in service with the configured SAML, OIDC and
// Kerberos methods, each finishing through it, the forgotten-password mailer when
// policy.password_reset.enabled and just-in-time creation when sso.jit. Run the Service to start the
// methods (IdP metadata, discovery).
func SSO(cfg *config.Config, deps SSODeps) (*sso.Service, error) {
	logger := deps.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	opts, err := SSOOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.Store, opts.Logger, opts.Hasher = deps.Store, logger, deps.Hasher
	opts.Directories, opts.Changers = deps.Directories, deps.Changers
	if cfg.Policy.PasswordReset.Enabled {
		m, err := ResetMailer(cfg)
		if err != nil {
			return nil, err
		}
		opts.ResetMailer = m
	}
	if cfg.SSO.JIT {
		j, err := sso.NewJIT(deps.Store, GlobalRules(cfg), UsernamePolicy(cfg))
		if err != nil {
			return nil, err
		}
		opts.JIT = j
	}
	if deps.Extend != nil {
		deps.Extend(&opts)
	}
	sp, err := SAML(cfg, deps.Store, logger)
	if err != nil {
		return nil, err
	}
	rp, err := OIDC(cfg, deps.Store, logger)
	if err != nil {
		return nil, err
	}
	krb, err := Kerberos(cfg, deps.Store, logger)
	if err != nil {
		return nil, err
	}
	svc, err := sso.New(opts)
	if err != nil {
		return nil, err
	}
	// The same policies a reload would set, so a reload logs true changes.
	svc.SetPolicies(SignInPolicies(cfg))
	// The methods finish through the Service, which exists only now.
	if sp != nil {
		sp.SetFinisher(svc)
		svc.AddMethod(sp)
	}
	if rp != nil {
		rp.SetFinisher(svc)
		svc.AddMethod(rp)
	}
	if krb != nil {
		krb.SetFinisher(svc)
		svc.AddMethod(krb)
		if cfg.SSO.Kerberos.OnLogin {
			svc.SetNegotiator(krb)
		}
	}
	return svc, nil
}

// ResetMailer delivers forgotten-password links over the configured SMTP
// relay with the expiry notices' mailer.
func ResetMailer(cfg *config.Config) (*ResetMail, error) {
	if cfg.SMTP.Host == "" {
		return nil, errors.New("policy.password_reset.enabled needs smtp.host")
	}
	m, err := Mailer(cfg)
	if err != nil {
		return nil, fmt.Errorf("password reset: %w", err)
	}
	loc, err := cfg.Expiry.Location()
	if err != nil {
		return nil, fmt.Errorf("expiry.time_zone %q: %w", cfg.Expiry.TimeZone, err)
	}
	return &ResetMail{Mailer: m, From: cfg.SMTP.From, Location: loc}, nil
}

// ResetMail adapts an expiry.Mailer to sso.ResetMailer: one plain-text
// message holding the link. Test mode (expiry.redirect_to) does not apply:
// a reset link is only of use to its owner.
type ResetMail struct {
	Mailer   expiry.Mailer
	From     string
	Location *time.Location
}

var _ sso.ResetMailer = (*ResetMail)(nil)

// SendPasswordReset sends u the link.
func (m *ResetMail) SendPasswordReset(ctx context.Context, u store.User, link string, expires time.Time) error {
	return m.send(ctx, u, "Reset your password", "password reset", "someone (we hope you) asked to reset the password of the account %[2]q.\n"+
		"To choose a new password, open this link:\n\n%[3]s\n\n"+
		"The link works once, until %[4]s. If you did not ask for this, ignore this message: your password stays as it is.\n",
		link, expires)
}

// SendInvitation sends a new local user the link to set their password.
func (m *ResetMail) SendInvitation(ctx context.Context, u store.User, link string, expires time.Time) error {
	return m.send(ctx, u, "Your new account: choose your password", "invitation", "an account %[2]q was created for you.\n"+
		"To choose your password, open this link:\n\n%[3]s\n\n"+
		"The link works once, until %[4]s. After that, use \"Forgotten password\" on the sign-in page.\n",
		link, expires)
}

// send mails u one plain-text message: a greeting, then body, whose
// verbs %[2]q, %[3]s and %[4]s are the username, the link and the expiry.
func (m *ResetMail) send(ctx context.Context, u store.User, subject, what, body, link string, expires time.Time) error {
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	text := fmt.Sprintf("Hello %[1]s,\n\n"+body, name, u.Username, link, expires.In(loc).Format("2 January 2006 15:04 MST"))
	msg := expiry.Message{From: m.From, To: []string{u.Email}, Subject: subject, Text: text}
	if err := m.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("%s mail to %s: %w", what, u.Username, err)
	}
	return nil
}

// GlobalRules are the mapping rules not limited to one directory: those
// that map an IdP's groups at first sign-in.
func GlobalRules(cfg *config.Config) []mapping.Rule {
	var rules []mapping.Rule
	for i, r := range cfg.Mapping.Rules {
		if r.Directory != "" {
			continue
		}
		rules = append(rules, mapping.Rule{Ref: fmt.Sprintf("rule %d", i+1), Name: r.Name, Group: r.Group,
			Profile: r.Profile, Units: slices.Clone(r.Units), Flags: maps.Clone(r.Flags)})
	}
	return rules
}

// UsernamePolicy is policy.username.
func UsernamePolicy(cfg *config.Config) policy.UsernamePolicy {
	u := cfg.Policy.Username
	return policy.UsernamePolicy{MinLength: u.MinLength, MinLetters: u.MinLetters, MinDigits: u.MinDigits, MinOther: u.MinOther}
}

// SignInPolicies are the sign-in policies a reload replaces (sso.Policies).
func SignInPolicies(cfg *config.Config) sso.Policies {
	l := cfg.Policy.Lockout
	return sso.Policies{Password: PasswordPolicy(cfg), Usernames: UsernamePolicy(cfg), ResetTTL: cfg.Policy.PasswordReset.TokenTTL,
		Lockout: policy.LockoutPolicy{MaxAttempts: l.MaxAttempts, Within: l.Within, LockFor: l.LockFor}}
}
