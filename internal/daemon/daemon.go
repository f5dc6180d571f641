// Package daemon wires dirbridge's long-running process: it opens the
// store, seeds the config's profiles, schedules the sync and the
// password-expiry notices, serves the sign-in surface (password, SAML,
// OIDC, certificates, forward auth), /healthz, /readyz, /metrics and the
// admin API, reloads what is safe on SIGHUP and shuts down gracefully.
// cmd/dirbridge stays a thin CLI around it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/backend"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// OpenStore opens the configured backend through store/backend, as every
// other entry point does; migrations are applied on open.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := backend.Open(ctx, cfg.Store.Driver, cfg.Store.DSN.Value(),
		backend.WithMaxOpenConns(cfg.Store.MaxOpenConns))
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.Store.Driver, err)
	}
	return st, nil
}

// Catalogue builds the privilege catalogue from the config.
func Catalogue(cfg *config.Config) (*privilege.Catalogue, error) {
	var app []privilege.Info
	for _, p := range cfg.Privileges {
		app = append(app, privilege.Info{Name: p.Name, Group: p.Group, Description: p.Description, Scoped: p.Scoped, Requires: p.Requires})
	}
	c, err := privilege.NewCatalogue(app)
	if err != nil {
		return nil, fmt.Errorf("privileges: %w", err)
	}
	return c, nil
}

// SeedProfiles creates or updates the profiles listed in the config
// (FromConfig=true). Profiles created through the API are left alone.
func SeedProfiles(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) error {
	return st.Tx(ctx, func(tx store.Tx) error {
		for _, p := range cfg.Profiles {
			old, err := tx.GetProfile(ctx, p.Name)
			created := now.UTC()
			if err == nil {
				created = old.CreatedAt
			} else if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("seed profile %q: %w", p.Name, err)
			}
			np := store.Profile{Name: p.Name, Description: p.Description, Privileges: privilege.NewSet(p.Privileges...),
				FromConfig: true, CreatedAt: created, UpdatedAt: now.UTC()}
			if err := tx.PutProfile(ctx, np); err != nil {
				return fmt.Errorf("seed profile %q: %w", p.Name, err)
			}
		}
		return nil
	})
}

// NewLogger builds the zap logger: JSON by default, console on request.
func NewLogger(format, level string) (*zap.Logger, error) {
	log, _, err := NewLevelLogger(format, level)
	return log, err
}

// NewLevelLogger is NewLogger that also returns the logger's level, so
// Run can apply log.level from the config at start and on SIGHUP
// (Options.Level).
func NewLevelLogger(format, level string) (*zap.Logger, zap.AtomicLevel, error) {
	var zc zap.Config
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
		// Readable, but without a stack trace under every warning (a
		// refused sign-in is a warning): only errors get one.
		zc.Development = false
		zc.DisableStacktrace = true
	} else {
		zc = zap.NewProductionConfig()
	}
	if level != "" {
		l, err := zap.ParseAtomicLevel(level)
		if err != nil {
			return nil, zap.AtomicLevel{}, fmt.Errorf("log level %q: %w", level, err)
		}
		zc.Level = l
	}
	log, err := zc.Build(zap.AddStacktrace(zap.ErrorLevel))
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("build logger: %w", err)
	}
	return log, zc.Level, nil
}

