package config

import (
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/cronspec"
	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/policy"
)

// Validate checks the whole config and returns every problem as Errors (nil
// when there is none). It does no network I/O: reachability is
// `config check --online`'s job. Call ApplyDefaults first (Load and Parse
// do).
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.server()
	v.log()
	v.store()
	v.privileges()
	v.profiles()
	v.directories()
	v.provisioning()
	v.mapping()
	v.sso()
	v.policies()
	v.expiry()
	v.smtp()
	v.positive("api.token_ttl", c.API.TokenTTL)
	v.positive("emergency.ttl", c.Emergency.TTL)
	if c.Runtime.GCPercent < 1 {
		v.add("runtime.gc_percent", "must be 1 or more, got %d", c.Runtime.GCPercent)
	}
	if t := c.Tracing; t.OTLPEndpoint != "" {
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("tracing.otlp_endpoint", "must be an http:// or https:// URL such as http://otel-collector:4318/v1/traces, got %q", t.OTLPEndpoint)
		}
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		v.add("tracing.sample_ratio", "must be between 0 and 1, got %g", r)
	}
	if c.Runtime.MemoryLimitMiB < 0 {
		v.add("runtime.memory_limit_mib", "must be 0 (no limit) or more, got %d", c.Runtime.MemoryLimitMiB)
	}
	if c.Licenses.Concurrent < 0 {
		v.add("licenses.concurrent", "must be 0 (unlimited) or more")
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	c    *Config
	errs Errors
	// Names for cross references, filled as sections are checked.
	privNames     map[string]bool
	profNames     map[string]bool
	dirs          map[string]bool
	userTemplates map[string]bool
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{File: v.c.file, Path: path, Line: v.c.Line(path), Msg: fmt.Sprintf(format, args...)})
}

var (
	nameRe      = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	privNameRe  = regexp.MustCompile(`^[a-z][a-z0-9_.:-]*$`)
	fieldNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	attrRe      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$`)
	cookieRe    = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+$`)
	guidRe      = regexp.MustCompile(`^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$`)
)

// --- generic checks -------------------------------------------------------

func (v *validator) required(path, val string) bool {
	if strings.TrimSpace(val) == "" {
		v.add(path, "required")
		return false
	}
	return true
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be a positive duration, got %s", d)
	}
}

func (v *validator) oneOf(path, val string, allowed ...string) bool {
	if !slices.Contains(allowed, val) {
		if val == "" {
			v.add(path, "required: one of %s", strings.Join(allowed, ", "))
		} else {
			v.add(path, "must be one of %s, got %q", strings.Join(allowed, ", "), val)
		}
		return false
	}
	return true
}

func (v *validator) cron(path, expr string) {
	if expr == "" {
		return
	}
	// The schedulers parse with the same function, so what passes here runs.
	if _, err := cronspec.Parse(expr); err != nil {
		v.add(path, "%v", err)
	}
}

func (v *validator) httpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.add(path, "must be an absolute http(s) URL, got %q", raw)
	}
}

func (v *validator) dn(path, raw string) {
	if err := ldapdn.Check(raw); err != nil || strings.TrimSpace(raw) == "" {
		v.add(path, "invalid DN %q", raw)
	}
}

func (v *validator) email(path, raw string) {
	a, err := mail.ParseAddress(raw)
	if err != nil || !strings.Contains(a.Address, "@") {
		v.add(path, "invalid e-mail address %q", raw)
	}
}

func (v *validator) pair(pathA, a, pathB, b string) {
	if (a == "") != (b == "") {
		if a == "" {
			v.add(pathA, "required when %s is set", lastSeg(pathB))
		} else {
			v.add(pathB, "required when %s is set", lastSeg(pathA))
		}
	}
}

func lastSeg(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// unique reports repeated values of a list (case-insensitively when fold).
func (v *validator) unique(path string, vals []string, what string, fold bool) {
	seen := map[string]int{}
	for i, s := range vals {
		k := s
		if fold {
			k = strings.ToLower(s)
		}
		if j, dup := seen[k]; dup {
			v.add(indexPath(path, i), "duplicate %s %q (also at [%d])", what, s, j)
			continue
		}
		seen[k] = i
	}
}

func (v *validator) nonEmpty(path string, vals []string) {
	for i, s := range vals {
		if strings.TrimSpace(s) == "" {
			v.add(indexPath(path, i), "must not be empty")
		}
	}
}

// --- sections -------------------------------------------------------------

func (v *validator) server() {
	s := v.c.Server
	v.listenAddr("server.listen", s.Listen)
	if s.InternalListen != "" {
		v.listenAddr("server.internal_listen", s.InternalListen)
		if s.InternalListen == s.Listen {
			v.add("server.internal_listen", "must differ from server.listen (%q)", s.Listen)
		}
	}
	if s.PublicURL != "" {
		v.httpURL("server.public_url", s.PublicURL)
	}
	v.pair("server.tls.cert_file", s.TLS.CertFile, "server.tls.key_file", s.TLS.KeyFile)
	if s.TLS.ClientCAFile != "" && !s.TLS.Enabled() {
		v.add("server.tls.client_ca_file", "needs server.tls.cert_file and key_file: client certificates need TLS terminated here")
	}
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			v.add(indexPath("server.trusted_proxies", i), "must be an IP address or CIDR, got %q", p)
		}
	}
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
}

