// Package daemon wires dirbridge's long-running process: it opens the
// store, seeds the config's profiles, serves /healthz, /readyz, /metrics
// and the admin API, reloads what is safe on SIGHUP and shuts down
// gracefully. cmd/dirbridge stays a thin CLI around it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// OpenStore opens the configured backend; migrations are applied on open.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case config.DriverSQLite, "":
		st, err := sqlite.Open(ctx, cfg.Store.DSN.Value())
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("open store: driver %q is not available in this build", cfg.Store.Driver)
	}
}

// Catalogue builds the privilege catalogue from the config.
func Catalogue(cfg *config.Config) (*privilege.Catalogue, error) {
	var app []privilege.Info
	for _, p := range cfg.Privileges {
		app = append(app, privilege.Info{Name: p.Name, Group: p.Group, Description: p.Description})
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
	var zc zap.Config
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
	} else {
		zc = zap.NewProductionConfig()
	}
	if level != "" {
		l, err := zap.ParseAtomicLevel(level)
		if err != nil {
			return nil, fmt.Errorf("log level %q: %w", level, err)
		}
		zc.Level = l
	}
	return zc.Build()
}

// Options start the daemon.
type Options struct {
	ConfigPath string
	Logger     *zap.Logger
	Version    string
	// Listener, when set, is used instead of listening on server.listen
	// (tests).
	Listener net.Listener
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives, then shuts down:
// in-flight requests get server.shutdown_timeout to finish, background
// jobs are cancelled.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("load config %s: %w", opts.ConfigPath, err)
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
	var proxies []netip.Prefix
	for _, p := range cfg.Server.TrustedProxies {
		if pf, err := netip.ParsePrefix(p); err == nil {
			proxies = append(proxies, pf)
		} else if a, err := netip.ParseAddr(p); err == nil {
			proxies = append(proxies, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	var dirs []string
	for _, d := range cfg.Directories {
		dirs = append(dirs, d.Name)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	runner, sources, err := BuildRunner(cfg, st, log.Named("sync"), reg)
	if err != nil {
		return err
	}
	defer runner.Close()
	sched, err := engine.NewScheduler(runner, st, engine.SchedulerOptions{})
	if err != nil {
		return fmt.Errorf("sync scheduler: %w", err)
	}
	// The scheduler runs under ctx: shutdown cancels background runs.
	sched.Start(ctx)
	defer sched.Stop()

	api, err := admin.New(admin.Options{Store: st, Logger: log, Privileges: cat, Directories: dirs, Hasher: hasher,
		TrustedProxies: proxies, Sync: syncTrigger{runner}})
	if err != nil {
		return err
	}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dirbridge_http_requests_total", Help: "HTTP requests by code and method."}, []string{"code", "method"})
	reg.MustRegister(reqs)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := Ready(r.Context(), st); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", api)

	// The sign-in surface owns every other path (/login, /auth/verify, ...).
	// SAML and OIDC methods are added with AddMethod once their wiring lands.
	checkers := map[string]sso.PasswordChecker{}
	changers := map[string]sso.PasswordChanger{}
	for name, src := range sources {
		checkers[name], changers[name] = src, src
	}
	publicURL := cfg.Server.PublicURL
	if publicURL == "" {
		// Without a public URL sign-in links point at the listener; fine
		// for a first start on one host, wrong behind a proxy.
		host := cfg.Server.Listen
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		publicURL = "http://" + host
		log.Warn("server.public_url is not set; sign-in links use the listen address", zap.String("public_url", publicURL))
	}
	signin, err := sso.New(sso.Options{Store: st, Logger: log, PublicURL: publicURL, Enforce: cfg.SSO.Enforce,
		Hasher: hasher, Directories: checkers, Changers: changers, Catalogue: cat, TrustedProxies: proxies})
	if err != nil {
		return fmt.Errorf("sign-in service: %w", err)
	}
	go func() {
		if err := signin.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("sign-in background jobs stopped", zap.Error(err))
		}
	}()
	mux.Handle("/", signin)

	srv := &http.Server{Handler: promhttp.InstrumentHandlerCounter(reqs, mux), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = 10 * time.Second
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("dirbridge serving", zap.String("addr", ln.Addr().String()), zap.String("version", opts.Version))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			reload(ctx, log, opts.ConfigPath, cfg, st)
			continue
		case err := <-errc:
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
		}
		break
	}
	timeout := cfg.Server.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("shutting down", zap.Duration("timeout", timeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
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

// reload re-reads the config on SIGHUP: profiles are re-seeded; settings
// that need a restart (store, listen address, TLS) are logged, not applied.
func reload(ctx context.Context, log *zap.Logger, path string, old *config.Config, st store.Store) {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("reload: config invalid; keeping the running one", zap.Error(err))
		return
	}
	var restart []string
	if cfg.Store.Driver != old.Store.Driver || cfg.Store.DSN.Value() != old.Store.DSN.Value() {
		restart = append(restart, "store")
	}
	if cfg.Server.Listen != old.Server.Listen {
		restart = append(restart, "server.listen")
	}
	if cfg.Server.TLS != old.Server.TLS {
		restart = append(restart, "server.tls")
	}
	if len(restart) > 0 {
		log.Warn("reload: these settings need a restart and were not applied", zap.String("settings", strings.Join(restart, ", ")))
	}
	if err := SeedProfiles(ctx, st, cfg, time.Now()); err != nil {
		log.Error("reload: profiles", zap.Error(err))
		return
	}
	log.Info("reload: profiles re-applied", zap.Int("profiles", len(cfg.Profiles)))
}
