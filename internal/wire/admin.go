package wire

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// AdminDeps are the runtime parts of the admin API the config cannot
// describe. SignIn may be nil: password changes and resets then answer
// 501.
type AdminDeps struct {
	Store     store.Store
	Logger    *zap.Logger
	Catalogue *privilege.Catalogue
	Hasher    *password.Hasher
	Sync      Sync
	SignIn    *sso.Service
	// Scheduler, when set, gives GET /api/v1/directories each
	// directory's next scheduled syncs.
	Scheduler *engine.Scheduler
}

// Admin builds the admin API (/api/v1): sync runs through the Runner,
// entries mapped with the sync's own reloadable mappers (a SIGHUP reload
// reaches both), passwords changed through the sign-in service and the
// directories' sources.
func Admin(cfg *config.Config, deps AdminDeps) (*admin.Server, error) {
	mappings, err := entryMappings(cfg, deps.Sync)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(cfg.Directories))
	for _, d := range cfg.Directories {
		dirs = append(dirs, d.Name)
	}
	opts := admin.Options{Store: deps.Store, Logger: deps.Logger, Privileges: deps.Catalogue, Directories: dirs,
		Hasher: deps.Hasher, TrustedProxies: cfg.Server.TrustedProxyPrefixes(), Mappings: mappings,
		TokenTTL: cfg.API.TokenTTL, PasswordHistory: cfg.Policy.Password.History, Usernames: UsernamePolicy(cfg),
		UserTemplates: AdminUserTemplates(cfg), Inviter: Inviter(deps.SignIn, cfg)}
	for _, p := range cfg.Provisioning {
		opts.Provisioning = append(opts.Provisioning, p.Name)
	}
	if loc, err := cfg.Expiry.Location(); err == nil {
		opts.TimeZone = loc
	}
	if deps.Sync.Runner != nil {
		opts.Sync = syncTrigger{deps.Sync.Runner}
	}
	if deps.Scheduler != nil {
		opts.NextSyncs = nextSyncs(deps.Scheduler)
	}
	opts.Groups = directoryGroups(cfg, deps.Sync.Sources)
	if deps.SignIn != nil {
		opts.Passwords = AdminPasswords(deps.SignIn, deps.Sync.Sources)
		opts.SignInPolicies = signInPolicies(deps.SignIn, cfg.Policy.PasswordReset)
	}
	a, err := admin.New(opts)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	return a, nil
}

// directoryGroups gives the admin API each directory's configured groups
// and, when the daemon reads it, its live group search.
func directoryGroups(cfg *config.Config, sources map[string]*ldap.Source) map[string]admin.DirectoryGroups {
	out := make(map[string]admin.DirectoryGroups, len(cfg.Directories))
	for _, d := range cfg.Directories {
		dg := admin.DirectoryGroups{Configured: slices.Clone(d.Groups)}
		if src, ok := sources[d.Name]; ok {
			dg.Finder = groupFinder{src}
		}
		out[d.Name] = dg
	}
	return out
}

// groupFinder adapts the LDAP/AD source to the admin API's group search.
type groupFinder struct{ src *ldap.Source }

func (f groupFinder) SearchGroups(ctx context.Context, search string) ([]admin.FoundGroup, error) {
	gs, err := f.src.ListGroups(ctx, search)
	if err != nil {
		return nil, err
	}
	out := make([]admin.FoundGroup, len(gs))
	for i, g := range gs {
		out[i] = admin.FoundGroup{Name: g.Name, DN: g.DN, Anchor: g.Anchor, MemberCount: g.MemberCount}
	}
	return out, nil
}

func (f groupFinder) FindGroup(ctx context.Context, ref string) (admin.FoundGroup, error) {
	g, err := f.src.FindGroup(ctx, ref)
	if err != nil {
		return admin.FoundGroup{}, err
	}
	return admin.FoundGroup{Name: g.Name, DN: g.DN, Anchor: g.Anchor, MemberCount: g.MemberCount}, nil
}

// syncTrigger adapts the Runner to the admin API.
type syncTrigger struct{ r *engine.Runner }

func (t syncTrigger) Trigger(ctx context.Context, req admin.SyncRequest) (string, error) {
	id, _, err := t.r.Trigger(ctx, engine.Request{Directory: req.Directory, Full: req.Full, DryRun: req.DryRun,
		Trigger: "manual", AllowMassDeactivation: req.AllowMassDeactivation, Actor: req.Actor})
	return id, err
}

// entryMappings gives the admin API each directory's mapper and link mode,
// for creating local users from imported entries as the sync would.
func entryMappings(cfg *config.Config, s Sync) (map[string]admin.DirectoryMapping, error) {
	out := make(map[string]admin.DirectoryMapping, len(cfg.Directories))
	if s.mappers == nil {
		return out, nil
	}
	for _, d := range cfg.Directories {
		m, ok := s.mappers[d.Name]
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

// AdminUserTemplates is mapping.user_templates for the admin API's user
// creation.
func AdminUserTemplates(cfg *config.Config) map[string]admin.UserTemplate {
	out := make(map[string]admin.UserTemplate, len(cfg.Mapping.UserTemplates))
	for _, t := range cfg.Mapping.UserTemplates {
		out[t.Name] = admin.UserTemplate{State: store.UserState(t.State), Language: t.Language,
			Units: slices.Clone(t.Units), Profile: t.Profile, EmailDomain: t.EmailDomain}
	}
	return out
}

// Inviter is the sign-in service when it can mail set-password links
// (policy.password_reset), else nil: the API then refuses invitations
// with the setting to change.
func Inviter(signin *sso.Service, cfg *config.Config) admin.Inviter {
	if signin == nil || !cfg.Policy.PasswordReset.Enabled {
		return nil
	}
	return signin
}

// AdminPolicies are the administration policies a reload replaces.
func AdminPolicies(cfg *config.Config) admin.Policies {
	return admin.Policies{Usernames: UsernamePolicy(cfg), PasswordHistory: cfg.Policy.Password.History}
}

// signInPolicies reads the sign-in service's policies at each call, so
// GET /api/v1/policy shows a reload at once; whether reset mail is on and
// its hourly limit take a restart, so the starting config has them.
func signInPolicies(signin *sso.Service, reset config.PasswordReset) func() admin.SignInPolicies {
	return func() admin.SignInPolicies {
		p := signin.Policies()
		return admin.SignInPolicies{Password: p.Password, Lockout: p.Lockout, Usernames: p.Usernames,
			ResetEnabled: reset.Enabled, ResetTTL: p.ResetTTL, ResetPerHour: reset.PerHour, IPRules: signin.IPRules()}
	}
}

// nextSyncs adapts the scheduler's schedule to the admin API.
func nextSyncs(s *engine.Scheduler) func(time.Time) map[string]admin.NextSync {
	return func(now time.Time) map[string]admin.NextSync {
		next := s.Next(now)
		out := make(map[string]admin.NextSync, len(next))
		for name, n := range next {
			out[name] = admin.NextSync{Incremental: n.Incremental, Full: n.Full}
		}
		return out
	}
}
