package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// This file is the one place defaults live. docs/configuration.md and
// deploy/dirbridge.example.yaml show the same values: TestDocumentedDefaults
// compares the reference's defaults with these, and TestEveryKeyDocumented
// requires every key in both.
//
// A default fills a field only when the file did not set it and it holds its
// zero value, so an explicit zero (max_deactivations.count: 0,
// schedule: "") is honoured and ApplyDefaults may run more than once.

// Default values that other packages may want to name.
const (
	DefaultListen       = ":8080"
	DefaultSQLiteDSN    = "/var/lib/dirbridge/dirbridge.db"
	DefaultPageSize     = 1000 // AD's MaxPageSize: larger pages are cut to it anyway.
	DefaultTokenTTL     = 2 * time.Hour
	DefaultEmergencyTTL = 24 * time.Hour
	// A run may deactivate at most 500 users or 10 % of the directory's
	// active users (directories[].max_deactivations): the one home of these
	// numbers; the sync engine gets them through the config.
	DefaultMaxDeactivationCount   = 500
	DefaultMaxDeactivationPercent = 10.0
	DefaultGCPercent              = 50
)

// ApplyDefaults fills every unset field with its default. Parse and Load
// call it before Validate; call it yourself on a Config built in code.
func (c *Config) ApplyDefaults() {
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	// Server.
	def(c, "server.listen", &c.Server.Listen, DefaultListen)
	// In-flight requests get this long to finish on SIGTERM.
	def(c, "server.shutdown_timeout", &c.Server.ShutdownTimeout, 30*time.Second)
	// Bounds slow-loris clients.
	def(c, "server.read_header_timeout", &c.Server.ReadHeaderTimeout, 10*time.Second)
	// A whole request (an ACS POST, an admin bulk update) is read well within
	// this; a slow body is cut off rather than holding a connection.
	def(c, "server.read_timeout", &c.Server.ReadTimeout, 30*time.Second)
	// Handling plus writing the response; the slowest handler is a dry-run
	// plan, which the admin API runs in the background.
	def(c, "server.write_timeout", &c.Server.WriteTimeout, 60*time.Second)
	def(c, "server.idle_timeout", &c.Server.IdleTimeout, 120*time.Second)

	// Logging: JSON at info, for log shippers.
	def(c, "log.level", &c.Log.Level, "info")
	def(c, "log.format", &c.Log.Format, "json")
	// A log file rotates at 100 MiB and keeps 5 old files (600 MiB at most).
	def(c, "log.max_size_mib", &c.Log.MaxSizeMiB, 100)
	def(c, "log.max_backups", &c.Log.MaxBackups, 5)

	// Store: the embedded SQLite file, so a first start needs no database.
	def(c, "store.driver", &c.Store.Driver, DriverSQLite)
	if c.Store.Driver == DriverSQLite && !c.Store.DSN.IsSet() && !c.set("store.dsn") {
		c.Store.DSN = NewSecret(DefaultSQLiteDSN)
	}
	// PostgreSQL pool size; replicas each hold this many.
	def(c, "store.max_open_conns", &c.Store.MaxOpenConns, 10)

	// Application privileges are displayed under "Application" unless grouped.
	for i := range c.Privileges {
		def(c, indexPath("privileges", i)+".group", &c.Privileges[i].Group, "Application")
	}

	for i := range c.Directories {
		c.defaultDirectory(i)
	}
	for i := range c.Provisioning {
		c.defaultProvisioning(i)
	}

	for i := range c.Mapping.UserTemplates {
		// A created user may sign in unless the template says otherwise.
		def(c, indexPath("mapping.user_templates", i)+".state", &c.Mapping.UserTemplates[i].State, StateActive)
	}

	c.defaultSSO()

	// Licences: 0 means no concurrent-user limit.

	c.defaultPolicy()

	// Expiry notices: 14, 7, 3 and 1 days ahead, daily at 08:00 local time,
	// each failed delivery retried 3 times starting at 30s.
	defSlice(c, "expiry.warn_days", &c.Expiry.WarnDays, []int{14, 7, 3, 1})
	def(c, "expiry.schedule", &c.Expiry.Schedule, "0 8 * * *")
	def(c, "expiry.time_zone", &c.Expiry.TimeZone, "Local")
	if c.publicBase() != "" {
		def(c, "expiry.change_password_url", &c.Expiry.ChangePasswordURL, c.publicBase()+"/password/change")
	}
	def(c, "expiry.retries", &c.Expiry.Retries, 3)
	def(c, "expiry.retry_backoff", &c.Expiry.RetryBackoff, 30*time.Second)

	// SMTP: STARTTLS on the submission port.
	def(c, "smtp.tls", &c.SMTP.TLS, SMTPStartTLS)
	port := 587
	switch c.SMTP.TLS {
	case SMTPTLS:
		port = 465
	case SMTPNone:
		port = 25
	}
	def(c, "smtp.port", &c.SMTP.Port, port)
	def(c, "smtp.timeout", &c.SMTP.Timeout, 30*time.Second)

	// API bearer tokens expire two hours after the key exchange.
	def(c, "api.token_ttl", &c.API.TokenTTL, DefaultTokenTTL)
	// The emergency account expires after a day.
	def(c, "emergency.ttl", &c.Emergency.TTL, DefaultEmergencyTTL)
	// A full sync holds its read, the store's state and its plan at once;
	// at 50 the heap grows to 1.5 times what is live instead of twice
	// (first sync of 100,000 users: peak RSS 250-256 MB instead of
	// 290-314 MB, in the same time).
	def(c, "runtime.gc_percent", &c.Runtime.GCPercent, DefaultGCPercent)
	// Every trace is kept unless the operator samples.
	def(c, "tracing.sample_ratio", &c.Tracing.SampleRatio, 1.0)
}

