package daemon

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// BuildRunner makes the sync engine's Runner from the config: one LDAP/AD
// source and one mapper per directory (internal/wire does the conversion).
// The sources are returned too: the sign-in service checks directory
// passwords through them.
func BuildRunner(cfg *config.Config, st store.Store, log *zap.Logger, reg prometheus.Registerer) (*engine.Runner, map[string]*ldap.Source, error) {
	s, err := wire.Runner(cfg, st, log, reg)
	if err != nil {
		return nil, nil, err
	}
	return s.Runner, s.Sources, nil
}

// syncTrigger adapts the Runner to the admin API.
type syncTrigger struct{ r *engine.Runner }

func (t syncTrigger) Trigger(ctx context.Context, req admin.SyncRequest) (string, error) {
	id, _, err := t.r.Trigger(ctx, engine.Request{Directory: req.Directory, Full: req.Full, DryRun: req.DryRun,
		Trigger: "manual", AllowMassDeactivation: req.AllowMassDeactivation, Actor: req.Actor})
	return id, err
}

// entryMappings gives the admin API each directory's mapper and link mode,
// for creating local users from imported entries as the sync would. The
// sync's reloadable mappers are shared, so a SIGHUP reload reaches both.
func entryMappings(cfg *config.Config, mappers map[string]*swapMapper) (map[string]admin.DirectoryMapping, error) {
	out := make(map[string]admin.DirectoryMapping, len(cfg.Directories))
	for _, d := range cfg.Directories {
		m, ok := mappers[d.Name]
		if !ok {
			return nil, fmt.Errorf("directory %s: no mapper", d.Name)
		}
		linkBy, err := mapping.ParseLinkBy(d.LinkBy)
		if err != nil {
			return nil, fmt.Errorf("directory %s: link_by: %w", d.Name, err)
		}
		out[d.Name] = admin.DirectoryMapping{Mapper: m, LinkBy: linkBy}
	}
	return out, nil
}