// listenAddr checks a host:port to listen on.
func (v *validator) listenAddr(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "must be host:port (e.g. :8080 or 127.0.0.1:8080), got %q", addr)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.add(path, "invalid port %q", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		v.add(path, "invalid host %q", host)
	}
}

func (v *validator) log() {
	v.oneOf("log.level", v.c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", v.c.Log.Format, "json", "console")
	if f := v.c.Log.File; f != "" && !filepath.IsAbs(f) {
		v.add("log.file", "%q is not an absolute path", f)
	}
	if v.c.Log.MaxSizeMiB < 1 {
		v.add("log.max_size_mib", "must be at least 1")
	}
	if v.c.Log.MaxBackups < 0 {
		v.add("log.max_backups", "must not be negative")
	}
	if v.c.Log.MaxAgeDays < 0 {
		v.add("log.max_age_days", "must not be negative")
	}
}

func (v *validator) store() {
	s := v.c.Store
	if !v.oneOf("store.driver", s.Driver, DriverSQLite, DriverPostgres) {
		return
	}
	if !s.DSN.IsSet() {
		v.add("store.dsn", "required for driver %s", s.Driver)
	}
	if s.MaxOpenConns < 1 {
		v.add("store.max_open_conns", "must be at least 1")
	}
}

func (v *validator) privileges() {
	v.privNames = map[string]bool{}
	for _, b := range privilege.BuiltIns() {
		v.privNames[b.Name] = true
	}
	for i, p := range v.c.Privileges {
		path := indexPath("privileges", i)
		switch {
		case p.Name == "":
			v.add(path+".name", "required")
		case !privNameRe.MatchString(p.Name):
			v.add(path+".name", "%q: use lower-case letters, digits, _ . : -", p.Name)
		case privilege.IsBuiltIn(p.Name):
			v.add(path+".name", "%q is a built-in privilege; do not declare it", p.Name)
		case v.privNames[p.Name]:
			v.add(path+".name", "duplicate privilege %q", p.Name)
		default:
			v.privNames[p.Name] = true
		}
	}
	// Prerequisites may name any privilege, declared before or after.
	for i, p := range v.c.Privileges {
		for j, req := range p.Requires {
			switch {
			case !v.privNames[req]:
				v.add(indexPath(indexPath("privileges", i)+".requires", j), "unknown privilege %q", req)
			case req == p.Name:
				v.add(indexPath(indexPath("privileges", i)+".requires", j), "a privilege cannot require itself")
			}
		}
	}
}

func (v *validator) profiles() {
	requires := map[string][]string{}
	for _, b := range privilege.BuiltIns() {
		requires[b.Name] = b.Requires
	}
	for _, p := range v.c.Privileges {
		requires[p.Name] = p.Requires
	}
	v.profNames = map[string]bool{}
	seen := map[string]bool{}
	for i, p := range v.c.Profiles {
		path := indexPath("profiles", i)
		if v.required(path+".name", p.Name) {
			k := strings.ToLower(p.Name)
			if seen[k] {
				v.add(path+".name", "duplicate profile %q", p.Name)
			}
			seen[k] = true
			v.profNames[p.Name] = true
		}
		for j, pr := range p.Privileges {
			if !v.privNames[pr] {
				v.add(indexPath(path+".privileges", j), "unknown privilege %q: neither built-in nor declared under privileges:", pr)
			}
		}
		v.unique(path+".privileges", p.Privileges, "privilege", false)
		for _, pr := range p.Privileges {
			for _, req := range requires[pr] {
				if !slices.Contains(p.Privileges, req) {
					v.add(path+".privileges", "%s requires %s, which the profile lacks", pr, req)
				}
			}
		}
	}
}

// profileRef checks a reference to a profile; "" means none.
func (v *validator) profileRef(path, name string) {
	if name != "" && !v.profNames[name] {
		v.add(path, "unknown profile %q", name)
	}
}

func (v *validator) directories() {
	v.dirs = map[string]bool{}
	// User templates are checked in mapping(), but directories refer to them.
	v.userTemplates = map[string]bool{}
	for _, t := range v.c.Mapping.UserTemplates {
		v.userTemplates[t.Name] = true
	}
	for i := range v.c.Directories {
		v.directory(i)
	}
}

// directory checks directories[i] a part at a time: its name and kind,
// the connection, what is read, and how it is synced.
func (v *validator) directory(i int) {
	d := &v.c.Directories[i]
	p := indexPath("directories", i)
	v.directoryName(p, d.Name)
	v.oneOf(p+".kind", d.Kind, KindAD, KindLDAP)
	v.directoryConnection(p, d)
	v.directoryTree(p, d)
	v.directorySync(p, d)
}

// directoryName checks a directory's name: unique, and not one of the
// names that stand for users of no directory.
func (v *validator) directoryName(p, name string) {
	if v.required(p+".name", name) {
		switch {
		case !nameRe.MatchString(name):
			v.add(p+".name", "%q: use lower-case letters, digits, _ and -", name)
		case name == "local":
			v.add(p+".name", `"local" is reserved for users that live only in dirbridge`)
		case name == "idp":
			v.add(p+".name", `"idp" is reserved for users that exist only through an identity provider (sso.jit)`)
		case v.dirs[name]:
			v.add(p+".name", "duplicate directory name %q", name)
		}
		v.dirs[name] = true
	}
}

// directoryConnection checks how dirbridge reaches and binds to the
// directory: the URLs, the client certificate and the bind credentials.
func (v *validator) directoryConnection(p string, d *Directory) {
	if len(d.URLs) == 0 {
		v.add(p+".urls", "at least one ldap:// or ldaps:// URL is required")
	}
	for j, raw := range d.URLs {
		up := indexPath(p+".urls", j)
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			v.add(up, "invalid URL %q", raw)
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			v.add(up, "scheme must be ldap or ldaps, got %q", raw)
		case u.Hostname() == "":
			v.add(up, "host is missing in %q", raw)
		case u.Path != "" && u.Path != "/":
			v.add(up, "must not have a path (set base_dn instead): %q", raw)
		case u.Scheme == "ldaps" && d.StartTLS:
			v.add(up, "start_tls applies to ldap:// URLs; ldaps:// is already TLS")
		}
	}
	v.pair(p+".client_cert_file", d.ClientCertFile, p+".client_key_file", d.ClientKeyFile)

	if d.BindDN != "" {
		if strings.Contains(d.BindDN, "=") {
			v.dn(p+".bind_dn", d.BindDN)
		} else if !(d.Kind == KindAD && strings.Contains(d.BindDN, "@")) {
			v.add(p+".bind_dn", "must be a DN (or, on AD, a user@domain UPN), got %q", d.BindDN)
		}
		if !d.BindPassword.IsSet() {
			v.add(p+".bind_password", "required when bind_dn is set (or use bind_password_file)")
		}
	} else if d.BindPassword.IsSet() {
		v.add(p+".bind_dn", "required when bind_password is set")
	}
}

