// Package daemon runs dirbridge's long-running process: internal/wire
// builds every component from the config (store, seeded profiles, sync
// engine and schedules, password-expiry notices, sign-in surface, admin
// API); the daemon starts them, serves the sign-in surface (password, SAML,
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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
)

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
		// RFC 3339 times, which log shippers and people read alike,
		// instead of zap's default epoch seconds.
		zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
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

	c, err := wire.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Error("close", zap.Error(err))
		}
	}()
	return serve(ctx, opts, cfg, c, log)
}

// serve starts the built components — the schedules, the sign-in
// methods, the HTTP server — and runs until ctx ends, a sign-in method
// cannot start or the server fails; SIGHUP reloads.
func serve(ctx context.Context, opts Options, cfg *config.Config, c *wire.Components, log *zap.Logger) error {
	// The schedulers run under ctx: shutdown cancels background runs.
	c.Scheduler.Start(ctx)
	defer c.Scheduler.Stop()
	if c.Expiry != nil {
		c.Expiry.Start(ctx)
		defer c.Expiry.Stop()
		log.Info("password-expiry notices scheduled", zap.String("schedule", cfg.Expiry.Schedule), zap.String("time_zone", cfg.Expiry.TimeZone))
	}
	publicURL, fellBack := wire.PublicURL(cfg)
	if fellBack {
		log.Warn("server.public_url is not set; sign-in links use the listen address", zap.String("public_url", publicURL))
	}
	srv, certs, err := newServer(cfg, c, log)
	if err != nil {
		return err
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
	go func() { ssoErr <- c.SignIn.Run(ssoCtx) }()

	errc := make(chan error, 1)
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	go func() {
		if srv.TLSConfig != nil {
			// Certificates are in TLSConfig already.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	log.Info("dirbridge serving", zap.String("addr", ln.Addr().String()), zap.String("scheme", scheme),
		zap.String("public_url", publicURL), zap.String("version", opts.Version))

	rl := &reloader{log: log.Named("reload"), path: opts.ConfigPath, started: cfg, st: c.Store, sync: c.Sync,
		signin: c.SignIn, admin: c.Admin, level: opts.Level, certs: certs}
	err = wait(ctx, rl, ssoErr, errc, log)
	if err != nil && !errors.Is(err, errSignIn) {
		return err // the server failed: nothing to shut down
	}
	return shutdown(ctx, srv, cfg, log, err)
}

// errSignIn marks wait's error when a sign-in method could not start.
var errSignIn = errors.New("sign-in")

// wait runs until ctx ends (nil), a sign-in method cannot start (an error
// wrapping errSignIn) or the HTTP server fails; SIGHUP reloads.
func wait(ctx context.Context, rl *reloader, ssoErr, errc <-chan error, log *zap.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			rl.reload(ctx)
		case err := <-ssoErr:
			if err != nil {
				log.Error("sign-in could not start; shutting down", zap.Error(err))
				return fmt.Errorf("%w: %w", errSignIn, err)
			}
			ssoErr = nil // ended with ctx; shutdown follows
		case err := <-errc:
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
			return nil
		}
	}
}

// shutdown gives in-flight requests server.shutdown_timeout to finish and
// returns runErr joined with a failed shutdown's error.
func shutdown(ctx context.Context, srv *http.Server, cfg *config.Config, log *zap.Logger, runErr error) error {
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

// newServer is the HTTP server over c's handlers, with TLS from server.tls
// (certs re-reads its certificate on SIGHUP; nil without TLS).
func newServer(cfg *config.Config, c *wire.Components, log *zap.Logger) (*http.Server, *certReloader, error) {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dirbridge_http_requests_total", Help: "HTTP requests by code and method."}, []string{"code", "method"})
	c.Registry.MustRegister(reqs)
	tlsConf, err := wire.ServerTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	var certs *certReloader
	if tlsConf != nil {
		if certs, err = newCertReloader(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			return nil, nil, err
		}
		tlsConf.Certificates, tlsConf.GetCertificate = nil, certs.get
	}
	h := recoverPanics(log, verifyFast(c.SignIn, promhttp.InstrumentHandlerCounter(reqs, routes(c))))
	srv := &http.Server{Handler: h, ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		TLSConfig: tlsConf, ErrorLog: zap.NewStdLog(log.Named("http"))}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = 10 * time.Second
	}
	return srv, certs, nil
}

// routes is the public mux: probes, metrics, the admin API under
// /api/v1/, the console at / and /admin, and the sign-in surface on every
// other path (/login, /logout, /auth/verify, /password/*, /saml/*, /oidc/*,
// /login/certificate).
func routes(c *wire.Components) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := Ready(r.Context(), c.Store); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !c.SignIn.Started() {
			http.Error(w, "sign-in methods starting (IdP metadata, OIDC discovery)", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", c.Admin)
	mux.Handle("GET /api/v1/me", meHandler(c.Admin, c.SignIn))
	// The console: My account at / (where a sign-in without a return URL
	// lands) and the administration pages under /admin.
	mux.Handle("GET /{$}", c.Console)
	mux.Handle("/admin", c.Console)
	mux.Handle("/admin/", c.Console)
	mux.Handle("/", c.SignIn)
	return mux
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
