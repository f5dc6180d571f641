package daemon

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

func toRules(rs []config.Rule, ref string) []mapping.Rule {
	out := make([]mapping.Rule, 0, len(rs))
	for i, r := range rs {
		mr := mapping.Rule{Name: r.Name, Group: r.Group, Directory: r.Directory, Profile: r.Profile, Units: r.Units, Flags: r.Flags}
		if ref != "" {
			mr.Ref = fmt.Sprintf("%s %d", ref, i+1)
		}
		out = append(out, mr)
	}
	return out
}

// BuildRunner makes the sync engine's Runner from the config: one LDAP/AD
// source and one mapper per directory. The sources are returned too: the
// sign-in service checks directory passwords through them.
func BuildRunner(cfg *config.Config, st store.Store, log *zap.Logger, reg prometheus.Registerer) (*engine.Runner, map[string]*ldap.Source, error) {
	var dirs []engine.Directory
	sources := map[string]*ldap.Source{}
	for _, d := range cfg.Directories {
		src, err := ldap.New(ldap.Config{Name: d.Name, Kind: d.Kind, URLs: d.URLs, StartTLS: d.StartTLS, CAFile: d.CAFile,
			ClientCertFile: d.ClientCertFile, ClientKeyFile: d.ClientKeyFile, InsecureSkipVerify: d.InsecureSkipVerify,
			BindDN: d.BindDN, BindPassword: d.BindPassword.Value(), BaseDN: d.BaseDN, UserBaseDN: d.UserBaseDN,
			GroupBaseDN: d.GroupBaseDN, PageSize: d.PageSize, RangeSize: d.RangeSize, ConnectTimeout: d.ConnectTimeout,
			ReadTimeout: d.ReadTimeout, ExtraAttributes: d.Attributes, DisabledFilter: d.DisabledFilter, UserFilter: d.UserFilter,
			ReadPasswordExpiry: d.IsAD(), AllowPlainPassthrough: d.AllowPlainPassthrough, IncrementalOverlap: d.IncrementalOverlap,
			Logger: log.Named("ldap").With(zap.String("directory", d.Name))})
		if err != nil {
			return nil, nil, fmt.Errorf("directory %s: %w", d.Name, err)
		}
		sources[d.Name] = src
		mc := mapping.Config{Directory: d.Name, DefaultProfile: d.DefaultProfile,
			Rules:     mapping.CombineRules(d.Name, toRules(d.Mapping.Rules, "directory rule"), toRules(cfg.Mapping.Rules, "")),
			Templates: mapping.TemplatesFromMap(cfg.Mapping.Templates, d.Mapping.Templates)}
		for _, ut := range cfg.Mapping.UserTemplates {
			if ut.Name == d.UserTemplate && d.UserTemplate != "" {
				mc.UserTemplate = &mapping.UserTemplate{Name: ut.Name, State: store.UserState(ut.State), Language: ut.Language,
					Units: ut.Units, Profile: ut.Profile, EmailDomain: ut.EmailDomain}
			}
		}
		m, err := mapping.NewMapper(mc)
		if err != nil {
			return nil, nil, fmt.Errorf("directory %s: mapping: %w", d.Name, err)
		}
		linkBy, err := mapping.ParseLinkBy(d.LinkBy)
		if err != nil {
			return nil, nil, fmt.Errorf("directory %s: link_by: %w", d.Name, err)
		}
		dirs = append(dirs, engine.Directory{Name: d.Name, Source: src, Groups: d.Groups, Mapper: m, LinkBy: linkBy,
			Limits:   engine.Limits{MaxCount: d.MaxDeactivations.Count, MaxPercent: d.MaxDeactivations.Percent},
			Schedule: d.Schedule, FullSchedule: d.FullSchedule, RunAtStart: d.SyncOnStart})
	}
	r, err := engine.NewRunner(st, dirs, engine.Options{Logger: log, Registerer: reg})
	if err != nil {
		return nil, nil, fmt.Errorf("sync runner: %w", err)
	}
	return r, sources, nil
}

// syncTrigger adapts the Runner to the admin API.
type syncTrigger struct{ r *engine.Runner }

func (t syncTrigger) Trigger(ctx context.Context, req admin.SyncRequest) (string, error) {
	id, _, err := t.r.Trigger(ctx, engine.Request{Directory: req.Directory, Full: req.Full, DryRun: req.DryRun,
		Trigger: "manual", AllowMassDeactivation: req.AllowMassDeactivation, Actor: req.Actor})
	return id, err
}