// directoryTree checks what is read: the base DNs, the groups imported,
// the filters, the password policy entry and the extra attributes.
func (v *validator) directoryTree(p string, d *Directory) {
	if v.required(p+".base_dn", d.BaseDN) {
		v.dn(p+".base_dn", d.BaseDN)
	}
	if d.UserBaseDN != "" && d.UserBaseDN != d.BaseDN {
		v.dn(p+".user_base_dn", d.UserBaseDN)
	}
	if d.GroupBaseDN != "" && d.GroupBaseDN != d.BaseDN {
		v.dn(p+".group_base_dn", d.GroupBaseDN)
	}

	// No groups is allowed: they may be chosen from the console (kept in
	// the store). A run with none at all fails before reading, saying so.
	for j, g := range d.Groups {
		gp := indexPath(p+".groups", j)
		switch {
		case strings.TrimSpace(g) == "":
			v.add(gp, "must not be empty")
		case strings.Contains(g, "=") && !guidRe.MatchString(g):
			v.dn(gp, g)
		}
	}
	v.unique(p+".groups", d.Groups, "group", true)

	for _, f := range []struct{ key, val string }{{"user_filter", d.UserFilter}, {"disabled_filter", d.DisabledFilter}} {
		if f.val == "" {
			continue
		}
		if _, err := goldap.CompileFilter(f.val); err != nil {
			v.add(p+"."+f.key, "invalid LDAP filter %q: %v", f.val, err)
		}
	}
	if d.PasswordPolicyDN != "" {
		switch {
		case d.Kind != KindLDAP:
			v.add(p+".password_policy_dn", "applies to kind ldap only; AD reads its domain policy itself")
		case !d.ReadPasswordExpiry:
			v.add(p+".password_policy_dn", "has no effect without read_password_expiry: true")
		default:
			v.dn(p+".password_policy_dn", d.PasswordPolicyDN)
		}
	}
	if d.DisabledFilter != "" && d.Kind == KindAD {
		v.add(p+".disabled_filter", "applies to kind ldap only; AD uses userAccountControl")
	}
	for j, a := range d.Attributes {
		if !attrRe.MatchString(a) {
			v.add(indexPath(p+".attributes", j), "invalid attribute name %q", a)
		}
	}
}

