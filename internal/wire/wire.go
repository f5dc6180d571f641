// Package wire is the one place that turns a loaded *config.Config into the
// options of the components that have runtime state: the LDAP/AD sources,
// the mappers, the sync engine's Runner and Scheduler, and the expiry job.
//
// config converts only into the pure packages it already depends on
// (mapping, privilege, store), so it never imports sync/ldap or expiry; the
// daemon, the CLI (dirbridge sync, directory, expiry) and the demo all need
// the same conversions, and a field added to config must reach every one of
// them. Keeping them here means one edit, not three drifting copies.
package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/backend"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// Store opens the configured store backend (store/backend) and applies
// pending migrations.
func Store(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := backend.Open(ctx, cfg.Store.Driver, cfg.Store.DSN.Value())
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", orDefault(cfg.Store.Driver, "sqlite"), err)
	}
	return st, nil
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

// Sync is the wired sync engine: the Runner and the LDAP source of every
// directory by name (the sign-in service checks directory passwords
// through them).
type Sync struct {
	Runner  *engine.Runner
	Sources map[string]*ldap.Source
}

// Runner builds the sync engine's Runner over st with one LDAP/AD source
// and one mapper per configured directory. logger and reg may be nil; reg
// receives the sync metrics. The components name their own loggers (sync,
// ldap), so pass the root logger.
func Runner(cfg *config.Config, st store.Store, logger *zap.Logger, reg prometheus.Registerer) (Sync, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	sources := make(map[string]*ldap.Source, len(cfg.Directories))
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
		sources[d.Name] = src
		dirs = append(dirs, ed)
	}
	r, err := engine.NewRunner(st, dirs, engine.Options{Logger: logger, Registerer: reg})
	if err != nil {
		return Sync{}, fmt.Errorf("sync runner: %w", err)
	}
	return Sync{Runner: r, Sources: sources}, nil
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

// ExpiryJob builds the password/account-expiry notice job over st. Without
// smtp.host it gets no mailer: such a job can still report and dry-run, and
// a real run fails on the first send with a clear error. reg may be nil.
func ExpiryJob(cfg *config.Config, st store.Store, logger *zap.Logger, reg prometheus.Registerer) (*expiry.Job, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	ec, err := ExpiryConfig(cfg)
	if err != nil {
		return nil, err
	}
	var mailer expiry.Mailer = noMailer{}
	if cfg.SMTP.Host != "" {
		sc, err := SMTPConfig(cfg)
		if err != nil {
			return nil, err
		}
		m, err := expiry.NewSMTPMailer(sc)
		if err != nil {
			return nil, fmt.Errorf("expiry: %w", err)
		}
		mailer = m
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
