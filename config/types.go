package config

import (
	"net/netip"
	"time"
)

// Config is the whole of dirbridge's configuration. Field tags name the YAML
// keys; defaults live in defaults.go and the reference is
// docs/configuration.md. Every Secret field X also accepts X_file.
type Config struct {
	Server Server `yaml:"server"`
	Log    Log    `yaml:"log"`
	Store  Store  `yaml:"store"`
	// Privileges declares the application's own privileges; they are carried
	// through untouched next to the built-in ones in package privilege.
	Privileges  []AppPrivilege `yaml:"privileges"`
	Profiles    []Profile      `yaml:"profiles"`
	Directories []Directory    `yaml:"directories"`
	// Provisioning lists the SCIM 2.0 provisioning sources (provisioning.go).
	Provisioning []Provisioning `yaml:"provisioning"`
	Mapping      Mapping        `yaml:"mapping"`
	SSO          SSO            `yaml:"sso"`
	Licenses     Licenses       `yaml:"licenses"`
	Policy       Policy         `yaml:"policy"`
	Expiry       Expiry         `yaml:"expiry"`
	// SMTP is shared by the expiry notices and password-reset mails.
	SMTP      SMTP      `yaml:"smtp"`
	API       API       `yaml:"api"`
	Emergency Emergency `yaml:"emergency"`
	// Runtime is the process-wide memory policy the entry points
	// (dirbridge serve, dirbridge sync) apply; no package sets it.
	Runtime Runtime `yaml:"runtime"`
	// Tracing exports OpenTelemetry spans of sign-ins and sync runs; off
	// unless an endpoint is set.
	Tracing Tracing `yaml:"tracing"`

	// file and lines locate every decoded field for error messages.
	file  string
	lines map[string]int
}