// directorySync checks how and when the directory is read and what a sync
// may do: paging, schedules, the deactivation limits, timeouts, linking
// and the user template.
func (v *validator) directorySync(p string, d *Directory) {
	if d.PageSize < 1 || d.PageSize > 100000 {
		v.add(p+".page_size", "must be between 1 and 100000, got %d", d.PageSize)
	}
	if d.RangeSize < 0 {
		v.add(p+".range_size", "must be 0 (server decides) or more, got %d", d.RangeSize)
	}
	v.cron(p+".schedule", d.Schedule)
	v.cron(p+".full_schedule", d.FullSchedule)
	if d.IncrementalOverlap < 0 {
		v.add(p+".incremental_overlap", "must not be negative")
	}
	if d.MaxDeactivations.Count < 0 {
		v.add(p+".max_deactivations.count", "must be 0 or more, got %d", d.MaxDeactivations.Count)
	}
	if pc := d.MaxDeactivations.Percent; pc < 0 || pc > 100 {
		v.add(p+".max_deactivations.percent", "must be between 0 and 100, got %g", pc)
	}
	v.positive(p+".connect_timeout", d.ConnectTimeout)
	v.positive(p+".read_timeout", d.ReadTimeout)
	v.oneOf(p+".link_by", d.LinkBy, LinkByUsername, LinkByEmail, LinkByNone)
	if d.UserTemplate != "" && !v.userTemplates[d.UserTemplate] {
		v.add(p+".user_template", "unknown user template %q (see mapping.user_templates)", d.UserTemplate)
	}
	if d.PasswordWarningDays < 0 {
		v.add(p+".password_warning_days", "must be 0 or more")
	}
}

func (v *validator) mapping() {
	m := v.c.Mapping
	builtinFields := []string{FieldUsername, FieldEmail, FieldDisplayName, FieldFirstName, FieldLastName, FieldLanguage}
	fields := map[string]bool{}
	for _, f := range builtinFields {
		fields[f] = true
	}
	for i, f := range m.Fields {
		fp := indexPath("mapping.fields", i)
		switch {
		case !fieldNameRe.MatchString(f):
			v.add(fp, "invalid field name %q: use lower-case letters, digits and _", f)
		case fields[f] && slices.Contains(builtinFields, f):
			v.add(fp, "%q is a built-in field; do not declare it", f)
		case fields[f]:
			v.add(fp, "duplicate field %q", f)
		}
		fields[f] = true
	}

	v.rules("mapping.rules", m.Rules, true)
	v.templateMap("mapping.templates", m.Templates, fields)
	for i, d := range v.c.Directories {
		p := indexPath("directories", i)
		v.rules(p+".mapping.rules", d.Mapping.Rules, false)
		v.templateMap(p+".mapping.templates", d.Mapping.Templates, fields)
		v.profileRef(p+".default_profile", d.DefaultProfile)
	}

	seen := map[string]bool{}
	for i, t := range m.UserTemplates {
		p := indexPath("mapping.user_templates", i)
		if v.required(p+".name", t.Name) {
			if seen[t.Name] {
				v.add(p+".name", "duplicate user template %q", t.Name)
			}
			seen[t.Name] = true
		}
		v.oneOf(p+".state", t.State, StateActive, StateInactive)
		v.profileRef(p+".profile", t.Profile)
		v.nonEmpty(p+".units", t.Units)
		if t.EmailDomain != "" && (strings.ContainsAny(t.EmailDomain, "@ /") || !strings.Contains(t.EmailDomain, ".")) {
			v.add(p+".email_domain", "must be a domain like corp.example.com, got %q", t.EmailDomain)
		}
	}
}

// rules checks one ordered rule list; global lists may scope a rule to a
// directory.
func (v *validator) rules(path string, rules []Rule, global bool) {
	type key struct{ group, dir string }
	first := map[key]int{}
	names := map[string]int{}
	for i, r := range rules {
		p := indexPath(path, i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				v.add(p+".name", "duplicate rule name %q (also %s)", r.Name, indexPath(path, j))
			}
			names[r.Name] = i
		}
		if v.required(p+".group", r.Group) {
			k := key{strings.ToLower(strings.TrimSpace(r.Group)), r.Directory}
			if j, dup := first[k]; dup {
				v.add(p, "duplicate rule: %s already matches group %q, so this one can never decide the profile", indexPath(path, j), r.Group)
			} else {
				first[k] = i
			}
		}
		if r.Directory != "" {
			if !global {
				v.add(p+".directory", "only for global rules (mapping.rules); this rule already belongs to its directory")
			} else if !v.dirs[r.Directory] {
				v.add(p+".directory", "unknown directory %q", r.Directory)
			}
		}
		v.profileRef(p+".profile", r.Profile)
		v.nonEmpty(p+".units", r.Units)
		for _, f := range slices.Sorted(maps.Keys(r.Flags)) {
			if f != FlagSuperuser {
				v.add(p+".flags."+f, "unknown flag %q (known: %s)", f, FlagSuperuser)
			}
		}
		if r.Profile == "" && len(r.Units) == 0 && len(r.Flags) == 0 {
			v.add(p, "rule gives no profile, units or flags")
		}
	}
}

