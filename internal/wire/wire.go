// Package wire is the one place that turns a loaded *config.Config into
// dirbridge's components: the store (and its seeded profiles), the password
// hasher, the metrics registry, the LDAP/AD sources, the mappers, the sync
// engine's Runner and Scheduler, the mailer and the expiry job, the sign-in
// service with its SAML and OIDC methods, and the admin API. Build makes
// all of them for the daemon; the CLI and the tests call the builders of
// the parts they need.
//
// config converts only into the pure packages it already depends on
// (mapping, privilege, store), so it never imports sync/ldap or expiry; the
// daemon, the CLI (dirbridge sync, directory, expiry) and the tests all
// need the same conversions, and a field added to config must reach every
// one of them. Keeping them here means one edit, not drifting copies (the
// daemon's own copy once dropped store.max_open_conns for everyone else).
package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/backend"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// Store opens the configured store backend (store/backend) with every
// store.* setting and applies pending migrations.
func Store(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := backend.Open(ctx, cfg.Store.Driver, cfg.Store.DSN.Value(),
		backend.WithMaxOpenConns(cfg.Store.MaxOpenConns))
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", orDefault(cfg.Store.Driver, "sqlite"), err)
	}
	return st, nil
}

// SeedProfiles creates or updates the profiles listed in the config
// (FromConfig=true), keeping each one's creation time. Profiles created
// through the API are left alone.
func SeedProfiles(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) error {
	return st.Tx(ctx, func(tx store.Tx) error {
		for _, p := range cfg.StoreProfiles() {
			p.CreatedAt, p.UpdatedAt = now.UTC(), now.UTC()
			old, err := tx.GetProfile(ctx, p.Name)
			switch {
			case err == nil:
				p.CreatedAt = old.CreatedAt
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("seed profile %q: %w", p.Name, err)
			}
			if err := tx.PutProfile(ctx, p); err != nil {
				return fmt.Errorf("seed profile %q: %w", p.Name, err)
			}
		}
		return nil
	})
}

// PasswordParams are the argon2id parameters of policy.argon2 for new
// hashes.
func PasswordParams(cfg *config.Config) password.Params {
	a := cfg.Policy.Argon2
	return password.Params{Memory: a.MemoryKiB, Iterations: a.Time, Parallelism: a.Threads, SaltLength: 16, KeyLength: 32}
}

// Hasher hashes and checks local passwords with policy.argon2, at most
// policy.argon2.max_concurrent at once.
func Hasher(cfg *config.Config) (*password.Hasher, error) {
	h, err := password.NewHasher(PasswordParams(cfg), cfg.Policy.Argon2.MaxConcurrent)
	if err != nil {
		return nil, fmt.Errorf("policy.argon2: %w", err)
	}
	return h, nil
}

// Registry is the daemon's metrics registry, with the Go runtime's and the
// process's collectors.
func Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), buildInfo())
	return reg
}

// Version is the binary's version, set by the command at start (it comes
// from the linker flags of cmd/dirbridge).
var Version = "dev"

// buildInfo is dirbridge_build_info{version, revision, goversion} = 1, the
// usual way to see which build each replica runs.
func buildInfo() prometheus.Collector {
	revision, goVersion := "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dirbridge", Name: "build_info",
		Help:        "The running build: version, VCS revision and Go version (always 1).",
		ConstLabels: prometheus.Labels{"version": Version, "revision": revision, "goversion": goVersion}})
	g.Set(1)
	return g
}

// LDAPConfig is the sync/ldap configuration of directory d. The fields
// correspond one to one (docs/configuration.md); logger may be nil.
func LDAPConfig(d config.Directory, logger *zap.Logger) ldap.Config {
	if logger == nil {
		logger = zap.NewNop()
	}
	return ldap.Config{
		Name:                  d.Name,
		Kind:                  d.Kind,
		URLs:                  append([]string(nil), d.URLs...),
		StartTLS:              d.StartTLS,
		CAFile:                d.CAFile,
		ClientCertFile:        d.ClientCertFile,
		ClientKeyFile:         d.ClientKeyFile,
		InsecureSkipVerify:    d.InsecureSkipVerify,
		BindDN:                d.BindDN,
		BindPassword:          d.BindPassword.Value(),
		BaseDN:                d.BaseDN,
		UserBaseDN:            d.UserBaseDN,
		GroupBaseDN:           d.GroupBaseDN,
		PageSize:              d.PageSize,
		RangeSize:             d.RangeSize,
		ConnectTimeout:        d.ConnectTimeout,
		ReadTimeout:           d.ReadTimeout,
		ExtraAttributes:       append([]string(nil), d.Attributes...),
		DisabledFilter:        d.DisabledFilter,
		UserFilter:            d.UserFilter,
		ReadPasswordExpiry:    d.ReadPasswordExpiry,
		PasswordPolicyDN:      d.PasswordPolicyDN,
		AllowPlainPassthrough: d.AllowPlainPassthrough,
		IncrementalOverlap:    d.IncrementalOverlap,
		// sync/ldap names its logger "ldap" and adds the directory itself.
		Logger: logger,
	}
}

