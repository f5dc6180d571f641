package wire

import (
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/console"
)

// Console builds the administration console over the sign-in service (its
// sessions), the admin API (every read and change) and, when configured,
// the SCIM provisioning sources' status.
func Console(cfg *config.Config, c *Components, logger *zap.Logger) (*console.Console, error) {
	dirs := make([]string, 0, len(cfg.Directories))
	for _, d := range cfg.Directories {
		dirs = append(dirs, d.Name)
	}
	opts := console.Options{API: c.Admin, Sessions: c.SignIn, Logger: logger, Directories: dirs,
		Invites: Inviter(c.SignIn, cfg) != nil}
	if c.SCIM != nil {
		opts.Provisioning = c.SCIM.Status
	}
	return console.New(opts)
}
