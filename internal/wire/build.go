package wire

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/console"
	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// Components are the daemon's parts for one config, built and not yet
// started: the caller starts the schedulers and the sign-in methods, serves
// the handlers and calls Close at the end.
type Components struct {
	Store     store.Store
	Catalogue *privilege.Catalogue
	Hasher    *password.Hasher
	// Registry holds every component's metrics and the Go runtime's.
	Registry  *prometheus.Registry
	Sync      Sync
	Scheduler *engine.Scheduler
	// Expiry schedules the password-expiry notices; nil unless
	// expiry.enabled. Every replica schedules, the store lease lets one
	// of them send.
	Expiry *expiry.Scheduler
	// SignIn owns every sign-in path; Run it to start its methods (IdP
	// metadata, OIDC discovery).
	SignIn *sso.Service
	Admin  *admin.Server
	// SCIM serves /scim/v2/ for the provisioning sources; nil when the
	// config has none.
	SCIM *scim.Server
	// Console is the administration console (/admin) and My account (/).
	Console *console.Console
}

// Build opens the store (applying migrations), seeds the config's
// profiles and builds every other component over it. logger may be nil;
// the components name their own loggers.
func Build(ctx context.Context, cfg *config.Config, logger *zap.Logger) (c *Components, err error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	c = &Components{}
	defer func() {
		if err != nil {
			_ = c.Close() // the build's error is the one to report
			c = nil
		}
	}()
	if c.Store, err = Store(ctx, cfg); err != nil {
		return nil, err
	}
	if err = SeedProfiles(ctx, c.Store, cfg, time.Now()); err != nil {
		return nil, err
	}
	if c.Catalogue, err = cfg.Catalogue(); err != nil {
		return nil, err
	}
	if c.Hasher, err = Hasher(cfg); err != nil {
		return nil, err
	}
	c.Registry = Registry()
	if c.Sync, err = Runner(cfg, c.Store, logger, c.Registry); err != nil {
		return nil, err
	}
	if c.Scheduler, err = Scheduler(c.Sync.Runner, c.Store, logger); err != nil {
		return nil, err
	}
	if cfg.Expiry.Enabled {
		job, err := ExpiryJob(cfg, c.Store, logger, c.Registry)
		if err != nil {
			return nil, err
		}
		if c.Expiry, err = ExpiryScheduler(cfg, job, ""); err != nil {
			return nil, err
		}
	}
	checkers, changers := c.Sync.PasswordCheckers()
	c.SignIn, err = SSO(cfg, SSODeps{Store: c.Store, Logger: logger, Hasher: c.Hasher, Directories: checkers, Changers: changers,
		Extend: func(o *sso.Options) { o.Catalogue, o.Registerer = c.Catalogue, c.Registry }})
	if err != nil {
		return nil, fmt.Errorf("sign-in service: %w", err)
	}
	// The admin API changes and resets passwords through the sign-in
	// service and the directories' sources, so it comes last.
	c.Admin, err = Admin(cfg, AdminDeps{Store: c.Store, Logger: logger, Catalogue: c.Catalogue, Hasher: c.Hasher,
		Sync: c.Sync, SignIn: c.SignIn, Scheduler: c.Scheduler})
	if err != nil {
		return nil, err
	}
	if c.SCIM, err = SCIM(cfg, c.Store, logger, c.Registry); err != nil {
		return nil, err
	}
	if c.Console, err = Console(cfg, c, logger); err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops the Runner's background runs and closes the store. The
// schedulers and the sign-in methods are the caller's to stop first.
func (c *Components) Close() error {
	if c.Sync.Runner != nil {
		c.Sync.Runner.Close()
	}
	if c.Store == nil {
		return nil
	}
	if err := c.Store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}