func (v *validator) templateMap(path string, tm map[string]string, fields map[string]bool) {
	for _, k := range slices.Sorted(maps.Keys(tm)) { // stable error order
		p := joinPath(path, k)
		if !fields[k] {
			v.add(p, "unknown field %q: declare it in mapping.fields", k)
			continue
		}
		if err := checkTemplate(k, tm[k]); err != nil {
			v.add(p, "does not parse: %v", err)
		}
	}
}

func (v *validator) sso() {
	s := v.c.SSO
	pub := v.c.Server.PublicURL
	if pub == "" {
		// Reported at the SSO section, which has a line; public_url has none.
		if s.SAML != nil {
			v.add("sso.saml", "needs server.public_url (it forms the ACS and metadata URLs)")
		}
		if s.OIDC != nil {
			v.add("sso.oidc", "needs server.public_url (it forms the redirect URL)")
		}
	}
	if s.Enforce && s.SAML == nil && s.OIDC == nil && s.Kerberos == nil {
		v.add("sso.enforce", "needs sso.saml, sso.oidc or sso.kerberos: nobody could sign in except through the bypass")
	}
	v.kerberos()
	if sp := s.SAML; sp != nil {
		v.saml(sp)
	}
	if o := s.OIDC; o != nil {
		v.oidc(o)
	}
	v.ssoMatching(s)
	v.sessions(s.Sessions)
}

// saml checks sso.saml: where the IdP's metadata (and so its signing keys)
// comes from, the SP's own key pair and what needs it, and the limits.
func (v *validator) saml(sp *SAML) {
	v.oneOf("sso.saml.preset", sp.Preset, PresetAzureAD, PresetOkta, PresetGeneric)
	switch {
	case sp.IDPMetadataURL == "" && sp.IDPMetadataFile == "":
		v.add("sso.saml", "set idp_metadata_url or idp_metadata_file")
	case sp.IDPMetadataURL != "" && sp.IDPMetadataFile != "":
		v.add("sso.saml.idp_metadata_file", "set either idp_metadata_url or idp_metadata_file, not both")
	case sp.IDPMetadataURL != "":
		// Metadata carries the IdP's signing keys: over plain HTTP
		// anyone on the path could substitute them (loopback is
		// allowed for tests), as for the OIDC issuer.
		if err := policy.SecureFetchURL(sp.IDPMetadataURL); err != nil {
			v.add("sso.saml.idp_metadata_url", "%v (plain http only on loopback: metadata carries the signing keys)", err)
		}
	}
	for i, fp := range sp.IDPCertSHA256 {
		if _, err := policy.ParseSHA256Fingerprint(fp); err != nil {
			v.add(indexPath("sso.saml.idp_cert_sha256", i), "%v, got %q", err, fp)
		}
	}
	v.positive("sso.saml.metadata_refresh", sp.MetadataRefresh)
	if v.c.publicBase() != "" {
		v.required("sso.saml.entity_id", sp.EntityID)
	}
	v.pair("sso.saml.cert_file", sp.CertFile, "sso.saml.key_file", sp.KeyFile)
	if sp.SignRequests && sp.KeyFile == "" {
		v.add("sso.saml.sign_requests", "needs cert_file and key_file")
	}
	if sp.RequireEncryption && sp.KeyFile == "" {
		v.add("sso.saml.require_encryption", "needs cert_file and key_file to decrypt assertions")
	}
	if sp.ClockSkew < 0 || sp.ClockSkew > 3*time.Minute {
		// 3m is crewjam/saml's own fixed allowance; more cannot be honoured.
		v.add("sso.saml.clock_skew", "must be between 0s and 3m, got %s", sp.ClockSkew)
	}
	if sp.NameIDFormat != "" {
		v.oneOf("sso.saml.nameid_format", sp.NameIDFormat, "email", "persistent", "transient", "unspecified")
	}
	v.claims("sso.saml.claims", sp.Claims)
}