// Server is the HTTP listener.
type Server struct {
	// Listen is the host:port to listen on.
	Listen string `yaml:"listen"`
	// PublicURL is the externally visible base URL (SAML ACS, OIDC redirect,
	// links in mails).
	PublicURL string    `yaml:"public_url"`
	TLS       ServerTLS `yaml:"tls"`
	// TrustedProxies are IPs or CIDRs whose X-Forwarded-For (and client
	// certificate header) are believed.
	TrustedProxies    []string      `yaml:"trusted_proxies"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included, so a
	// client trickling a body cannot hold a connection open.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds handling a request and writing its response.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// InternalListen, when set, is a second host:port serving /metrics,
	// /readyz and the admin API (/api/v1); the public listener then no
	// longer serves them (GET /api/v1/me with a session cookie stays).
	InternalListen string `yaml:"internal_listen"`
}

// TrustedProxyPrefixes returns TrustedProxies as prefixes, a single
// address becoming a /32 or /128. Validate has checked every entry; one that
// does not parse is skipped rather than trusted.
func (s Server) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.TrustedProxies))
	for _, p := range s.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(p); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// ServerTLS makes dirbridge terminate TLS itself.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, makes the server request client certificates
	// (verified against this CA) for certificate sign-in.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether dirbridge terminates TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// Log configures zap.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | console
	// File, when set, receives the daemon's logs instead of stderr (an
	// absolute path), rotated by size: the way to keep logs under the
	// Windows service manager, which discards stderr.
	File       string `yaml:"file"`
	MaxSizeMiB int    `yaml:"max_size_mib"` // rotate past this size
	MaxBackups int    `yaml:"max_backups"`  // rotated files kept
	MaxAgeDays int    `yaml:"max_age_days"` // rotated files older are removed; 0 = by count only
}

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Store selects the persistence backend.
type Store struct {
	Driver string `yaml:"driver"` // sqlite | postgres
	// DSN is the SQLite file path or the PostgreSQL connection string.
	DSN Secret `yaml:"dsn"`
	// MaxOpenConns bounds PostgreSQL connections (SQLite has one writer).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// AppPrivilege is a privilege of the application dirbridge serves.
type AppPrivilege struct {
	Name        string `yaml:"name"`
	Group       string `yaml:"group"`
	Description string `yaml:"description"`
	// Scoped privileges are granted with a reach (all, own teams,
	// assigned teams) in a profile.
	Scoped bool `yaml:"scoped"`
	// Requires names privileges a profile must also hold.
	Requires []string `yaml:"requires"`
}

// Profile is a named set of privileges, created or updated at start.
type Profile struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Privileges  []string `yaml:"privileges"`
}

// Directory kinds.
const (
	KindAD   = "ad"
	KindLDAP = "ldap"
)

// Link keys for matching imported users to existing local users.
const (
	LinkByUsername = "username"
	LinkByEmail    = "email"
	LinkByNone     = "none"
)

// Directory is one AD domain or LDAP directory to import from.
type Directory struct {
	// Name identifies the directory (users' Source); lower-case, unique.
	Name string `yaml:"name"`
	Kind string `yaml:"kind"` // ad | ldap
	// URLs are tried in order; a dead server fails over to the next.
	URLs               []string `yaml:"urls"`
	StartTLS           bool     `yaml:"start_tls"`
	CAFile             string   `yaml:"ca_file"`
	ClientCertFile     string   `yaml:"client_cert_file"`
	ClientKeyFile      string   `yaml:"client_key_file"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	// BindDN is a DN, or on AD also a UPN (svc@corp.example.com).
	BindDN       string `yaml:"bind_dn"`
	BindPassword Secret `yaml:"bind_password"`
	BaseDN       string `yaml:"base_dn"`
	UserBaseDN   string `yaml:"user_base_dn"`
	GroupBaseDN  string `yaml:"group_base_dn"`
	// Groups to import, each by DN, name (cn / sAMAccountName) or objectGUID.
	Groups []string `yaml:"groups"`
	// UserFilter is ANDed to the user search, e.g. (department=Sales).
	UserFilter string `yaml:"user_filter"`
	// DisabledFilter marks disabled users on generic LDAP (AD uses
	// userAccountControl), e.g. (pwdAccountLockedTime=*).
	DisabledFilter string `yaml:"disabled_filter"`
	// Attributes are extra attributes read for mapping templates.
	Attributes []string `yaml:"attributes"`
	PageSize   int      `yaml:"page_size"`
	// RangeSize asks AD for member;range=0-(n-1); 0 lets the server decide.
	RangeSize int `yaml:"range_size"`
	// Schedule is the incremental sync cron; FullSchedule the full one.
	// Empty disables that schedule.
	Schedule     string `yaml:"schedule"`
	FullSchedule string `yaml:"full_schedule"`
	SyncOnStart  bool   `yaml:"sync_on_start"`
	// IncrementalOverlap re-reads this much before the last modifyTimestamp
	// mark on generic LDAP, for clock skew between servers.
	IncrementalOverlap time.Duration    `yaml:"incremental_overlap"`
	MaxDeactivations   MaxDeactivations `yaml:"max_deactivations"`
	ConnectTimeout     time.Duration    `yaml:"connect_timeout"`
	ReadTimeout        time.Duration    `yaml:"read_timeout"`
	// Mapping holds rules and templates for this directory only; its rules
	// are tried before the global ones, its templates override them.
	Mapping DirectoryMapping `yaml:"mapping"`
	// DefaultProfile is given to imported users no rule gives a profile;
	// empty means no profile (signs in, holds no privileges).
	DefaultProfile string `yaml:"default_profile"`
	// LinkBy links an imported user to an existing local one.
	LinkBy string `yaml:"link_by"` // username | email | none
	// UserTemplate names the mapping.user_templates entry applied to users
	// created from this directory.
	UserTemplate string `yaml:"user_template"`
	// PasswordWarningDays is the sign-in "password expires in N days" window.
	PasswordWarningDays int `yaml:"password_warning_days"`
	// ReadPasswordExpiry reads AD's constructed
	// msDS-UserPasswordExpiryTimeComputed, which honours fine-grained password
	// policies; without it expiry is pwdLastSet + the domain's maxPwdAge. Off
	// by default because it is computed per entry (slow on some servers).
	// On generic LDAP it reads the password policy (ppolicy): the user's
	// pwdChangedTime plus the pwdMaxAge of the user's pwdPolicySubentry or
	// of PasswordPolicyDN.
	ReadPasswordExpiry bool `yaml:"read_password_expiry"`
	// PasswordPolicyDN is generic LDAP's default password policy entry,
	// for users without a pwdPolicySubentry of their own. The server's own
	// default (olcPPolicyDefault) sits in cn=config, which a service account
	// cannot read, so it is named here.
	PasswordPolicyDN string `yaml:"password_policy_dn"`
	// AllowPlainPassthrough permits pass-through password binds over ldap://
	// without StartTLS. Never needed with ldaps:// or start_tls.
	AllowPlainPassthrough bool `yaml:"allow_plain_passthrough"`
}