// Source builds the LDAP/AD source of the directory named dir.
func Source(cfg *config.Config, dir string, logger *zap.Logger) (*ldap.Source, error) {
	d, ok := cfg.Directory(dir)
	if !ok {
		return nil, fmt.Errorf("unknown directory %q (config has %s)", dir, dirNames(cfg))
	}
	src, err := ldap.New(LDAPConfig(d, logger))
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w", d.Name, err)
	}
	return src, nil
}

// Mapper builds the mapper of the directory named dir from
// config.MappingConfig (directory rules before global ones, templates,
// default profile, user template).
func Mapper(cfg *config.Config, dir string) (*mapping.Mapper, error) {
	mc, err := cfg.MappingConfig(dir)
	if err != nil {
		return nil, err
	}
	m, err := mapping.NewMapper(mc)
	if err != nil {
		return nil, fmt.Errorf("directory %s: mapping: %w", dir, err)
	}
	return m, nil
}

// Directory builds the engine's view of one configured directory around
// src (the caller keeps src for pass-through sign-in).
func Directory(cfg *config.Config, d config.Directory, src *ldap.Source) (engine.Directory, error) {
	m, err := Mapper(cfg, d.Name)
	if err != nil {
		return engine.Directory{}, err
	}
	linkBy, err := mapping.ParseLinkBy(d.LinkBy)
	if err != nil {
		return engine.Directory{}, fmt.Errorf("directory %s: link_by: %w", d.Name, err)
	}
	return engine.Directory{
		Name:         d.Name,
		Source:       src,
		Groups:       append([]string(nil), d.Groups...),
		Mapper:       m,
		LinkBy:       linkBy,
		Limits:       engine.Limits{MaxCount: d.MaxDeactivations.Count, MaxPercent: d.MaxDeactivations.Percent},
		Schedule:     d.Schedule,
		FullSchedule: d.FullSchedule,
		RunAtStart:   d.SyncOnStart,
	}, nil
}

// Sync is the wired sync engine: the Runner, the LDAP source of every
// directory by name (the sign-in service checks directory passwords
// through them) and their mappers, which ReloadMappers replaces in place.
type Sync struct {
	Runner  *engine.Runner
	Sources map[string]*ldap.Source
	mappers map[string]*swapMapper
}

// Runner builds the sync engine's Runner over st with one LDAP/AD source
// and one reloadable mapper per configured directory. logger and reg may
// be nil; reg receives the sync metrics. The components name their own
// loggers (sync, ldap), so pass the root logger.
func Runner(cfg *config.Config, st store.Store, logger *zap.Logger, reg prometheus.Registerer) (Sync, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	s := Sync{Sources: make(map[string]*ldap.Source, len(cfg.Directories)), mappers: make(map[string]*swapMapper, len(cfg.Directories))}
	dirs := make([]engine.Directory, 0, len(cfg.Directories))
	for _, d := range cfg.Directories {
		src, err := ldap.New(LDAPConfig(d, logger))
		if err != nil {
			return Sync{}, fmt.Errorf("directory %s: %w", d.Name, err)
		}
		ed, err := Directory(cfg, d, src)
		if err != nil {
			return Sync{}, err
		}
		m := &swapMapper{}
		m.p.Store(ed.Mapper.(*mapping.Mapper))
		ed.Mapper = m
		s.Sources[d.Name], s.mappers[d.Name] = src, m
		dirs = append(dirs, ed)
	}
	r, err := engine.NewRunner(st, dirs, engine.Options{Logger: logger, Registerer: reg})
	if err != nil {
		return Sync{}, fmt.Errorf("sync runner: %w", err)
	}
	s.Runner = r
	return s, nil
}

// PasswordCheckers are the directories' sources as the sign-in service
// uses them: checking and changing directory users' passwords.
func (s Sync) PasswordCheckers() (map[string]sso.PasswordChecker, map[string]sso.PasswordChanger) {
	checkers := make(map[string]sso.PasswordChecker, len(s.Sources))
	changers := make(map[string]sso.PasswordChanger, len(s.Sources))
	for name, src := range s.Sources {
		checkers[name], changers[name] = src, src
	}
	return checkers, changers
}

// ReloadMappers builds every directory's mapper from cfg and swaps them in
// only when all build: a reload never leaves half the directories on new
// rules. Directories added or removed need a restart and are left alone.
// It returns how many mappers it replaced.
func (s Sync) ReloadMappers(cfg *config.Config) (int, error) {
	next := map[string]*mapping.Mapper{}
	for name := range s.mappers {
		if _, ok := cfg.Directory(name); !ok {
			continue
		}
		m, err := Mapper(cfg, name)
		if err != nil {
			return 0, err
		}
		next[name] = m
	}
	for name, m := range next {
		s.mappers[name].p.Store(m)
	}
	return len(next), nil
}