// oidc checks sso.oidc: the issuer (discovery over https; plain http on
// loopback only), the client, the scopes and signing algorithms, and the
// options of the azuread preset.
func (v *validator) oidc(o *OIDC) {
	v.oneOf("sso.oidc.preset", o.Preset, PresetAzureAD, PresetOkta, PresetGeneric)
	if o.Issuer == "" {
		if o.Preset == PresetAzureAD {
			v.add("sso.oidc.issuer", "required (or set tenant_id for the azuread preset)")
		} else {
			v.add("sso.oidc.issuer", "required")
		}
	} else if err := policy.SecureFetchURL(o.Issuer); err != nil {
		// Discovery over plain HTTP would let anyone on the path
		// substitute the signing keys; loopback is allowed for tests.
		v.add("sso.oidc.issuer", "%v", err)
	}
	v.required("sso.oidc.client_id", o.ClientID)
	if !o.ClientSecret.IsSet() {
		v.add("sso.oidc.client_secret", "required (or use client_secret_file)")
	}
	if o.RedirectURL != "" {
		v.httpURL("sso.oidc.redirect_url", o.RedirectURL)
	}
	if !slices.Contains(o.Scopes, "openid") {
		v.add("sso.oidc.scopes", `must include "openid"`)
	}
	algs := []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	if len(o.AllowedAlgs) == 0 {
		v.add("sso.oidc.allowed_algs", "at least one algorithm is required")
	}
	for i, a := range o.AllowedAlgs {
		ap := indexPath("sso.oidc.allowed_algs", i)
		switch {
		case strings.EqualFold(a, "none"):
			v.add(ap, `"none" is never allowed: unsigned tokens prove nothing`)
		case !slices.Contains(algs, a):
			v.add(ap, "must be one of %s, got %q", strings.Join(algs, ", "), a)
		}
	}
	if o.TenantID != "" && o.Preset != PresetAzureAD {
		v.add("sso.oidc.tenant_id", "applies to the azuread preset only")
	}
	if o.GraphURL != "" {
		v.httpURL("sso.oidc.graph_url", o.GraphURL)
	}
	if o.GraphGroups && o.Preset != PresetAzureAD {
		v.add("sso.oidc.graph_groups", "applies to the azuread preset only")
	}
	v.claims("sso.oidc.claims", o.Claims)
}

// ssoMatching checks how an IdP identity is matched to a user, how long an
// IdP user may stay idle, and where a sign-in may return to.
func (v *validator) ssoMatching(s SSO) {
	if len(s.MatchBy) == 0 {
		v.add("sso.match_by", "at least one key is required")
	}
	if s.IdleDeactivation != 0 && s.IdleDeactivation < 24*time.Hour {
		v.add("sso.idle_deactivation", "must be at least 24h (or 0, off): it counts days without a sign-in at the IdP")
	}
	for i, k := range s.MatchBy {
		v.oneOf(indexPath("sso.match_by", i), k, MatchUPN, MatchEmail, MatchImmutableID, MatchUsername, MatchNameID)
	}
	v.unique("sso.match_by", s.MatchBy, "key", false)
	for i, h := range s.AllowedRedirectHosts {
		if h == "" || strings.ContainsAny(h, "/ @?#") {
			v.add(indexPath("sso.allowed_redirect_hosts", i), "must be a host name (optionally :port), got %q", h)
		}
	}
}

// sessions checks sso.sessions: the timeouts, the cookie name and how long
// a session check may be cached.
func (v *validator) sessions(ss Sessions) {
	v.positive("sso.sessions.idle_timeout", ss.IdleTimeout)
	v.positive("sso.sessions.absolute_timeout", ss.AbsoluteTimeout)
	if ss.IdleTimeout > ss.AbsoluteTimeout && ss.AbsoluteTimeout > 0 {
		v.add("sso.sessions.idle_timeout", "is longer than absolute_timeout (%s)", ss.AbsoluteTimeout)
	}
	if !cookieRe.MatchString(ss.CookieName) || strings.HasPrefix(ss.CookieName, "__") {
		v.add("sso.sessions.cookie_name", "must be a cookie token without a __ prefix (dirbridge adds __Host- over HTTPS), got %q", ss.CookieName)
	}
	if ss.VerifyCache < 0 || ss.VerifyCache > time.Minute {
		v.add("sso.sessions.verify_cache", "must be between 0s and 1m (a revoked session stays valid this long), got %s", ss.VerifyCache)
	}
}

func isLoopback(host string) bool { return policy.IsLoopbackHost(host) }

func (v *validator) claims(path string, m map[string]string) {
	known := []string{ClaimUsername, ClaimUPN, ClaimEmail, ClaimImmutableID, ClaimDisplayName, ClaimFirstName, ClaimLastName, ClaimGroups}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if !slices.Contains(known, k) {
			v.add(joinPath(path, k), "unknown claim key %q (known: %s)", k, strings.Join(known, ", "))
		} else if val == "" {
			v.add(joinPath(path, k), "claim name must not be empty")
		}
	}
}