// IsAD reports whether the directory is Active Directory.
func (d Directory) IsAD() bool { return d.Kind == KindAD }

// MaxDeactivations refuses a run that would deactivate more users than
// Count, or more than Percent of the directory's users. There are no magic
// values: count 0 allows no deactivation, percent 100 turns that limit off.
type MaxDeactivations struct {
	Count   int     `yaml:"count"`
	Percent float64 `yaml:"percent"`
}

// DirectoryMapping is a directory's own rules and templates.
type DirectoryMapping struct {
	Rules     []Rule            `yaml:"rules"`
	Templates map[string]string `yaml:"templates"`
}

// Rule flags.
const (
	FlagSuperuser = "superuser"
)

// Rule maps membership of one group to a profile, units and flags. For the
// profile the first matching rule wins; units accumulate; flags are OR-ed.
type Rule struct {
	// Name is optional and shown in plans ("rule 2 (group CC-Supervisors)").
	Name string `yaml:"name"`
	// Group by DN, name or objectGUID; direct and nested membership match.
	Group string `yaml:"group"`
	// Directory limits a global rule to one directory.
	Directory string          `yaml:"directory"`
	Profile   string          `yaml:"profile"`
	Units     []string        `yaml:"units"`
	Flags     map[string]bool `yaml:"flags"`
}

// Template field names every config may set; Mapping.Fields adds more.
const (
	FieldUsername    = "username"
	FieldEmail       = "email"
	FieldDisplayName = "display_name"
	FieldFirstName   = "first_name"
	FieldLastName    = "last_name"
	FieldLanguage    = "language"
)

// User states for user templates.
const (
	StateActive   = "active"
	StateInactive = "inactive"
)

// Mapping holds the global rules, templates and user templates.
type Mapping struct {
	Rules []Rule `yaml:"rules"`
	// Templates build local fields from directory attributes (Go
	// text/template with the mapping package's helpers), keyed by field.
	Templates     map[string]string `yaml:"templates"`
	UserTemplates []UserTemplate    `yaml:"user_templates"`
	// Fields declares the application's extra user fields templates may fill.
	Fields []string `yaml:"fields"`
}

// UserTemplate holds defaults applied when a local user is created.
type UserTemplate struct {
	Name     string   `yaml:"name"`
	State    string   `yaml:"state"` // active | inactive
	Language string   `yaml:"language"`
	Units    []string `yaml:"units"`
	// Profile is used when no rule gives one.
	Profile string `yaml:"profile"`
	// EmailDomain completes an e-mail the templates leave empty
	// (username@email_domain).
	EmailDomain string `yaml:"email_domain"`
}

// IdP presets.
const (
	PresetAzureAD = "azuread"
	PresetOkta    = "okta"
	PresetGeneric = "generic"
)

// Matching keys from an IdP identity to a local user.
const (
	MatchUPN         = "upn"
	MatchEmail       = "email"
	MatchImmutableID = "immutable_id"
	MatchUsername    = "username"
	MatchNameID      = "nameid"
)

