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
	"crypto/tls"
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
	"github.com/dirbridge/dirbridge/internal/tracing"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/scim"
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
	zc := zapConfig(format)
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

// zapConfig is the one logger setup for a format, whatever the output
// (stderr here, log.file in logfile.go).
func zapConfig(format string) zap.Config {
	if format == "console" {
		zc := zap.NewDevelopmentConfig()
		// Readable, but without a stack trace under every warning (a
		// refused sign-in is a warning): only errors get one.
		zc.Development = false
		zc.DisableStacktrace = true
		return zc
	}
	zc := zap.NewProductionConfig()
	// RFC 3339 times, which log shippers and people read alike,
	// instead of zap's default epoch seconds.
	zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	return zc
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
	// InternalListener, when set, is used instead of listening on
	// server.internal_listen (tests); it needs server.internal_listen set.
	InternalListener net.Listener
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
	if cfg.Log.File != "" {
		// From here on the daemon logs to log.file; say so where the
		// operator is looking now.
		fileLog, closeFile, err := newFileLogger(cfg.Log, fileLevel(opts.Level, opts.Logger, cfg.Log.Level))
		if err != nil {
			return err
		}
		defer closeFile()
		log.Info("logging to file", zap.String("file", cfg.Log.File))
		log = fileLog
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	stopTracing, err := tracing.Setup(ctx, cfg.Tracing, opts.Version)
	if err != nil {
		return err
	}
	defer func() {
		// Flush the last spans, with a moment of its own: ctx is done.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("tracing: flush at shutdown", zap.Error(err))
		}
	}()
	if cfg.Tracing.OTLPEndpoint != "" {
		log.Info("tracing sign-ins and syncs", zap.String("otlp_endpoint", cfg.Tracing.OTLPEndpoint), zap.Float64("sample_ratio", cfg.Tracing.SampleRatio))
	}

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
	srv, internal, certs, err := newServers(cfg, c, log)
	if err != nil {
		return err
	}
	ln, iln, err := listeners(ctx, opts, cfg)
	if err != nil {
		return err
	}

	// Sign-in methods start (IdP metadata, discovery) beside the listener;
	// /readyz answers 503 until they have.
	ssoCtx, stopSSO := context.WithCancel(ctx)
	defer stopSSO()
	ssoErr := make(chan error, 1)
	go func() { ssoErr <- c.SignIn.Run(ssoCtx) }()

	errc := make(chan error, 2)
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	go func() { errc <- serveOn(srv, ln) }()
	log.Info("dirbridge serving", zap.String("addr", ln.Addr().String()), zap.String("scheme", scheme),
		zap.String("public_url", publicURL), zap.String("version", opts.Version))
	if internal != nil {
		go func() { errc <- serveOn(internal, iln) }()
		log.Info("serving /metrics, /readyz and /api/v1 on the internal listener only",
			zap.String("addr", iln.Addr().String()), zap.String("scheme", scheme))
	}
	// The store is open and migrated (wire.Build) and the listeners
	// accept connections: tell a Type=notify service manager.
	notifyReady(log, ln.Addr().String())
	wdCtx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	watchdog(wdCtx, log)

	rl := &reloader{log: log.Named("reload"), path: opts.ConfigPath, started: cfg, st: c.Store, sync: c.Sync,
		signin: c.SignIn, admin: c.Admin, scim: c.SCIM, level: opts.Level, certs: certs}
	err = wait(ctx, rl, ssoErr, errc, log)
	if err != nil && !errors.Is(err, errSignIn) {
		return err // the server failed: nothing to shut down
	}
	notifyStopping(log)
	if internal != nil {
		err = shutdown(ctx, internal, cfg, log, err)
	}
	return shutdown(ctx, srv, cfg, log, err)
}

// listeners are the public listener and, with server.internal_listen, the
// internal one (nil without); a listener given in opts is used as is.
func listeners(ctx context.Context, opts Options, cfg *config.Config) (ln, iln net.Listener, err error) {
	if ln = opts.Listener; ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Server.Listen); err != nil {
			return nil, nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
		}
	}
	if cfg.Server.InternalListen == "" {
		return ln, nil, nil
	}
	if iln = opts.InternalListener; iln == nil {
		if iln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Server.InternalListen); err != nil {
			_ = ln.Close()
			return nil, nil, fmt.Errorf("listen on server.internal_listen %s: %w", cfg.Server.InternalListen, err)
		}
	}
	return ln, iln, nil
}