func (v *validator) policies() {
	p := v.c.Policy
	pw := p.Password
	if pw.MinLength < 1 {
		v.add("policy.password.min_length", "must be at least 1, got %d", pw.MinLength)
	}
	for _, f := range []struct {
		k string
		n int
	}{{"min_letters", pw.MinLetters}, {"min_digits", pw.MinDigits}, {"min_other", pw.MinOther}, {"history", pw.History}, {"validity_days", pw.ValidityDays}} {
		if f.n < 0 {
			v.add("policy.password."+f.k, "must be 0 or more, got %d", f.n)
		}
	}
	v.nonEmpty("policy.password.never_expire_users", pw.NeverExpireUsers)
	u := p.Username
	if u.MinLength < 1 {
		v.add("policy.username.min_length", "must be at least 1, got %d", u.MinLength)
	}
	if u.MinLetters < 0 {
		v.add("policy.username.min_letters", "must be 0 or more")
	}
	if u.MinDigits < 0 {
		v.add("policy.username.min_digits", "must be 0 or more")
	}
	if u.MinOther < 0 {
		v.add("policy.username.min_other", "must be 0 or more")
	}
	if sum := u.MinLetters + u.MinDigits + u.MinOther; u.MinLength >= 1 && sum > 64 {
		v.add("policy.username", "min_letters + min_digits + min_other is %d; no username could be that long", sum)
	}
	r := p.PasswordReset
	v.positive("policy.password_reset.token_ttl", r.TokenTTL)
	if r.PerHour < 1 {
		v.add("policy.password_reset.per_hour", "must be at least 1")
	}
	if r.Enabled && v.c.SMTP.Host == "" {
		v.add("policy.password_reset.enabled", "needs smtp.host to send reset links")
	}
	l := p.Lockout
	if l.MaxAttempts < 1 {
		v.add("policy.lockout.max_attempts", "must be at least 1, got %d", l.MaxAttempts)
	}
	v.positive("policy.lockout.within", l.Within)
	v.positive("policy.lockout.lock_for", l.LockFor)
	t := p.Throttle
	if t.PerMinute < 0 {
		v.add("policy.throttle.per_minute", "must be 0 (off) or more, got %g", t.PerMinute)
	}
	if t.Burst < 1 {
		v.add("policy.throttle.burst", "must be at least 1, got %d", t.Burst)
	}
	if t.IPv6Prefix < 32 || t.IPv6Prefix > 128 {
		v.add("policy.throttle.ipv6_prefix", "must be between 32 and 128, got %d", t.IPv6Prefix)
	}

	names := map[string]bool{}
	for i, rule := range p.IPRules {
		rp := indexPath("policy.ip_rules", i)
		if v.required(rp+".name", rule.Name) {
			if names[rule.Name] {
				v.add(rp+".name", "duplicate IP rule %q", rule.Name)
			}
			names[rule.Name] = true
		}
		v.oneOf(rp+".state", rule.State, StateActive, StateInactive)
		v.oneOf(rp+".effect", rule.Effect, EffectAllow, EffectDeny)
		if rule.IsActive() && len(rule.Addresses) == 0 {
			v.add(rp+".addresses", "an active rule needs at least one address")
		}
		for j, a := range rule.Addresses {
			if _, err := policy.ParseAddress(a); err != nil {
				v.add(indexPath(rp+".addresses", j), "%v", err)
			}
		}
		for j, pr := range rule.Profiles {
			v.profileRef(indexPath(rp+".profiles", j), pr)
		}
		v.nonEmpty(rp+".units", rule.Units)
	}

	cc := p.ClientCert
	v.oneOf("policy.client_cert.map_by", cc.MapBy, CertMapUPN, CertMapEmail, CertMapCN)
	if cc.OCSPTimeout < 0 {
		v.add("policy.client_cert.ocsp_timeout", "must not be negative")
	}
	for i, f := range cc.CRLFiles {
		if f == "" {
			v.add(fmt.Sprintf("policy.client_cert.crl_files[%d]", i), "must not be empty")
		}
	}
	if cc.Enabled {
		if cc.Header == "" && cc.CAFile == "" {
			v.add("policy.client_cert.ca_file", "required when client certificates are enabled (or server.tls.client_ca_file)")
		}
		if cc.Header == "" && !v.c.Server.TLS.Enabled() {
			v.add("policy.client_cert.enabled", "needs server.tls (dirbridge terminating TLS) or a header set by a trusted proxy")
		}
		if cc.Header != "" && len(v.c.Server.TrustedProxies) == 0 {
			v.add("policy.client_cert.header", "needs server.trusted_proxies: the header is believed only from them")
		}
	}

	a := p.Argon2
	// Bounds as internal/password.Params.Validate, which refuses more.
	if a.Time < 1 || a.Time > 64 {
		v.add("policy.argon2.time", "must be between 1 and 64, got %d", a.Time)
	}
	if a.MemoryKiB > 4*1024*1024 {
		v.add("policy.argon2.memory_kib", "must be at most 4194304 (4 GiB), got %d", a.MemoryKiB)
	}
	if a.Threads < 1 {
		v.add("policy.argon2.threads", "must be at least 1")
	}
	if a.MemoryKiB < 8*uint32(max(a.Threads, 1)) {
		v.add("policy.argon2.memory_kib", "must be at least 8 × threads (%d)", 8*uint32(max(a.Threads, 1)))
	}
	if a.MaxConcurrent < 1 {
		v.add("policy.argon2.max_concurrent", "must be at least 1")
	}
}