// Options start the daemon.
type Options struct {
	ConfigPath string
	Logger     *zap.Logger
	// Level is Logger's level (NewLevelLogger); when set, the config's
	// log.level is applied to it at start and on SIGHUP. Without it the
	// level is whatever Logger was built with.
	Level   *zap.AtomicLevel
	Version string
	// Listener, when set, is used instead of listening on server.listen
	// (tests). With server.tls it is wrapped in TLS.
	Listener net.Listener
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives, then shuts down:
// in-flight requests get server.shutdown_timeout to finish, background
// jobs are cancelled. A sign-in method that cannot start (IdP metadata or
// OIDC discovery unreachable at start) ends Run with an error: a login
// button that cannot work is worse than a restart by the supervisor.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("load config %s: %w", opts.ConfigPath, err)
	}
	if opts.Level != nil {
		if l, err := zap.ParseAtomicLevel(cfg.Log.Level); err == nil {
			opts.Level.SetLevel(l.Level())
		}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := SeedProfiles(ctx, st, cfg, time.Now()); err != nil {
		return err
	}
	cat, err := Catalogue(cfg)
	if err != nil {
		return err
	}
	hasher, err := password.NewHasher(password.Params{Memory: cfg.Policy.Argon2.MemoryKiB, Iterations: cfg.Policy.Argon2.Time,
		Parallelism: cfg.Policy.Argon2.Threads, SaltLength: 16, KeyLength: 32}, cfg.Policy.Argon2.MaxConcurrent)
	if err != nil {
		return err
	}
	proxies := cfg.Server.TrustedProxyPrefixes()
	var dirs []string
	for _, d := range cfg.Directories {
		dirs = append(dirs, d.Name)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	sp, err := buildSync(cfg, st, log, reg)
	if err != nil {
		return err
	}
	runner := sp.runner
	defer runner.Close()
	sched, err := engine.NewScheduler(runner, st, engine.SchedulerOptions{Logger: log})
	if err != nil {
		return fmt.Errorf("sync scheduler: %w", err)
	}
	// The scheduler runs under ctx: shutdown cancels background runs.
	sched.Start(ctx)
	defer sched.Stop()

	// Password-expiry notices (expiry.enabled): every replica schedules,
	// the store lease lets one of them send.
	if cfg.Expiry.Enabled {
		job, err := wire.ExpiryJob(cfg, st, log, reg)
		if err != nil {
			return err
		}
		es, err := wire.ExpiryScheduler(cfg, job, "")
		if err != nil {
			return err
		}
		es.Start(ctx)
		defer es.Stop()
		log.Info("password-expiry notices scheduled", zap.String("schedule", cfg.Expiry.Schedule), zap.String("time_zone", cfg.Expiry.TimeZone))
	}

	mappings, err := entryMappings(cfg, sp.mappers)
	if err != nil {
		return err
	}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dirbridge_http_requests_total", Help: "HTTP requests by code and method."}, []string{"code", "method"})
	reg.MustRegister(reqs)

	publicURL, fellBack := wire.PublicURL(cfg)
	if fellBack {
		log.Warn("server.public_url is not set; sign-in links use the listen address", zap.String("public_url", publicURL))
	}
	// The sign-in surface owns every other path: /login, /logout,
	// /auth/verify, /password/*, /saml/*, /oidc/*, /login/certificate.
	signin, err := buildSignIn(cfg, st, log, hasher, sp.sources, cat, reg)
	if err != nil {
		return fmt.Errorf("sign-in service: %w", err)
	}
	// The admin API changes and resets passwords through the sign-in
	// service and the directories' sources, so it is built after them.
	api, err := admin.New(admin.Options{Store: st, Logger: log, Privileges: cat, Directories: dirs, Hasher: hasher,
		TrustedProxies: proxies, Sync: syncTrigger{runner}, Mappings: mappings, TokenTTL: cfg.API.TokenTTL,
		Passwords: wire.AdminPasswords(signin, sp.sources), PasswordHistory: cfg.Policy.Password.History,
		Usernames: wire.UsernamePolicy(cfg), UserTemplates: wire.AdminUserTemplates(cfg), Inviter: wire.Inviter(signin, cfg)})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := Ready(r.Context(), st); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !signin.Started() {
			http.Error(w, "sign-in methods starting (IdP metadata, OIDC discovery)", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", api)
	mux.Handle("GET /api/v1/me", meHandler(api, signin))
	mux.Handle("/", signin)

	tlsConf, err := wire.ServerTLS(cfg)
	if err != nil {
		return err
	}
	var certs *certReloader
	if tlsConf != nil {
		if certs, err = newCertReloader(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			return err
		}
		tlsConf.Certificates, tlsConf.GetCertificate = nil, certs.get
	}
	srv := &http.Server{Handler: recoverPanics(log, verifyFast(signin, promhttp.InstrumentHandlerCounter(reqs, mux))), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		TLSConfig: tlsConf, ErrorLog: zap.NewStdLog(log.Named("http"))}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = 10 * time.Second
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}

	// Sign-in methods start (IdP metadata, discovery) beside the listener;
	// /readyz answers 503 until they have.
	ssoCtx, stopSSO := context.WithCancel(ctx)
	defer stopSSO()
	ssoErr := make(chan error, 1)
	go func() { ssoErr <- signin.Run(ssoCtx) }()

	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			// Certificates are in TLSConfig already.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	log.Info("dirbridge serving", zap.String("addr", ln.Addr().String()), zap.String("scheme", scheme),
		zap.String("public_url", publicURL), zap.String("version", opts.Version))

	rl := &reloader{log: log.Named("reload"), path: opts.ConfigPath, started: cfg, st: st, sync: sp, signin: signin, level: opts.Level, certs: certs}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
loop:
	for {
		select {
		case <-hup:
			rl.reload(ctx)
		case err := <-ssoErr:
			if err != nil {
				runErr = fmt.Errorf("sign-in: %w", err)
				log.Error("sign-in could not start; shutting down", zap.Error(err))
				break loop
			}
			ssoErr = nil // ended with ctx; shutdown follows
		case err := <-errc:
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
			break loop
		}
	}
	timeout := cfg.Server.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("shutting down", zap.Duration("timeout", timeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	return runErr
}

// Ready checks the store answers and every migration is applied.
func Ready(ctx context.Context, st store.Store) error {
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	applied, latest, err := st.MigrationVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if applied < latest {
		return fmt.Errorf("migrations: %d of %d applied", applied, latest)
	}
	return nil
}