// serveOn serves srv on ln, with TLS when srv has a TLS configuration
// (its certificates are in TLSConfig already).
func serveOn(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
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

// newServers are the public HTTP server over c's handlers and, with
// server.internal_listen, the internal one (nil without), both with TLS
// from server.tls (certs re-reads its certificate on SIGHUP; nil without
// TLS) and the server.*_timeout bounds.
func newServers(cfg *config.Config, c *wire.Components, log *zap.Logger) (public, internal *http.Server, certs *certReloader, err error) {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dirbridge_http_requests_total", Help: "HTTP requests by code and method."}, []string{"code", "method"})
	c.Registry.MustRegister(reqs)
	tlsConf, err := wire.ServerTLS(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if tlsConf != nil {
		if certs, err = newCertReloader(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile); err != nil {
			return nil, nil, nil, err
		}
		tlsConf.Certificates, tlsConf.GetCertificate = nil, certs.get
	}
	split := cfg.Server.InternalListen != ""
	h := recoverPanics(log, verifyFast(c.SignIn, promhttp.InstrumentHandlerCounter(reqs, tracing.Middleware(routes(c, split)))))
	public = httpServer(cfg, h, tlsConf, log.Named("http"))
	if split {
		ih := recoverPanics(log, promhttp.InstrumentHandlerCounter(reqs, internalRoutes(c)))
		internal = httpServer(cfg, ih, tlsConf, log.Named("http.internal"))
	}
	return public, internal, certs, nil
}

// httpServer is an http.Server with the configured timeouts. Without a
// read timeout a client trickling a request body holds its connection and
// goroutine for as long as it likes; without an idle timeout so does a
// keep-alive connection that never sends another request.
func httpServer(cfg *config.Config, h http.Handler, tlsConf *tls.Config, log *zap.Logger) *http.Server {
	srv := &http.Server{Handler: h, TLSConfig: tlsConf, ErrorLog: zap.NewStdLog(log),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout, ReadTimeout: cfg.Server.ReadTimeout,
		WriteTimeout: cfg.Server.WriteTimeout, IdleTimeout: cfg.Server.IdleTimeout}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = 10 * time.Second
	}
	return srv
}

// routes is the public mux: the sign-in surface on every path (/login,
// /logout, /auth/verify, /password/*, /saml/*, /oidc/*, /login/certificate),
// My account at / (where a sign-in without a return URL lands), /healthz
// and SCIM provisioning under /scim/v2/ (when configured: the IdPs reach it
// from outside, so it stays public when split); unless split, also /readyz,
// /metrics, the admin API under /api/v1/ and the console under /admin.
// When split (server.internal_listen) those are served by internalRoutes
// only and answer 404 here, except GET /api/v1/me for a browser's session
// and My account's own forms and stylesheet under /admin.
func routes(c *wire.Components, split bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("/", c.SignIn)
	mux.Handle("GET /{$}", c.Console)
	if c.SCIM != nil {
		mux.Handle(scim.Prefix, c.SCIM)
	}
	if split {
		mux.Handle("/api/v1/", http.NotFoundHandler())
		mux.Handle("GET /readyz", http.NotFoundHandler())
		mux.Handle("GET /metrics", http.NotFoundHandler())
		mux.Handle("GET /api/v1/me", sessionOnly(c.SignIn))
		mux.Handle("/admin/", http.NotFoundHandler())
		mux.Handle("GET /admin/static/", c.Console)
		mux.Handle("POST /admin/account/", c.Console)
		return mux
	}
	mux.Handle("GET /readyz", readyz(c))
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", c.Admin)
	mux.Handle("GET /api/v1/me", meHandler(c.Admin, c.SignIn))
	mux.Handle("/admin", c.Console)
	mux.Handle("/admin/", c.Console)
	return mux
}

// internalRoutes is the internal listener's mux: probes, metrics, the
// admin API and the console; nothing of the sign-in surface.
func internalRoutes(c *wire.Components) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(c))
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", c.Admin)
	// The console too: its pages are administration. It reads the browser
	// session the public sign-in made (the listeners share TLS settings,
	// so the cookie reaches both).
	mux.Handle("GET /{$}", c.Console)
	mux.Handle("/admin", c.Console)
	mux.Handle("/admin/", c.Console)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }

// readyz answers 200 once the store is ready and the sign-in methods have
// started; otherwise 503 with the reason (store error text included, which
// is why server.internal_listen can take it off the public listener).
func readyz(c *wire.Components) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
