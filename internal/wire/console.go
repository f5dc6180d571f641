package wire

import (
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/console"
)

// Console builds the administration console over the sign-in service (its
// sessions) and the admin API (every read and change).
func Console(cfg *config.Config, c *Components, logger *zap.Logger) (*console.Console, error) {
	dirs := make([]string, 0, len(cfg.Directories))
	for _, d := range cfg.Directories {
		dirs = append(dirs, d.Name)
	}
	return console.New(console.Options{API: c.Admin, Sessions: c.SignIn, Logger: logger, Directories: dirs,
		Invites: Inviter(c.SignIn, cfg) != nil})
}