// SSO configures SAML and OIDC sign-in and sessions.
type SSO struct {
	// Enforce sends everyone to the IdP; password sign-in then needs the
	// bypass path and the bypass_sso privilege.
	Enforce bool `yaml:"enforce"`
	// SAML and OIDC are nil when not configured.
	SAML *SAML `yaml:"saml"`
	OIDC *OIDC `yaml:"oidc"`
	// MatchBy is the order of keys an IdP identity is matched to a local
	// (active) user by.
	MatchBy []string `yaml:"match_by"`
	// JIT creates unknown users at sign-in, mapping the IdP's groups claim
	// through the rules. Off by default.
	JIT bool `yaml:"jit"`
	// IdleDeactivation, when set, deactivates users that exist only through
	// the IdP (created by JIT) once they have not signed in there for this
	// long. Off (0) by default.
	IdleDeactivation time.Duration `yaml:"idle_deactivation"`
	// AllowedRedirectHosts may appear in RelayState / return URLs besides
	// relative paths; anything else falls back to "/".
	AllowedRedirectHosts []string `yaml:"allowed_redirect_hosts"`
	Sessions             Sessions `yaml:"sessions"`
}

// Claim keys a preset maps and Claims may override.
const (
	ClaimUsername    = "username"
	ClaimUPN         = "upn"
	ClaimEmail       = "email"
	ClaimImmutableID = "immutable_id"
	ClaimDisplayName = "display_name"
	ClaimFirstName   = "first_name"
	ClaimLastName    = "last_name"
	ClaimGroups      = "groups"
)

// SAML configures the SAML 2.0 service provider.
type SAML struct {
	Preset string `yaml:"preset"` // azuread | okta | generic
	// Label is the sign-in button text.
	Label string `yaml:"label"`
	// IDPMetadataURL (refreshed every MetadataRefresh) or IDPMetadataFile.
	IDPMetadataURL  string        `yaml:"idp_metadata_url"`
	IDPMetadataFile string        `yaml:"idp_metadata_file"`
	MetadataRefresh time.Duration `yaml:"metadata_refresh"`
	// IDPCertSHA256 pins the IdP's signing certificates by SHA-256
	// fingerprint: metadata (at start and on every refresh) must carry a
	// signing certificate matching one of them, and only matching
	// certificates are trusted. Several allow a planned rollover.
	IDPCertSHA256 []string `yaml:"idp_cert_sha256"`
	// EntityID is the SP's entity ID; defaults to <public_url>/saml/metadata.
	EntityID string `yaml:"entity_id"`
	// CertFile/KeyFile are the SP's key pair: signing AuthnRequests and
	// decrypting encrypted assertions.
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	SignRequests bool   `yaml:"sign_requests"`
	// RequireEncryption refuses assertions that are not encrypted.
	RequireEncryption bool `yaml:"require_encryption"`
	// AllowCBCEncryption accepts assertions encrypted with AES-CBC (for
	// IdPs that cannot use AES-GCM); RSA-OAEP key transport stays required.
	AllowCBCEncryption bool          `yaml:"allow_cbc_encryption"`
	AllowIDPInitiated  bool          `yaml:"allow_idp_initiated"`
	ClockSkew          time.Duration `yaml:"clock_skew"`
	// NameIDFormat requested: "" (IdP decides) | email | persistent |
	// transient | unspecified.
	NameIDFormat string `yaml:"nameid_format"`
	// Claims overrides the preset's attribute names, keyed by claim key.
	Claims map[string]string `yaml:"claims"`
	// EmailVerified says the IdP only ever asserts e-mail addresses it
	// has verified, so sso.match_by may use them. SAML carries no
	// per-assertion flag; off, the e-mail attribute is kept for the
	// record but never matches a user.
	EmailVerified bool `yaml:"email_verified"`
}

// OIDC configures the OpenID Connect relying party.
type OIDC struct {
	Preset string `yaml:"preset"` // azuread | okta | generic
	Label  string `yaml:"label"`
	// Issuer; for azuread derived from TenantID when empty.
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL defaults to <public_url>/oidc/callback.
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes"`
	// Userinfo also calls the userinfo endpoint after the token exchange.
	Userinfo    bool     `yaml:"userinfo"`
	AllowedAlgs []string `yaml:"allowed_algs"`
	// TenantID (azuread) pins the tenant and derives the issuer.
	TenantID string `yaml:"tenant_id"`
	// GraphGroups resolves an Entra groups overage through Microsoft Graph
	// with the access token (azuread); off, the identity is marked as having
	// an unknown group list, never an empty one.
	GraphGroups bool `yaml:"graph_groups"`
	// GraphURL is Microsoft Graph's base URL (national clouds differ).
	GraphURL string            `yaml:"graph_url"`
	Claims   map[string]string `yaml:"claims"`
}