// swapMapper is a directory's mapper that ReloadMappers can replace while
// the Runner and the admin API hold it. A run loads the pointer once per
// MapAll, so one plan never mixes old and new rules.
type swapMapper struct {
	p atomic.Pointer[mapping.Mapper]
}

func (s *swapMapper) MapAll(users []directory.User, groups []directory.Group, existing map[string]*store.User) ([]mapping.Result, []mapping.Warning) {
	return s.p.Load().MapAll(users, groups, existing)
}

// Scheduler builds the sync scheduler for r: each directory's schedule and
// full_schedule, the lease shared by replicas. Cron expressions are read in
// the local time zone, as crontab does.
func Scheduler(r *engine.Runner, st store.Store, logger *zap.Logger) (*engine.Scheduler, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	s, err := engine.NewScheduler(r, st, engine.SchedulerOptions{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("sync scheduler: %w", err)
	}
	return s, nil
}

// ExpiryConfig is the expiry job's configuration from cfg.Expiry and the
// sender from cfg.SMTP.
func ExpiryConfig(cfg *config.Config) (expiry.Config, error) {
	loc, err := cfg.Expiry.Location()
	if err != nil {
		return expiry.Config{}, fmt.Errorf("expiry.time_zone %q: %w", cfg.Expiry.TimeZone, err)
	}
	return expiry.Config{
		WarnDays:          append([]int(nil), cfg.Expiry.WarnDays...),
		Location:          loc,
		ChangePasswordURL: cfg.Expiry.ChangePasswordURL,
		From:              cfg.SMTP.From,
		RedirectTo:        cfg.Expiry.RedirectTo,
		AdminSummaryTo:    append([]string(nil), cfg.Expiry.AdminSummaryTo...),
		Retries:           cfg.Expiry.Retries,
		RetryBase:         cfg.Expiry.RetryBackoff,
	}, nil
}

// SMTPConfig is the mailer configuration from cfg.SMTP; smtp.ca_file, when
// set, replaces the system roots for verifying the server.
func SMTPConfig(cfg *config.Config) (expiry.SMTPConfig, error) {
	s := cfg.SMTP
	out := expiry.SMTPConfig{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password.Value()}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return expiry.SMTPConfig{}, fmt.Errorf("smtp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return expiry.SMTPConfig{}, fmt.Errorf("smtp.ca_file %s: no PEM certificates", s.CAFile)
		}
		out.TLSConfig = &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}
	return out, nil
}

// Mailer is the SMTP mailer of smtp.*, shared by the expiry notices and
// the password-reset mails. Without smtp.host it refuses every send with
// a clear error.
func Mailer(cfg *config.Config) (expiry.Mailer, error) {
	if cfg.SMTP.Host == "" {
		return noMailer{}, nil
	}
	sc, err := SMTPConfig(cfg)
	if err != nil {
		return nil, err
	}
	m, err := expiry.NewSMTPMailer(sc)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return m, nil
}

// ExpiryJob builds the password/account-expiry notice job over st. Without
// smtp.host it gets a mailer that refuses: such a job can still report and
// dry-run, and a real run fails on the first send with a clear error. reg
// may be nil.
func ExpiryJob(cfg *config.Config, st store.Store, logger *zap.Logger, reg prometheus.Registerer) (*expiry.Job, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	ec, err := ExpiryConfig(cfg)
	if err != nil {
		return nil, err
	}
	mailer, err := Mailer(cfg)
	if err != nil {
		return nil, fmt.Errorf("expiry: %w", err)
	}
	tpl, err := expiry.LoadTemplates(cfg.Expiry.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("expiry.templates_dir: %w", err)
	}
	var metrics *expiry.Metrics
	if reg != nil {
		metrics = expiry.NewMetrics(reg)
	}
	job, err := expiry.NewJob(ec, st, mailer, tpl, metrics, logger)
	if err != nil {
		return nil, fmt.Errorf("expiry job: %w", err)
	}
	return job, nil
}

// ExpiryScheduler runs job on expiry.schedule in expiry.time_zone; holder
// names this replica in the lease (empty: host name and pid).
func ExpiryScheduler(cfg *config.Config, job *expiry.Job, holder string) (*expiry.Scheduler, error) {
	loc, err := cfg.Expiry.Location()
	if err != nil {
		return nil, fmt.Errorf("expiry.time_zone %q: %w", cfg.Expiry.TimeZone, err)
	}
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	s, err := expiry.NewScheduler(job, cfg.Expiry.Schedule, loc, holder, time.Now)
	if err != nil {
		return nil, fmt.Errorf("expiry scheduler: %w", err)
	}
	return s, nil
}

// noMailer refuses to send: the config has no smtp.host.
type noMailer struct{}

func (noMailer) Send(context.Context, expiry.Message) error {
	return fmt.Errorf("smtp.host is not configured; cannot send mail")
}

func dirNames(cfg *config.Config) string {
	if len(cfg.Directories) == 0 {
		return "no directories"
	}
	s := ""
	for i, d := range cfg.Directories {
		if i > 0 {
			s += ", "
		}
		s += d.Name
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