// defaultPolicy fills the policy section: passwords, usernames, resets,
// lock-out, throttling, IP rules, client certificates and argon2.
func (c *Config) defaultPolicy() {
	// Password policy: "longer than 8 characters", as the seed products ask.
	def(c, "policy.password.min_length", &c.Policy.Password.MinLength, 9)
	// Usernames: at least 3 characters.
	def(c, "policy.username.min_length", &c.Policy.Username.MinLength, 3)
	// Forgotten-password links expire after 30 minutes; 5 mails per hour
	// per address and per source IP.
	def(c, "policy.password_reset.token_ttl", &c.Policy.PasswordReset.TokenTTL, 30*time.Minute)
	def(c, "policy.password_reset.per_hour", &c.Policy.PasswordReset.PerHour, 5)
	// Lock-out: 5 failures within 15 minutes lock the account for 30.
	def(c, "policy.lockout.max_attempts", &c.Policy.Lockout.MaxAttempts, 5)
	def(c, "policy.lockout.within", &c.Policy.Lockout.Within, 15*time.Minute)
	def(c, "policy.lockout.lock_for", &c.Policy.Lockout.LockFor, 30*time.Minute)
	// Per-IP throttle: 30 password attempts a minute sustained, bursts of 60,
	// so an office behind one NAT address signing in at 9:00 passes while a
	// spray across thousands of usernames crawls.
	def(c, "policy.throttle.per_minute", &c.Policy.Throttle.PerMinute, 30)
	def(c, "policy.throttle.burst", &c.Policy.Throttle.Burst, 60)
	// A /64 is what one IPv6 subscriber or host is usually given.
	def(c, "policy.throttle.ipv6_prefix", &c.Policy.Throttle.IPv6Prefix, 64)
	for i := range c.Policy.IPRules {
		p := indexPath("policy.ip_rules", i)
		// Rules are evaluated unless marked inactive, and allow by default.
		def(c, p+".state", &c.Policy.IPRules[i].State, StateActive)
		def(c, p+".effect", &c.Policy.IPRules[i].Effect, EffectAllow)
	}
	// Certificates map to users by the UPN in their SAN, as smart cards do.
	def(c, "policy.client_cert.map_by", &c.Policy.ClientCert.MapBy, CertMapUPN)
	def(c, "policy.client_cert.ca_file", &c.Policy.ClientCert.CAFile, c.Server.TLS.ClientCAFile)
	def(c, "policy.client_cert.ocsp_timeout", &c.Policy.ClientCert.OCSPTimeout, 5*time.Second)
	// argon2id: RFC 9106's second recommended option (t=3, 64 MiB, p=4, as
	// internal/password.DefaultParams), and at most 4 hashes at once
	// (256 MiB worst case).
	def(c, "policy.argon2.time", &c.Policy.Argon2.Time, 3)
	def(c, "policy.argon2.memory_kib", &c.Policy.Argon2.MemoryKiB, 64*1024)
	def(c, "policy.argon2.threads", &c.Policy.Argon2.Threads, 4)
	def(c, "policy.argon2.max_concurrent", &c.Policy.Argon2.MaxConcurrent, 4)
}

func (c *Config) defaultDirectory(i int) {
	d := &c.Directories[i]
	p := indexPath("directories", i)
	// User and group searches start at base_dn unless narrowed.
	def(c, p+".user_base_dn", &d.UserBaseDN, d.BaseDN)
	def(c, p+".group_base_dn", &d.GroupBaseDN, d.BaseDN)
	def(c, p+".page_size", &d.PageSize, DefaultPageSize)
	// range_size 0: the server decides (AD: 1500 members per range).
	// Incremental every 15 minutes, full nightly at 03:00 (leavers and
	// deletions are settled by the full read).
	def(c, p+".schedule", &d.Schedule, "*/15 * * * *")
	def(c, p+".full_schedule", &d.FullSchedule, "0 3 * * *")
	// Generic LDAP re-reads two minutes before its modifyTimestamp mark, so
	// changes within the mark's second or on a server with a skewed clock are
	// not missed.
	def(c, p+".incremental_overlap", &d.IncrementalOverlap, 2*time.Minute)
	def(c, p+".max_deactivations.count", &d.MaxDeactivations.Count, DefaultMaxDeactivationCount)
	def(c, p+".max_deactivations.percent", &d.MaxDeactivations.Percent, DefaultMaxDeactivationPercent)
	def(c, p+".connect_timeout", &d.ConnectTimeout, 10*time.Second)
	// Per operation (one page, one bind), not per run.
	def(c, p+".read_timeout", &d.ReadTimeout, 2*time.Minute)
	def(c, p+".link_by", &d.LinkBy, LinkByUsername)
	// The seed CRM's "password ageing warning".
	def(c, p+".password_warning_days", &d.PasswordWarningDays, 7)
}