// Sessions configures browser sessions and forward auth.
type Sessions struct {
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
	// CookieName; "__Host-" is prefixed when served over HTTPS.
	CookieName string `yaml:"cookie_name"`
	// VerifyCache is how long /auth/verify may cache a session lookup.
	VerifyCache time.Duration `yaml:"verify_cache"`
}

// Licenses limits concurrent signed-in users.
type Licenses struct {
	// Concurrent is the number of users signed in at once; 0 is unlimited.
	Concurrent int `yaml:"concurrent"`
}

// Policy groups the sign-in policies.
type Policy struct {
	Password      PasswordPolicy `yaml:"password"`
	Username      UsernamePolicy `yaml:"username"`
	PasswordReset PasswordReset  `yaml:"password_reset"`
	Lockout       Lockout        `yaml:"lockout"`
	Throttle      Throttle       `yaml:"throttle"`
	IPRules       []IPRule       `yaml:"ip_rules"`
	ClientCert    ClientCert     `yaml:"client_cert"`
	Argon2        Argon2         `yaml:"argon2"`
}

// PasswordPolicy applies to local users' passwords.
type PasswordPolicy struct {
	MinLength  int `yaml:"min_length"`
	MinLetters int `yaml:"min_letters"`
	MinDigits  int `yaml:"min_digits"`
	// MinOther counts characters that are neither letters nor digits.
	MinOther int `yaml:"min_other"`
	// History forbids reusing the last N passwords.
	History int `yaml:"history"`
	// ValidityDays after which a password must change; 0 never expires.
	ValidityDays int `yaml:"validity_days"`
	// NeverExpireUsers are usernames exempt from ValidityDays.
	NeverExpireUsers []string `yaml:"never_expire_users"`
}

// UsernamePolicy applies to local users' usernames.
type UsernamePolicy struct {
	MinLength  int `yaml:"min_length"`
	MinLetters int `yaml:"min_letters"`
	MinDigits  int `yaml:"min_digits"`
	// MinOther counts characters that are neither letters nor digits.
	MinOther int `yaml:"min_other"`
}

// PasswordReset is the forgotten-password mail for local users.
type PasswordReset struct {
	Enabled  bool          `yaml:"enabled"`
	TokenTTL time.Duration `yaml:"token_ttl"`
	// PerHour bounds reset mails per address and per source IP.
	PerHour int `yaml:"per_hour"`
}

// Lockout locks an account after MaxAttempts failures Within a window.
type Lockout struct {
	MaxAttempts int           `yaml:"max_attempts"`
	Within      time.Duration `yaml:"within"`
	LockFor     time.Duration `yaml:"lock_for"`
}

// Throttle slows password spraying from one source IP across usernames: a
// token bucket per address refilled at PerMinute attempts, holding Burst.
type Throttle struct {
	// PerMinute is the sustained rate of password attempts per address;
	// 0 turns the throttle off.
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
	// IPv6Prefix is the prefix length an IPv6 source is keyed by, here and
	// in the password-reset limiter: one host usually holds a whole /64, so
	// keying by full address would give it endless fresh buckets.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// IP rule effects.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// IPRule allows or denies sign-in by client address.
type IPRule struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	State       string `yaml:"state"`  // active | inactive
	Effect      string `yaml:"effect"` // allow | deny
	// Addresses: single IP, range a-b, CIDR, trailing wildcard (10.*.*.*)
	// or "*"; IPv4 and IPv6. Parsed by sso/policy.ParseAddress.
	Addresses []string `yaml:"addresses"`
	// Profiles and Units restrict the rule; both empty means all users.
	Profiles []string `yaml:"profiles"`
	Units    []string `yaml:"units"`
}

// IsActive reports whether the rule is evaluated.
func (r IPRule) IsActive() bool { return r.State == StateActive }

