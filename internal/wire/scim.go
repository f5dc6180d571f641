package wire

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/store"
)

// SCIMSources are the provisioning sources of cfg as the SCIM server
// takes them; the fields correspond one to one.
func SCIMSources(cfg *config.Config) []scim.Source {
	out := make([]scim.Source, len(cfg.Provisioning))
	for i, p := range cfg.Provisioning {
		out[i] = scim.Source{Name: p.Name, Preset: p.Preset, DefaultProfile: p.DefaultProfile,
			MaxDeactivationsPerHour: p.MaxDeactivationsPerHour, MaxRequestBytes: p.MaxRequestBytes,
			MaxResults: p.MaxResults, LinkDirectoryUsers: p.LinkDirectoryUsers}
	}
	return out
}

// SCIM builds the SCIM 2.0 service provider for cfg.provisioning; nil
// when no source is configured. logger and reg may be nil.
func SCIM(cfg *config.Config, st store.Store, logger *zap.Logger, reg prometheus.Registerer) (*scim.Server, error) {
	if len(cfg.Provisioning) == 0 {
		return nil, nil
	}
	publicURL, _ := PublicURL(cfg)
	return scim.New(scim.Options{Store: st, Sources: SCIMSources(cfg), Rules: cfg.ProvisioningRules(),
		PublicURL: publicURL, Logger: logger, Registerer: reg})
}