func (v *validator) expiry() {
	e := v.c.Expiry
	if len(e.WarnDays) == 0 && e.Enabled {
		v.add("expiry.warn_days", "at least one threshold is required")
	}
	seen := map[int]bool{}
	for i, d := range e.WarnDays {
		switch {
		case d < 1:
			v.add(indexPath("expiry.warn_days", i), "must be at least 1 day, got %d", d)
		case seen[d]:
			v.add(indexPath("expiry.warn_days", i), "duplicate threshold %d", d)
		}
		seen[d] = true
	}
	if e.Enabled && e.Schedule == "" {
		v.add("expiry.schedule", "required when expiry is enabled")
	}
	v.cron("expiry.schedule", e.Schedule)
	if _, err := time.LoadLocation(e.TimeZone); err != nil || e.TimeZone == "" {
		v.add("expiry.time_zone", "unknown time zone %q (use an IANA name such as Europe/Paris, or Local)", e.TimeZone)
	}
	if e.ChangePasswordURL != "" {
		v.httpURL("expiry.change_password_url", e.ChangePasswordURL)
	} else if e.Enabled {
		v.add("expiry.change_password_url", "required when expiry is enabled (or set server.public_url)")
	}
	if e.RedirectTo != "" {
		v.email("expiry.redirect_to", e.RedirectTo)
	}
	for i, a := range e.AdminSummaryTo {
		v.email(indexPath("expiry.admin_summary_to", i), a)
	}
	if e.Retries < 0 {
		v.add("expiry.retries", "must be 0 or more")
	}
	v.positive("expiry.retry_backoff", e.RetryBackoff)
	if e.Enabled {
		if v.c.SMTP.Host == "" {
			v.add("expiry.enabled", "needs smtp.host to send notices")
		}
	}
}

func (v *validator) smtp() {
	s := v.c.SMTP
	v.oneOf("smtp.tls", s.TLS, SMTPStartTLS, SMTPTLS, SMTPNone)
	if s.Port < 1 || s.Port > 65535 {
		v.add("smtp.port", "must be between 1 and 65535, got %d", s.Port)
	}
	v.positive("smtp.timeout", s.Timeout)
	if s.Password.IsSet() && s.Username == "" {
		v.add("smtp.username", "required when smtp.password is set")
	}
	if s.Host != "" && s.From == "" {
		v.add("smtp.from", "required when smtp.host is set")
	}
	if s.From != "" {
		v.email("smtp.from", s.From)
	}
	if s.TLS == SMTPNone && s.Password.IsSet() && !isLoopback(s.Host) {
		v.add("smtp.tls", "none would send the SMTP password in clear to %s; use starttls or tls", s.Host)
	}
}

// kerberos checks sso.kerberos without reading the keytab (that is
// `dirbridge kerberos check`).
func (v *validator) kerberos() {
	k := v.c.SSO.Kerberos
	if k == nil {
		return
	}
	switch {
	case !k.Keytab.IsSet() && k.KeytabFile == "":
		v.add("sso.kerberos", "set keytab_file or keytab")
	case k.Keytab.IsSet() && k.KeytabFile != "":
		v.add("sso.kerberos.keytab_file", "set either keytab_file or keytab, not both")
	}
	if v.required("sso.kerberos.service_principal", k.ServicePrincipal) {
		name, realm, ok := strings.Cut(k.ServicePrincipal, "@")
		service, host, _ := strings.Cut(name, "/")
		if !ok || realm == "" || service == "" || host == "" || strings.Contains(host, "/") {
			v.add("sso.kerberos.service_principal", "must look like HTTP/host@REALM, got %q", k.ServicePrincipal)
		}
	}
	if len(k.Realms) == 0 {
		v.add("sso.kerberos.realms", "name at least one realm whose users may sign in")
	}
	seen := map[string]bool{}
	for i, r := range k.Realms {
		p := fmt.Sprintf("sso.kerberos.realms[%d]", i)
		if v.required(p+".realm", r.Realm) {
			if seen[strings.ToUpper(r.Realm)] {
				v.add(p+".realm", "%q is listed twice", r.Realm)
			}
			seen[strings.ToUpper(r.Realm)] = true
		}
		if !v.required(p+".directory", r.Directory) {
			continue
		}
		if !slices.ContainsFunc(v.c.Directories, func(d Directory) bool { return d.Name == r.Directory }) {
			v.add(p+".directory", "%q is not a configured directory", r.Directory)
		}
	}
	if k.MaxClockSkew < 0 || k.MaxClockSkew > 15*time.Minute {
		v.add("sso.kerberos.max_clock_skew", "must be between 0s and 15m, got %s", k.MaxClockSkew)
	}
}