// Client certificate mapping keys.
const (
	CertMapUPN   = "upn"
	CertMapEmail = "email"
	CertMapCN    = "cn"
)

// ClientCert is certificate sign-in.
type ClientCert struct {
	Enabled bool `yaml:"enabled"`
	// CAFile verifies certificates; defaults to server.tls.client_ca_file.
	CAFile string `yaml:"ca_file"`
	MapBy  string `yaml:"map_by"` // upn | email | cn
	// Header carries the proxy-verified certificate (URL-encoded PEM) when a
	// trusted proxy terminates TLS; accepted only from server.trusted_proxies.
	Header string `yaml:"header"`
	// CRLFiles are the issuing CAs' CRLs (PEM or DER), re-read when they
	// change; with them, a certificate whose issuer has no current CRL is
	// refused.
	CRLFiles []string `yaml:"crl_files"`
	// OCSP asks each certificate's OCSP responder too; anything but "good"
	// refuses.
	OCSP bool `yaml:"ocsp"`
	// OCSPTimeout bounds one OCSP request (default 5s).
	OCSPTimeout time.Duration `yaml:"ocsp_timeout"`
}

// Argon2 holds the argon2id parameters for local password hashes.
type Argon2 struct {
	Time      uint32 `yaml:"time"`
	MemoryKiB uint32 `yaml:"memory_kib"`
	Threads   uint8  `yaml:"threads"`
	// MaxConcurrent bounds simultaneous hashes so a flood of sign-ins cannot
	// exhaust memory (each takes MemoryKiB).
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Expiry configures password-expiry notices by e-mail.
type Expiry struct {
	// Enabled runs the scheduled notice job (needs smtp).
	Enabled  bool   `yaml:"enabled"`
	WarnDays []int  `yaml:"warn_days"`
	Schedule string `yaml:"schedule"`
	// TimeZone counts days and prints dates; an IANA name or "Local".
	TimeZone          string `yaml:"time_zone"`
	ChangePasswordURL string `yaml:"change_password_url"`
	// TemplatesDir overrides the built-in templates (notice.txt.tmpl,
	// notice.html.tmpl, notice.<lang>.txt.tmpl, ...).
	TemplatesDir string `yaml:"templates_dir"`
	// RedirectTo sends every notice there instead (test mode).
	RedirectTo     string        `yaml:"redirect_to"`
	AdminSummaryTo []string      `yaml:"admin_summary_to"`
	Retries        int           `yaml:"retries"`
	RetryBackoff   time.Duration `yaml:"retry_backoff"`
}

// Location loads TimeZone; Validate has already checked it loads.
func (e Expiry) Location() (*time.Location, error) { return time.LoadLocation(e.TimeZone) }

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// SMTP is the mail relay.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	TLS      string `yaml:"tls"` // starttls | tls | none
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// From is the sender of every mail.
	From    string        `yaml:"from"`
	CAFile  string        `yaml:"ca_file"`
	Timeout time.Duration `yaml:"timeout"`
}

// API configures the admin API.
type API struct {
	// TokenTTL is how long a bearer token from an API key lives.
	TokenTTL time.Duration `yaml:"token_ttl"`
}

// Runtime is the Go runtime's memory policy for the whole process. The
// GOGC and GOMEMLIMIT environment variables, when set, win over it.
type Runtime struct {
	// GCPercent is the collector's target (GOGC): the heap grows to
	// 1 + GCPercent/100 times what is live before a collection.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMiB is a soft limit on the Go heap and runtime (GOMEMLIMIT)
	// in MiB; 0 sets none.
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
}

// Tracing sends OpenTelemetry spans (OTLP over HTTP) to a collector.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP traces URL, e.g.
	// http://otel-collector:4318/v1/traces; empty turns tracing off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of traces kept (0 to 1; default 1).
	SampleRatio float64 `yaml:"sample_ratio"`
	// Headers are sent with every export (an API key for a hosted
	// collector, for example).
	Headers map[string]string `yaml:"headers"`
}

// Emergency configures the break-glass account.
type Emergency struct {
	TTL time.Duration `yaml:"ttl"`
}