func (c *Config) defaultSSO() {
	s := &c.SSO
	pub := c.publicBase()
	if s.SAML != nil {
		def(c, "sso.saml.preset", &s.SAML.Preset, PresetGeneric)
		def(c, "sso.saml.label", &s.SAML.Label, presetLabel(s.SAML.Preset))
		// A failed refresh keeps the last good metadata.
		def(c, "sso.saml.metadata_refresh", &s.SAML.MetadataRefresh, 24*time.Hour)
		if pub != "" {
			def(c, "sso.saml.entity_id", &s.SAML.EntityID, pub+"/saml/metadata")
		}
		def(c, "sso.saml.clock_skew", &s.SAML.ClockSkew, 2*time.Minute)
	}
	if s.OIDC != nil {
		o := s.OIDC
		def(c, "sso.oidc.preset", &o.Preset, PresetGeneric)
		def(c, "sso.oidc.label", &o.Label, presetLabel(o.Preset))
		if o.Preset == PresetAzureAD && o.TenantID != "" {
			def(c, "sso.oidc.issuer", &o.Issuer, "https://login.microsoftonline.com/"+o.TenantID+"/v2.0")
		}
		if pub != "" {
			def(c, "sso.oidc.redirect_url", &o.RedirectURL, pub+"/oidc/callback")
		}
		scopes := []string{"openid", "profile", "email"}
		if o.Preset == PresetOkta {
			scopes = append(scopes, "groups") // Okta sends groups only when asked.
		}
		defSlice(c, "sso.oidc.scopes", &o.Scopes, scopes)
		defSlice(c, "sso.oidc.allowed_algs", &o.AllowedAlgs, []string{"RS256"})
		if o.Preset == PresetAzureAD {
			def(c, "sso.oidc.graph_url", &o.GraphURL, "https://graph.microsoft.com")
		}
	}
	// UPN first (stable across e-mail changes), then e-mail.
	defSlice(c, "sso.match_by", &s.MatchBy, []string{MatchUPN, MatchEmail})
	// Sessions end after 30 minutes unused, 12 hours after sign-in at most.
	def(c, "sso.sessions.idle_timeout", &s.Sessions.IdleTimeout, 30*time.Minute)
	def(c, "sso.sessions.absolute_timeout", &s.Sessions.AbsoluteTimeout, 12*time.Hour)
	def(c, "sso.sessions.cookie_name", &s.Sessions.CookieName, "dirbridge_session")
	// /auth/verify may serve a session from memory this long.
	def(c, "sso.sessions.verify_cache", &s.Sessions.VerifyCache, 2*time.Second)
	if k := s.Kerberos; k != nil {
		def(c, "sso.kerberos.label", &k.Label, "Windows")
		def(c, "sso.kerberos.max_clock_skew", &k.MaxClockSkew, 5*time.Minute)
		if len(c.Directories) == 1 {
			for i := range k.Realms {
				def(c, fmt.Sprintf("sso.kerberos.realms[%d].directory", i), &k.Realms[i].Directory, c.Directories[0].Name)
			}
		}
	}
}

// publicBase is server.public_url without its trailing slash, or "" when it
// is not an absolute http(s) URL: deriving callback URLs from a broken value
// would only repeat its error under other names.
func (c *Config) publicBase() string {
	u, err := url.Parse(c.Server.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return strings.TrimSuffix(c.Server.PublicURL, "/")
}

func presetLabel(preset string) string {
	switch preset {
	case PresetAzureAD:
		return "Sign in with Microsoft"
	case PresetOkta:
		return "Sign in with Okta"
	}
	return "Sign in with single sign-on"
}

// def sets *v to d when the file did not set path and *v is zero.
func def[T comparable](c *Config, path string, v *T, d T) {
	var zero T
	if *v == zero && !c.set(path) {
		*v = d
	}
}

// defSlice is def for lists; an explicit empty list in the file is kept.
func defSlice[T any](c *Config, path string, v *[]T, d []T) {
	if len(*v) == 0 && !c.set(path) {
		*v = append([]T(nil), d...)
	}
}
